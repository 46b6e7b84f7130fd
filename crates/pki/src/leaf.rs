//! End-entity certificates for organisations: the signing and the encryption certificate.

use std::time::SystemTime;

use der::asn1::{ObjectIdentifier, PrintableStringRef};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::DistributionPointName;
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::serial_number::SerialNumber;

use crate::ca::{
    authority_key_identifier, OID_AUTHORITY_KEY_ID, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE,
    OID_SUBJECT_KEY_ID,
};
use crate::cert::{
    build_name, extension, key_identifier, sign_certificate, uri, CertificateTemplate, NameValue,
    MAX_COMMON_NAME_CHARS, MAX_ORGANIZATION_CHARS, OID_COMMON_NAME, OID_COUNTRY, OID_ORGANIZATION,
    OID_SERIAL_NUMBER,
};
use crate::{Algorithm, PkiError, Signer, VerifiedCsr};

/// The certificate policy written when the operator has not named theirs: under PEN 32473,
/// which RFC 5612 reserves for documentation, so it names no one's real policy (an
/// enterprise number we do not hold would claim someone else's). A CA that issues for real
/// sets the OID its CPS registers (`--policy-oid`).
pub const PLACEHOLDER_POLICY_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.1");

/// RFC 5280's anyPolicy: says nothing when an end-entity certificate carries it.
const OID_ANY_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32.0");

/// Reads a certificate policy OID as an operator writes it (`1.2.156.xxxx.1.1`), refusing
/// what cannot name a policy of ours: a malformed OID, or anyPolicy.
pub fn parse_policy_oid(text: &str) -> Result<ObjectIdentifier, PkiError> {
    let oid = ObjectIdentifier::new(text.trim()).map_err(|e| PkiError::Malformed {
        what: "certificate policy OID",
        detail: format!("'{text}' is not a dotted OID such as 1.2.156.112562.1.1 ({e})"),
    })?;
    if oid == OID_ANY_POLICY {
        return Err(PkiError::Malformed {
            what: "certificate policy OID",
            detail: "2.5.29.32.0 is anyPolicy, which names no policy in an organisation's \
                     certificate; give the OID of this CA's certificate policy"
                .into(),
        });
    }
    Ok(oid)
}

/// Where Chinese CAs carry the unified social credit code (统一社会信用代码), as a
/// PrintableString.
pub const OID_CREDIT_CODE_EXTENSION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.156.10260.4.1.4");

const OID_CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
const OID_CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const OID_AUTHORITY_INFO_ACCESS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const OID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// Length of a unified social credit code (GB 32100).
const CREDIT_CODE_LEN: usize = 18;

/// Which of an organisation's two certificates (GM/T 0015 dual certificates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafProfile {
    /// Signing certificate: digitalSignature, nonRepudiation.
    Sign,
    /// Encryption certificate: keyAgreement (RFC 8813 for id-ecPublicKey keys, SM2 included).
    Enc,
}

/// What the registration authority decided to certify.
#[derive(Debug, Clone)]
pub struct LeafRequest {
    pub profile: LeafProfile,
    pub org_name: String,
    /// Unified social credit code; checked for form here (18 PrintableString characters),
    /// for its check digit by the domain validators.
    pub credit_code: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub serial: SerialNumber,
    /// e.g. `http://ca.example.cn`; CRL, OCSP and CA-certificate URLs hang below it.
    pub base_url: String,
    /// The issuing CA's name in those URLs (`{base_url}/crl/{name}.crl`, `/ca/{name}.cer`);
    /// `None`: the algorithm's slug, the name of an algorithm's first issuing CA.
    pub ca_name: Option<String>,
    /// The certificate policy the CA's CPS names (certificatePolicies).
    pub policy: ObjectIdentifier,
}

/// Issues an organisation certificate for the key proved by `csr`, signed by the issuing CA.
///
/// The subject is built from `request` (C=CN, O=CN=org name, serialNumber=credit code), not
/// taken from the CSR. The CSR's algorithm must match the issuing CA's.
pub fn issue_leaf(
    issuing_ca_signer: &dyn Signer,
    issuing_ca_cert: &Certificate,
    csr: &VerifiedCsr,
    request: &LeafRequest,
) -> Result<Certificate, PkiError> {
    issue_leaf_for_key(
        issuing_ca_signer,
        issuing_ca_cert,
        csr.algorithm,
        &csr.public_key,
        request,
    )
}

/// [`issue_leaf`] for a public key whose possession is established otherwise: the CA's key
/// management made the key pair itself (dual certificates' encryption key).
pub(crate) fn issue_leaf_for_key(
    issuing_ca_signer: &dyn Signer,
    issuing_ca_cert: &Certificate,
    key_algorithm: Algorithm,
    public_key: &SubjectPublicKeyInfoOwned,
    request: &LeafRequest,
) -> Result<Certificate, PkiError> {
    let algorithm = issuing_ca_signer.algorithm();
    if key_algorithm != algorithm {
        return Err(PkiError::AlgorithmMismatch {
            expected: algorithm,
            found: key_algorithm,
        });
    }
    if issuing_ca_cert.tbs_certificate().subject_public_key_info()
        != issuing_ca_signer.public_key_spki()
    {
        return Err(PkiError::InvalidRequest(
            "the issuing CA certificate does not belong to the signing key".into(),
        ));
    }
    let org_name = request.org_name.trim();
    check_org_name(org_name)?;
    check_credit_code(&request.credit_code)?;
    let base_url = check_base_url(&request.base_url)?;

    let subject = build_name(&[
        (OID_COUNTRY, NameValue::Printable("CN")),
        (OID_ORGANIZATION, NameValue::Utf8(org_name)),
        (OID_COMMON_NAME, NameValue::Utf8(org_name)),
        (
            OID_SERIAL_NUMBER,
            NameValue::Printable(&request.credit_code),
        ),
    ])?;
    let credit_code = PrintableStringRef::new(&request.credit_code)
        .map_err(|e| PkiError::InvalidRequest(e.to_string()))?;
    let slug = request.ca_name.as_deref().unwrap_or(algorithm.slug());
    let extensions = vec![
        extension(
            OID_BASIC_CONSTRAINTS,
            true,
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        )?,
        extension(OID_KEY_USAGE, true, &key_usage(request.profile, algorithm))?,
        extension(
            OID_SUBJECT_KEY_ID,
            false,
            &SubjectKeyIdentifier(key_identifier(public_key)?),
        )?,
        extension(
            OID_AUTHORITY_KEY_ID,
            false,
            &authority_key_identifier(issuing_ca_cert)?,
        )?,
        extension(
            OID_CERTIFICATE_POLICIES,
            false,
            &CertificatePolicies(vec![PolicyInformation {
                policy_identifier: request.policy,
                policy_qualifiers: None,
            }]),
        )?,
        extension(
            OID_CRL_DISTRIBUTION_POINTS,
            false,
            &CrlDistributionPoints(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![uri(&format!(
                    "{base_url}/crl/{slug}.crl"
                ))?])),
                reasons: None,
                crl_issuer: None,
            }]),
        )?,
        extension(
            OID_AUTHORITY_INFO_ACCESS,
            false,
            &AuthorityInfoAccessSyntax(vec![
                AccessDescription {
                    access_method: OID_AD_OCSP,
                    access_location: uri(&format!("{base_url}/ocsp"))?,
                },
                AccessDescription {
                    access_method: OID_AD_CA_ISSUERS,
                    access_location: uri(&format!("{base_url}/ca/{slug}.cer"))?,
                },
            ]),
        )?,
        extension(OID_CREDIT_CODE_EXTENSION, false, &credit_code)?,
    ];
    sign_certificate(
        CertificateTemplate {
            subject,
            issuer: issuing_ca_cert.tbs_certificate().subject().clone(),
            subject_public_key: public_key.clone(),
            serial: request.serial.clone(),
            not_before: request.not_before,
            not_after: request.not_after,
            extensions,
        },
        issuing_ca_signer,
    )
}

/// Sign: digitalSignature + nonRepudiation for both algorithms.
///
/// Enc: keyAgreement alone, for SM2 as for P-256. GM/T 0015 lists keyEncipherment,
/// dataEncipherment and keyAgreement for encryption certificates, but SM2 keys are carried as
/// id-ecPublicKey and RFC 8813 §3 forbids keyEncipherment and dataEncipherment on those
/// (pkilint reports it as an ERROR). SM2 encryption (GB/T 32918.4) is an ephemeral-static
/// key agreement followed by a KDF, so keyAgreement names what the key does; the envelope
/// that delivers the encryption key does not depend on the bits, and a UKey keeps its
/// signing and encryption certificates in separate slots, so nothing tells them apart by
/// keyEncipherment.
fn key_usage(profile: LeafProfile, algorithm: Algorithm) -> KeyUsage {
    match (profile, algorithm) {
        (LeafProfile::Sign, _) => KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
        (LeafProfile::Enc, Algorithm::Sm2Sm3 | Algorithm::EcdsaP256Sha256) => {
            KeyUsage(KeyUsages::KeyAgreement.into())
        }
        // Not reached today (CSRs with RSA keys are refused); RFC 8017 key transport if ever.
        (LeafProfile::Enc, Algorithm::RsaSha256) => KeyUsage(KeyUsages::KeyEncipherment.into()),
    }
}

fn check_org_name(org_name: &str) -> Result<(), PkiError> {
    let chars = org_name.chars().count();
    if chars == 0 {
        return Err(PkiError::InvalidRequest("empty organisation name".into()));
    }
    if chars > MAX_ORGANIZATION_CHARS.min(MAX_COMMON_NAME_CHARS) {
        return Err(PkiError::InvalidRequest(format!(
            "organisation name has {chars} characters, at most {MAX_ORGANIZATION_CHARS} fit"
        )));
    }
    if org_name.chars().any(char::is_control) {
        return Err(PkiError::InvalidRequest(
            "organisation name contains control characters".into(),
        ));
    }
    Ok(())
}

fn check_credit_code(code: &str) -> Result<(), PkiError> {
    if code.len() != CREDIT_CODE_LEN
        || !code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err(PkiError::InvalidRequest(format!(
            "credit code {code:?} is not 18 digits and capital letters"
        )));
    }
    Ok(())
}

/// Returns the URL without a trailing slash; only http(s) URLs with a host are accepted.
fn check_base_url(url: &str) -> Result<&str, PkiError> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && url.is_ascii() && !url.contains(char::is_whitespace) => {
            Ok(url)
        }
        _ => Err(PkiError::InvalidRequest(format!(
            "base URL {url:?} must be an http:// or https:// URL in ASCII"
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cert::certificate_to_pem;
    use crate::csr::{make_csr, parse_and_verify_csr};
    use crate::test_support::{openssl, openssl_status, TempDir};
    use crate::{random_serial, CaHierarchy, SoftwareKey};
    use std::time::Duration;

    pub(crate) const CREDIT_CODE: &str = "91350100M000100Y43";
    const ORG: &str = "福州测试科技有限公司";

    pub(crate) fn leaf_request(profile: LeafProfile) -> LeafRequest {
        let now = SystemTime::now();
        LeafRequest {
            profile,
            org_name: ORG.into(),
            credit_code: CREDIT_CODE.into(),
            not_before: now - Duration::from_secs(60),
            not_after: now + Duration::from_secs(365 * 24 * 3600),
            serial: random_serial().expect("serial"),
            base_url: "http://ca.certdesk.test/".into(),
            ca_name: None,
            policy: PLACEHOLDER_POLICY_OID,
        }
    }

    fn csr_for(algorithm: Algorithm) -> VerifiedCsr {
        let key = SoftwareKey::generate(algorithm).expect("key");
        let der = make_csr(&key, crate::csr::tests::subject()).expect("csr");
        parse_and_verify_csr(&der).expect("verified")
    }

    #[test]
    fn leaves_verify_in_openssl_with_expected_extensions() {
        let dir = TempDir::new("leaf");
        for algorithm in Algorithm::ALL {
            let ca = CaHierarchy::generate(algorithm, "certdesk").expect("ca");
            let slug = algorithm.slug();
            let root = dir.write(
                &format!("{slug}-root.pem"),
                certificate_to_pem(&ca.root_cert).expect("pem").as_bytes(),
            );
            let issuing = dir.write(
                &format!("{slug}-issuing.pem"),
                certificate_to_pem(&ca.issuing_cert)
                    .expect("pem")
                    .as_bytes(),
            );
            for profile in [LeafProfile::Sign, LeafProfile::Enc] {
                let csr = csr_for(algorithm);
                let request = leaf_request(profile);
                let leaf =
                    issue_leaf(&ca.issuing_key, &ca.issuing_cert, &csr, &request).expect("issue");
                crate::verify_certificate_signature(&leaf, &ca.issuing_cert).expect("own verify");
                let leaf_path = dir.write(
                    &format!("{slug}-{profile:?}.pem"),
                    certificate_to_pem(&leaf).expect("pem").as_bytes(),
                );

                match algorithm {
                    Algorithm::EcdsaP256Sha256 => {
                        // Full chain, every signature checked by OpenSSL.
                        let out = openssl(&[
                            "verify",
                            "-CAfile",
                            root.as_str(),
                            "-untrusted",
                            issuing.as_str(),
                            leaf_path.as_str(),
                        ]);
                        assert!(out.contains(": OK"), "{out}");
                    }
                    Algorithm::RsaSha256 => unreachable!("no RSA CA: not in Algorithm::ALL"),
                    Algorithm::Sm2Sm3 => {
                        // OpenSSL 3.0 applies -vfyopt distid only to the target certificate's
                        // signature. So: (1) leaf against the issuing CA as a partial-chain
                        // anchor, (2) issuing CA against the root as above in ca.rs. The
                        // root's self-signature is ours to check (verify_certificate_signature).
                        let out = openssl(&[
                            "verify",
                            "-vfyopt",
                            "distid:1234567812345678",
                            "-partial_chain",
                            "-CAfile",
                            issuing.as_str(),
                            leaf_path.as_str(),
                        ]);
                        assert!(out.contains(": OK"), "{out}");
                        let out = openssl(&[
                            "verify",
                            "-vfyopt",
                            "distid:1234567812345678",
                            "-CAfile",
                            root.as_str(),
                            issuing.as_str(),
                        ]);
                        assert!(out.contains(": OK"), "{out}");
                        // Without the ID OpenSSL must refuse: proves we sign with it.
                        let (ok, _, _) = openssl_status(&[
                            "verify",
                            "-partial_chain",
                            "-CAfile",
                            issuing.as_str(),
                            leaf_path.as_str(),
                        ]);
                        assert!(!ok, "SM2 leaf verified with an empty ID");
                    }
                }

                let text = openssl(&[
                    "x509",
                    "-in",
                    leaf_path.as_str(),
                    "-noout",
                    "-text",
                    "-nameopt",
                    "utf8,sep_comma_plus_space",
                ]);
                let expect_usage = match (profile, algorithm) {
                    (LeafProfile::Sign, _) => "Digital Signature, Non Repudiation\n",
                    (LeafProfile::Enc, Algorithm::Sm2Sm3 | Algorithm::EcdsaP256Sha256) => {
                        "critical\n                Key Agreement\n"
                    }
                    (LeafProfile::Enc, Algorithm::RsaSha256) => {
                        unreachable!("no RSA CA: not in Algorithm::ALL")
                    }
                };
                for needle in [
                    expect_usage,
                    "CA:FALSE",
                    "X509v3 Subject Key Identifier",
                    "X509v3 Authority Key Identifier",
                    "Policy: 1.3.6.1.4.1.32473.1",
                    &format!("URI:http://ca.certdesk.test/crl/{slug}.crl"),
                    "OCSP - URI:http://ca.certdesk.test/ocsp",
                    &format!("CA Issuers - URI:http://ca.certdesk.test/ca/{slug}.cer"),
                    "1.2.156.10260.4.1.4:",
                    &format!("Subject: C=CN, O={ORG}, CN={ORG}, serialNumber={CREDIT_CODE}"),
                ] {
                    assert!(text.contains(needle), "missing {needle:?} in\n{text}");
                }
                let (_, asn1, _) = openssl_status(&["asn1parse", "-in", leaf_path.as_str(), "-i"]);
                assert!(
                    asn1.contains(&format!("PRINTABLESTRING   :{CREDIT_CODE}")),
                    "{asn1}"
                );
                assert!(asn1.contains("UTCTIME"), "{asn1}");
            }
        }
    }

    #[test]
    fn leaf_validity_and_serial_are_as_requested() {
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let request = leaf_request(LeafProfile::Sign);
        let leaf = issue_leaf(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr_for(Algorithm::EcdsaP256Sha256),
            &request,
        )
        .expect("issue");
        let tbs = leaf.tbs_certificate();
        assert_eq!(tbs.serial_number(), &request.serial);
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after epoch")
                .as_secs()
        };
        assert_eq!(
            tbs.validity().not_after.to_unix_duration().as_secs(),
            secs(request.not_after)
        );
        assert_eq!(
            tbs.validity().not_before.to_unix_duration().as_secs(),
            secs(request.not_before)
        );
    }

    type RequestMutation = Box<dyn Fn(&mut LeafRequest)>;

    #[test]
    fn refuses_bad_requests() {
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let csr = csr_for(Algorithm::EcdsaP256Sha256);
        let cases: [(&str, RequestMutation); 6] = [
            ("empty org", Box::new(|r| r.org_name = " ".into())),
            ("long org", Box::new(|r| r.org_name = "公".repeat(65))),
            ("short code", Box::new(|r| r.credit_code = "9135".into())),
            (
                "lower code",
                Box::new(|r| r.credit_code = CREDIT_CODE.to_lowercase()),
            ),
            ("ftp url", Box::new(|r| r.base_url = "ftp://x".into())),
            (
                "reversed dates",
                Box::new(|r| std::mem::swap(&mut r.not_before, &mut r.not_after)),
            ),
        ];
        for (what, mutate) in cases {
            let mut request = leaf_request(LeafProfile::Sign);
            mutate(&mut request);
            let err =
                issue_leaf(&ca.issuing_key, &ca.issuing_cert, &csr, &request).expect_err(what);
            assert!(matches!(err, PkiError::InvalidRequest(_)), "{what}: {err}");
        }

        let sm2_csr = csr_for(Algorithm::Sm2Sm3);
        let err = issue_leaf(
            &ca.issuing_key,
            &ca.issuing_cert,
            &sm2_csr,
            &leaf_request(LeafProfile::Sign),
        )
        .expect_err("algorithm");
        assert!(matches!(err, PkiError::AlgorithmMismatch { .. }), "{err}");

        let err = issue_leaf(
            &ca.root_key,
            &ca.issuing_cert,
            &csr,
            &leaf_request(LeafProfile::Sign),
        )
        .expect_err("key/cert mismatch");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn policy_oids_are_read_as_operators_write_them() {
        assert_eq!(
            parse_policy_oid(" 1.2.156.112562.1.1 ")
                .unwrap()
                .to_string(),
            "1.2.156.112562.1.1"
        );
        for bad in ["", "1.2.156.", "1..2", "policy", "1.2.156.x"] {
            let err = parse_policy_oid(bad).unwrap_err().to_string();
            assert!(err.contains("not a dotted OID"), "{bad}: {err}");
        }
        let err = parse_policy_oid("2.5.29.32.0").unwrap_err().to_string();
        assert!(err.contains("anyPolicy"), "{err}");
    }

    #[test]
    fn pkilint_accepts_ca_and_leaf_certificates() {
        let lint = crate::test_support::pkilint("lint_pkix_cert");
        let dir = TempDir::new("pkilint");
        for algorithm in Algorithm::ALL {
            let ca = CaHierarchy::generate(algorithm, "certdesk").expect("ca");
            let mut certs = vec![
                ("root", ca.root_cert.clone()),
                ("issuing", ca.issuing_cert.clone()),
            ];
            for (name, profile) in [("sign", LeafProfile::Sign), ("enc", LeafProfile::Enc)] {
                let leaf = issue_leaf(
                    &ca.issuing_key,
                    &ca.issuing_cert,
                    &csr_for(algorithm),
                    &leaf_request(profile),
                )
                .expect("issue");
                certs.push((name, leaf));
            }
            for (name, cert) in certs {
                let path = dir.write(
                    &format!("{}-{name}.pem", algorithm.slug()),
                    certificate_to_pem(&cert).expect("pem").as_bytes(),
                );
                let findings = crate::test_support::pkilint_finding_lines(
                    &lint,
                    &["lint", "-s", "NOTICE", path.as_str()],
                );
                assert!(findings.is_empty(), "{algorithm} {name}: {findings:#?}");
            }
        }
    }
}
