//! A two-level CA hierarchy: a self-signed root and one issuing CA below it.

use std::time::{Duration, SystemTime};

use der::asn1::ObjectIdentifier;
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::cert::{
    build_name, extension, key_identifier, random_serial, sign_certificate, CertificateTemplate,
    NameValue, MAX_COMMON_NAME_CHARS, OID_COMMON_NAME, OID_COUNTRY, OID_ORGANIZATION,
};
use crate::{Algorithm, PkiError, Signer, SoftwareKey};

pub(crate) const OID_BASIC_CONSTRAINTS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.19");
pub(crate) const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
pub(crate) const OID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
pub(crate) const OID_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const ROOT_LIFETIME: Duration = Duration::from_secs(20 * 365 * 24 * 60 * 60);
const ISSUING_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// A root CA and the issuing CA it certified, with both private keys in memory.
pub struct CaHierarchy {
    pub algorithm: Algorithm,
    pub root_key: SoftwareKey,
    pub root_cert: Certificate,
    pub issuing_key: SoftwareKey,
    pub issuing_cert: Certificate,
}

impl std::fmt::Debug for CaHierarchy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaHierarchy")
            .field("algorithm", &self.algorithm)
            .field(
                "root",
                &self.root_cert.tbs_certificate().subject().to_string(),
            )
            .field(
                "issuing",
                &self.issuing_cert.tbs_certificate().subject().to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl CaHierarchy {
    /// Generates fresh keys and certificates: "C=CN, O={prefix}, CN={prefix} SM2 Root CA"
    /// (valid 20 years, no path length limit) and "... Issuing CA" (10 years, pathLen 0).
    /// Validity starts a day back so that clocks running slow elsewhere accept the CAs.
    pub fn generate(algorithm: Algorithm, name_prefix: &str) -> Result<Self, PkiError> {
        Self::generate_with_root(SoftwareKey::generate(algorithm)?, name_prefix)
    }

    /// [`CaHierarchy::generate`] around a root key made before (kept offline first, so that a
    /// crash before the hierarchy is stored loses nothing).
    pub fn generate_with_root(root_key: SoftwareKey, name_prefix: &str) -> Result<Self, PkiError> {
        let algorithm = root_key.algorithm();
        let name_prefix = name_prefix.trim();
        if name_prefix.is_empty() {
            return Err(PkiError::InvalidRequest("empty CA name prefix".into()));
        }
        let now = SystemTime::now();
        let not_before = now - DAY;

        let root_name = ca_name(name_prefix, algorithm, "Root CA")?;
        let root_ski = key_identifier(root_key.public_key_spki())?;
        let root_cert = sign_certificate(
            CertificateTemplate {
                subject: root_name.clone(),
                issuer: root_name.clone(),
                subject_public_key: root_key.public_key_spki().clone(),
                serial: random_serial()?,
                not_before,
                not_after: now + ROOT_LIFETIME,
                extensions: vec![
                    extension(
                        OID_BASIC_CONSTRAINTS,
                        true,
                        &BasicConstraints {
                            ca: true,
                            path_len_constraint: None,
                        },
                    )?,
                    extension(OID_KEY_USAGE, true, &ca_key_usage())?,
                    extension(
                        OID_SUBJECT_KEY_ID,
                        false,
                        &SubjectKeyIdentifier(root_ski.clone()),
                    )?,
                    // Optional in a self-signed certificate (RFC 5280 §4.2.1.1), but linters
                    // that cannot verify SM2 self-signatures want it to identify the root.
                    extension(
                        OID_AUTHORITY_KEY_ID,
                        false,
                        &AuthorityKeyIdentifier {
                            key_identifier: Some(root_ski),
                            authority_cert_issuer: None,
                            authority_cert_serial_number: None,
                        },
                    )?,
                ],
            },
            &root_key,
        )?;

        let issuing_key = SoftwareKey::generate(algorithm)?;
        let issuing_cert = certify_subordinate(
            &root_key,
            &root_cert,
            &issuing_key,
            ca_name(name_prefix, algorithm, "Issuing CA")?,
            not_before,
            now + ISSUING_LIFETIME,
        )?;

        Ok(CaHierarchy {
            algorithm,
            root_key,
            root_cert,
            issuing_key,
            issuing_cert,
        })
    }
}

/// Certifies `issuing_signer` (a key held anywhere: memory, a PKCS#11 token) as an issuing CA
/// below an existing root: "C=CN, O={prefix}, CN={prefix} P-256 Issuing CA", valid 10 years
/// from a day back, pathLen 0 — the same profile [`CaHierarchy::generate`] issues.
pub fn certify_issuing_ca(
    root_signer: &dyn Signer,
    root_cert: &Certificate,
    issuing_signer: &dyn Signer,
    name_prefix: &str,
) -> Result<Certificate, PkiError> {
    let name_prefix = name_prefix.trim();
    if name_prefix.is_empty() {
        return Err(PkiError::InvalidRequest("empty CA name prefix".into()));
    }
    if root_cert.tbs_certificate().subject_public_key_info() != root_signer.public_key_spki() {
        return Err(PkiError::InvalidRequest(
            "the root certificate does not belong to the signing key".into(),
        ));
    }
    let algorithm = root_signer.algorithm();
    if issuing_signer.algorithm() != algorithm {
        return Err(PkiError::AlgorithmMismatch {
            expected: algorithm,
            found: issuing_signer.algorithm(),
        });
    }
    let now = SystemTime::now();
    certify_subordinate(
        root_signer,
        root_cert,
        issuing_signer,
        ca_name(name_prefix, algorithm, "Issuing CA")?,
        now - DAY,
        now + ISSUING_LIFETIME,
    )
}

/// keyCertSign and cRLSign only: the CA keys sign certificates and CRLs, nothing else.
fn ca_key_usage() -> KeyUsage {
    KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)
}

fn ca_name(prefix: &str, algorithm: Algorithm, role: &str) -> Result<Name, PkiError> {
    let common_name = format!("{prefix} {} {role}", algorithm.label());
    if common_name.chars().count() > MAX_COMMON_NAME_CHARS {
        return Err(PkiError::InvalidRequest(format!(
            "CA name {common_name:?} is longer than {MAX_COMMON_NAME_CHARS} characters"
        )));
    }
    build_name(&[
        (OID_COUNTRY, NameValue::Printable("CN")),
        (OID_ORGANIZATION, NameValue::Utf8(prefix)),
        (OID_COMMON_NAME, NameValue::Utf8(&common_name)),
    ])
}

/// The AKI of a certificate issued by `issuer_cert`: the issuer's own key identifier.
pub(crate) fn authority_key_identifier(
    issuer_cert: &Certificate,
) -> Result<AuthorityKeyIdentifier, PkiError> {
    let key_id = key_identifier(issuer_cert.tbs_certificate().subject_public_key_info())?;
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(key_id),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

fn certify_subordinate(
    root_key: &dyn Signer,
    root_cert: &Certificate,
    subordinate_key: &dyn Signer,
    subject: Name,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate, PkiError> {
    let spki = subordinate_key.public_key_spki().clone();
    let ski = key_identifier(&spki)?;
    sign_certificate(
        CertificateTemplate {
            subject,
            issuer: root_cert.tbs_certificate().subject().clone(),
            subject_public_key: spki,
            serial: random_serial()?,
            not_before,
            not_after,
            extensions: vec![
                extension(
                    OID_BASIC_CONSTRAINTS,
                    true,
                    &BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(0),
                    },
                )?,
                extension(OID_KEY_USAGE, true, &ca_key_usage())?,
                extension(OID_SUBJECT_KEY_ID, false, &SubjectKeyIdentifier(ski))?,
                extension(
                    OID_AUTHORITY_KEY_ID,
                    false,
                    &authority_key_identifier(root_cert)?,
                )?,
            ],
        },
        root_key,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::certificate_to_pem;
    use crate::test_support::{openssl, openssl_sm2_verify_raw, openssl_status, TempDir};
    use crate::verify_certificate_signature;
    use der::Encode;

    #[test]
    fn hierarchies_chain_and_carry_ca_profiles() {
        let dir = TempDir::new("ca");
        for algorithm in Algorithm::ALL {
            let ca = CaHierarchy::generate(algorithm, "certdesk").expect("generate");
            verify_certificate_signature(&ca.root_cert, &ca.root_cert).expect("root self-sig");
            verify_certificate_signature(&ca.issuing_cert, &ca.root_cert).expect("issuing sig");
            let err = verify_certificate_signature(&ca.root_cert, &ca.issuing_cert)
                .expect_err("wrong issuer key");
            assert!(matches!(err, PkiError::BadSignature(_)), "{err}");

            let subject = ca.root_cert.tbs_certificate().subject().to_string();
            assert_eq!(
                subject,
                format!("CN=certdesk {} Root CA,O=certdesk,C=CN", algorithm.label())
            );

            let root = dir.write(
                &format!("{}-root.pem", algorithm.slug()),
                certificate_to_pem(&ca.root_cert).expect("pem").as_bytes(),
            );
            let issuing = dir.write(
                &format!("{}-issuing.pem", algorithm.slug()),
                certificate_to_pem(&ca.issuing_cert)
                    .expect("pem")
                    .as_bytes(),
            );
            let text = openssl(&["x509", "-in", issuing.as_str(), "-noout", "-text"]);
            assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
            assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
            assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");

            if algorithm == Algorithm::EcdsaP256Sha256 {
                // OpenSSL checks the whole chain, root self-signature included.
                let out = openssl(&["verify", "-CAfile", root.as_str(), issuing.as_str()]);
                assert!(out.contains(": OK"), "{out}");
            } else {
                // OpenSSL 3.0 applies `-vfyopt distid:` only to the target certificate, and
                // never to a trust anchor's self-signature (`-check_ss_sig` then fails). So the
                // root's self-signature is checked with `pkeyutl -verify -rawin`, and the
                // issuing CA's signature with the issuing CA as the target.
                let root_spki = ca.root_cert.tbs_certificate().subject_public_key_info();
                let tbs = ca.root_cert.tbs_certificate().to_der().expect("tbs");
                let sig = ca.root_cert.signature().raw_bytes();
                assert!(openssl_sm2_verify_raw(&dir, root_spki, &tbs, sig));
                assert!(!openssl_sm2_verify_raw(&dir, root_spki, &tbs[1..], sig));
                let out = openssl(&[
                    "verify",
                    "-vfyopt",
                    "distid:1234567812345678",
                    "-CAfile",
                    root.as_str(),
                    issuing.as_str(),
                ]);
                assert!(out.contains(": OK"), "{out}");
            }
            // A chain must not verify against an unrelated root.
            let other = CaHierarchy::generate(algorithm, "other").expect("other");
            let other_root = dir.write(
                &format!("{}-other-root.pem", algorithm.slug()),
                certificate_to_pem(&other.root_cert)
                    .expect("pem")
                    .as_bytes(),
            );
            let (ok, _, _) = openssl_status(&[
                "verify",
                "-vfyopt",
                "distid:1234567812345678",
                "-CAfile",
                other_root.as_str(),
                issuing.as_str(),
            ]);
            assert!(!ok);
        }
    }

    #[test]
    fn refuses_empty_or_overlong_prefix() {
        assert!(matches!(
            CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "  "),
            Err(PkiError::InvalidRequest(_))
        ));
        assert!(matches!(
            CaHierarchy::generate(Algorithm::EcdsaP256Sha256, &"x".repeat(60)),
            Err(PkiError::InvalidRequest(_))
        ));
    }
}
