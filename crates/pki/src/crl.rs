//! Certificate revocation lists (RFC 5280 §5): full CRLs signed by the issuing CA.

use std::time::SystemTime;

use der::asn1::{ObjectIdentifier, Uint};
use der::{Decode, Encode, EncodePem};
use x509_cert::certificate::{Certificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{CrlNumber, CrlReason};
use x509_cert::serial_number::SerialNumber;

use crate::ca::{authority_key_identifier, OID_AUTHORITY_KEY_ID};
use crate::cert::{der_or_pem, extension, x509_time};
use crate::signer::sign_to_bitstring;
use crate::{Algorithm, PkiError, Signer};

const OID_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const OID_CRL_REASON: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");

/// One revoked certificate.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    pub serial: SerialNumber,
    pub revoked_at: SystemTime,
    /// RFC 5280 §5.3.1 reason; `Unspecified` is written as no reasonCode at all, as the RFC
    /// asks. `RemoveFromCRL` belongs to delta CRLs and is refused.
    pub reason: CrlReason,
}

/// What goes into one CRL.
#[derive(Debug, Clone)]
pub struct CrlRequest {
    /// Monotonically increasing per issuer (RFC 5280 §5.2.3); the store keeps the counter.
    pub crl_number: u64,
    pub this_update: SystemTime,
    pub next_update: SystemTime,
    pub revoked: Vec<RevokedEntry>,
}

/// Builds and signs a full CRL for the CA of `issuer_cert`, with the AKI and cRLNumber
/// extensions and a nextUpdate.
///
/// The AKI is the issuer's own key identifier. (x509-cert 0.3's `CrlBuilder` copies the
/// issuer certificate's AKI instead, which names the issuer's issuer; we build the TBS here.)
pub fn build_crl(
    issuer_signer: &dyn Signer,
    issuer_cert: &Certificate,
    request: &CrlRequest,
) -> Result<CertificateList, PkiError> {
    if issuer_cert.tbs_certificate().subject_public_key_info() != issuer_signer.public_key_spki() {
        return Err(PkiError::InvalidRequest(
            "the issuer certificate does not belong to the signing key".into(),
        ));
    }
    if request.next_update <= request.this_update {
        return Err(PkiError::InvalidRequest(
            "nextUpdate must be later than thisUpdate".into(),
        ));
    }
    let mut revoked = Vec::with_capacity(request.revoked.len());
    for entry in &request.revoked {
        let crl_entry_extensions = match entry.reason {
            CrlReason::Unspecified => None,
            CrlReason::RemoveFromCRL => {
                return Err(PkiError::InvalidRequest(
                    "removeFromCRL is only for delta CRLs".into(),
                ))
            }
            reason => Some(vec![extension(OID_CRL_REASON, false, &reason)?]),
        };
        revoked.push(RevokedCert {
            serial_number: entry.serial.clone(),
            revocation_date: x509_time(entry.revoked_at)?,
            crl_entry_extensions,
        });
    }
    let crl_number =
        CrlNumber(Uint::new(&request.crl_number.to_be_bytes()).map_err(PkiError::encoding)?);
    let tbs = TbsCertList {
        version: Version::V2,
        signature: issuer_signer.algorithm().signature_algorithm_identifier(),
        issuer: issuer_cert.tbs_certificate().subject().clone(),
        this_update: x509_time(request.this_update)?,
        next_update: Some(x509_time(request.next_update)?),
        // RFC 5280 §5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(vec![
            extension(
                OID_AUTHORITY_KEY_ID,
                false,
                &authority_key_identifier(issuer_cert)?,
            )?,
            extension(OID_CRL_NUMBER, false, &crl_number)?,
        ]),
    };
    let tbs_der = tbs.to_der().map_err(PkiError::encoding)?;
    let signature = sign_to_bitstring(issuer_signer, &tbs_der)?;
    Ok(CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature,
    })
}

/// PEM (`X509 CRL`).
pub fn crl_to_pem(crl: &CertificateList) -> Result<String, PkiError> {
    crl.to_pem(der::pem::LineEnding::LF)
        .map_err(PkiError::encoding)
}

/// Parses a CRL given as DER or PEM.
pub fn crl_from_der_or_pem(input: &[u8]) -> Result<CertificateList, PkiError> {
    let der = der_or_pem(input, &["X509 CRL"], "CRL")?;
    CertificateList::from_der(&der).map_err(|e| PkiError::malformed("CRL", e))
}

/// Checks the CRL's signature against `issuer_cert`'s key (our own verifier: OpenSSL 3.0's
/// `crl -verify` cannot be given the SM2 ID).
pub fn verify_crl_signature(
    crl: &CertificateList,
    issuer_cert: &Certificate,
) -> Result<(), PkiError> {
    let spki = issuer_cert.tbs_certificate().subject_public_key_info();
    let algorithm = Algorithm::of_public_key(spki)?;
    if crl.signature_algorithm != crl.tbs_cert_list.signature {
        return Err(PkiError::malformed(
            "CRL",
            "outer and inner signature algorithms differ",
        ));
    }
    let tbs = crl
        .tbs_cert_list
        .to_der()
        .map_err(|e| PkiError::malformed("CRL", e))?;
    let signature = crl
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("CRL", "signature has unused bits"))?;
    algorithm.verify(spki, &crl.signature_algorithm, &tbs, signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::certificate_to_pem;
    use crate::csr::{make_csr, parse_and_verify_csr};
    use crate::leaf::tests::leaf_request;
    use crate::test_support::{
        openssl, openssl_sm2_verify_raw, openssl_status, pkilint, pkilint_finding_lines, TempDir,
    };
    use crate::{issue_leaf, random_serial, CaHierarchy, LeafProfile, SoftwareKey};
    use std::time::Duration;

    fn request_revoking(serial: SerialNumber) -> CrlRequest {
        let now = SystemTime::now();
        CrlRequest {
            crl_number: 42,
            this_update: now - Duration::from_secs(60),
            next_update: now + Duration::from_secs(7 * 24 * 3600),
            revoked: vec![
                RevokedEntry {
                    serial,
                    revoked_at: now - Duration::from_secs(120),
                    reason: CrlReason::KeyCompromise,
                },
                RevokedEntry {
                    serial: random_serial().expect("serial"),
                    revoked_at: now - Duration::from_secs(3600),
                    reason: CrlReason::Unspecified,
                },
            ],
        }
    }

    #[test]
    fn crls_verify_and_revoke() {
        let dir = TempDir::new("crl");
        let lint = pkilint("lint_crl");
        for algorithm in Algorithm::ALL {
            let slug = algorithm.slug();
            let ca = CaHierarchy::generate(algorithm, "certdesk").expect("ca");
            let key = SoftwareKey::generate(algorithm).expect("key");
            let csr =
                parse_and_verify_csr(&make_csr(&key, crate::csr::tests::subject()).expect("csr"))
                    .expect("verified");
            let leaf = issue_leaf(
                &ca.issuing_key,
                &ca.issuing_cert,
                &csr,
                &leaf_request(LeafProfile::Sign),
            )
            .expect("leaf");
            let request = request_revoking(leaf.tbs_certificate().serial_number().clone());
            let crl = build_crl(&ca.issuing_key, &ca.issuing_cert, &request).expect("crl");
            verify_crl_signature(&crl, &ca.issuing_cert).expect("own verify");
            assert!(verify_crl_signature(&crl, &ca.root_cert).is_err());

            let pem = crl_to_pem(&crl).expect("pem");
            let parsed = crl_from_der_or_pem(pem.as_bytes()).expect("parse");
            assert_eq!(parsed, crl);
            let crl_path = dir.write(&format!("{slug}.crl.pem"), pem.as_bytes());
            let issuing = dir.write(
                &format!("{slug}-issuing.pem"),
                certificate_to_pem(&ca.issuing_cert)
                    .expect("pem")
                    .as_bytes(),
            );
            let text = openssl(&["crl", "-in", crl_path.as_str(), "-noout", "-text"]);
            for needle in [
                "X509v3 CRL Number: \n                42",
                "X509v3 Authority Key Identifier",
                "Next Update:",
                "Key Compromise",
            ] {
                assert!(text.contains(needle), "missing {needle:?} in\n{text}");
            }
            assert_eq!(text.matches("CRL Reason Code").count(), 1, "{text}");

            match algorithm {
                Algorithm::EcdsaP256Sha256 => {
                    let (_, _, stderr) = openssl_status(&[
                        "crl",
                        "-verify",
                        "-noout",
                        "-CAfile",
                        issuing.as_str(),
                        "-in",
                        crl_path.as_str(),
                    ]);
                    assert!(stderr.contains("verify OK"), "{stderr}");
                    // And OpenSSL finds the leaf revoked through this CRL.
                    let root = dir.write(
                        "p256-root.pem",
                        certificate_to_pem(&ca.root_cert).expect("pem").as_bytes(),
                    );
                    let leaf_path = dir.write(
                        "p256-leaf.pem",
                        certificate_to_pem(&leaf).expect("pem").as_bytes(),
                    );
                    let (ok, stdout, stderr) = openssl_status(&[
                        "verify",
                        "-crl_check",
                        "-CRLfile",
                        crl_path.as_str(),
                        "-CAfile",
                        root.as_str(),
                        "-untrusted",
                        issuing.as_str(),
                        leaf_path.as_str(),
                    ]);
                    assert!(!ok && (stdout + &stderr).contains("certificate revoked"));
                }
                Algorithm::RsaSha256 => unreachable!("no RSA CA: not in Algorithm::ALL"),
                Algorithm::Sm2Sm3 => {
                    let tbs = crl.tbs_cert_list.to_der().expect("tbs");
                    let spki = ca.issuing_cert.tbs_certificate().subject_public_key_info();
                    let sig = crl.signature.raw_bytes();
                    assert!(openssl_sm2_verify_raw(&dir, spki, &tbs, sig));
                    let mut tampered = tbs.clone();
                    let last = tampered.len() - 1;
                    tampered[last] ^= 1;
                    assert!(!openssl_sm2_verify_raw(&dir, spki, &tampered, sig));
                }
            }

            let findings = pkilint_finding_lines(
                &lint,
                &[
                    "lint",
                    "-t",
                    "CRL",
                    "-p",
                    "PKIX",
                    "-s",
                    "NOTICE",
                    crl_path.as_str(),
                ],
            );
            assert!(findings.is_empty(), "{algorithm}: {findings:#?}");
        }
    }

    #[test]
    fn empty_crl_omits_revoked_list_and_bad_requests_are_refused() {
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let mut request = request_revoking(random_serial().expect("serial"));
        request.revoked.clear();
        let crl = build_crl(&ca.issuing_key, &ca.issuing_cert, &request).expect("crl");
        assert!(crl.tbs_cert_list.revoked_certificates.is_none());

        let mut reversed = request.clone();
        std::mem::swap(&mut reversed.this_update, &mut reversed.next_update);
        assert!(matches!(
            build_crl(&ca.issuing_key, &ca.issuing_cert, &reversed),
            Err(PkiError::InvalidRequest(_))
        ));

        let mut delta_only = request_revoking(random_serial().expect("serial"));
        delta_only.revoked[0].reason = CrlReason::RemoveFromCRL;
        assert!(matches!(
            build_crl(&ca.issuing_key, &ca.issuing_cert, &delta_only),
            Err(PkiError::InvalidRequest(_))
        ));

        assert!(matches!(
            build_crl(&ca.root_key, &ca.issuing_cert, &request),
            Err(PkiError::InvalidRequest(_))
        ));
    }
}
