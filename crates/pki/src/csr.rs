//! PKCS#10 certificate requests: making them from a [`Signer`], and checking those we receive.

use der::{Decode, Encode, EncodePem};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::builder::Builder;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, RequestBuilder};

use crate::cert::der_or_pem;
use crate::signer::{sign_to_bitstring, BuilderKey};
use crate::{Algorithm, PkiError, Signer};

/// Largest CSR we parse; real ones are well under 4 KiB, and a bound keeps hostile input cheap.
const MAX_CSR_BYTES: usize = 64 * 1024;

/// A CSR whose self-signature verified: the requester holds the private key of `public_key`.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    pub algorithm: Algorithm,
    pub public_key: SubjectPublicKeyInfoOwned,
    /// The subject the requester asked for; issuance sets its own subject from verified data.
    pub requested_subject: Name,
    /// The request as received, DER.
    pub der: Vec<u8>,
}

/// Parses a PKCS#10 request (DER or PEM) and verifies its self-signature (proof of
/// possession): SM2-with-SM3 with the ID 1234567812345678, or ECDSA P-256 with SHA-256.
///
/// Refuses malformed input, unsupported or weak keys (RSA below 2048 bits, small curves),
/// keys of algorithms we run no CA for (RSA of any size: see [`Algorithm::is_issued`]),
/// and bad signatures, each with its own [`PkiError`] variant. Never panics on any input.
pub fn parse_and_verify_csr(input: &[u8]) -> Result<VerifiedCsr, PkiError> {
    if input.len() > MAX_CSR_BYTES {
        return Err(PkiError::malformed(
            "certificate request",
            format!("larger than {MAX_CSR_BYTES} bytes"),
        ));
    }
    let der = der_or_pem(
        input,
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
        "certificate request",
    )?;
    let request =
        CertReq::from_der(&der).map_err(|e| PkiError::malformed("certificate request", e))?;
    let algorithm = Algorithm::of_public_key(&request.info.public_key)?;
    if !algorithm.is_issued() {
        // We verify other CAs' RSA signatures but run no RSA CA.
        let key = match algorithm {
            Algorithm::RsaSha256 => format!(
                "RSA-{}",
                crate::algorithm::rsa_modulus_bits(&request.info.public_key)?
            ),
            other => other.label().to_string(),
        };
        return Err(PkiError::UnsupportedAlgorithm(format!(
            "{key}: such keys are not supported for certificate requests, only SM2 and \
             ECDSA P-256"
        )));
    }
    // The signed bytes are the CertificationRequestInfo exactly as received; DER has one
    // encoding per value, so re-encoding the decoded structure reproduces them.
    let info_der = request
        .info
        .to_der()
        .map_err(|e| PkiError::malformed("certificate request", e))?;
    let signature = request
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("certificate request", "signature has unused bits"))?;
    algorithm.verify(
        &request.info.public_key,
        &request.algorithm,
        &info_der,
        signature,
    )?;
    // Re-encoding must give back the input: a BER-but-not-DER request would otherwise have
    // been verified over bytes other than those we keep.
    let reencoded = request
        .to_der()
        .map_err(|e| PkiError::malformed("certificate request", e))?;
    if reencoded != der {
        return Err(PkiError::malformed(
            "certificate request",
            "not in canonical DER",
        ));
    }
    Ok(VerifiedCsr {
        algorithm,
        public_key: request.info.public_key,
        requested_subject: request.info.subject,
        der,
    })
}

/// [`parse_and_verify_csr`], and the key must be of `expected` algorithm.
pub fn parse_and_verify_csr_for(
    input: &[u8],
    expected: Algorithm,
) -> Result<VerifiedCsr, PkiError> {
    let csr = parse_and_verify_csr(input)?;
    if csr.algorithm != expected {
        return Err(PkiError::AlgorithmMismatch {
            expected,
            found: csr.algorithm,
        });
    }
    Ok(csr)
}

/// Makes a PKCS#10 request for `signer`'s key with `subject`, signed by that key.
/// Returns DER; see [`csr_to_pem`] for PEM.
pub fn make_csr(signer: &dyn Signer, subject: Name) -> Result<Vec<u8>, PkiError> {
    let mut builder = RequestBuilder::new(subject).map_err(PkiError::encoding)?;
    let key = BuilderKey(signer);
    let info = builder.finalize(&key).map_err(PkiError::encoding)?;
    let signature = sign_to_bitstring(signer, &info)?;
    let request = builder
        .assemble(signature, &key)
        .map_err(PkiError::encoding)?;
    request.to_der().map_err(PkiError::encoding)
}

/// PEM (`CERTIFICATE REQUEST`) of a DER request.
pub fn csr_to_pem(der: &[u8]) -> Result<String, PkiError> {
    let request =
        CertReq::from_der(der).map_err(|e| PkiError::malformed("certificate request", e))?;
    request
        .to_pem(der::pem::LineEnding::LF)
        .map_err(PkiError::encoding)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cert::{build_name, NameValue, OID_COMMON_NAME, OID_COUNTRY, OID_ORGANIZATION};
    use crate::test_support::{openssl, openssl_status, TempDir};
    use crate::SoftwareKey;
    use rand::{RngExt, SeedableRng};

    pub(crate) fn subject() -> Name {
        build_name(&[
            (OID_COUNTRY, NameValue::Printable("CN")),
            (OID_ORGANIZATION, NameValue::Utf8("测试单位")),
            (OID_COMMON_NAME, NameValue::Utf8("测试单位")),
        ])
        .expect("name")
    }

    #[test]
    fn our_csrs_verify_here_and_in_openssl() {
        let dir = TempDir::new("csr");
        for algorithm in Algorithm::ALL {
            let key = SoftwareKey::generate(algorithm).expect("key");
            let der = make_csr(&key, subject()).expect("csr");
            let csr = parse_and_verify_csr(&der).expect("verify der");
            assert_eq!(csr.algorithm, algorithm);
            assert_eq!(&csr.public_key, key.public_key_spki());

            let pem = csr_to_pem(&der).expect("pem");
            parse_and_verify_csr(pem.as_bytes()).expect("verify pem");
            let path = dir.write(&format!("{}.csr.pem", algorithm.slug()), pem.as_bytes());
            // OpenSSL 3.0 `req -verify` exits 0 even when the signature fails: read its verdict.
            let mut args = vec!["req", "-verify", "-noout", "-in", path.as_str()];
            if algorithm == Algorithm::Sm2Sm3 {
                args.extend_from_slice(&["-vfyopt", "distid:1234567812345678"]);
            }
            let (_, _, stderr) = openssl_status(&args);
            assert!(
                stderr.contains("self-signature verify OK"),
                "{algorithm}: {stderr}"
            );

            let other = match algorithm {
                Algorithm::Sm2Sm3 => Algorithm::EcdsaP256Sha256,
                Algorithm::EcdsaP256Sha256 | Algorithm::RsaSha256 => Algorithm::Sm2Sm3,
            };
            let err = parse_and_verify_csr_for(&der, other).expect_err("mismatch");
            assert!(
                matches!(err, PkiError::AlgorithmMismatch { expected, found }
                    if expected == other && found == algorithm),
                "{err}"
            );
            parse_and_verify_csr_for(&der, algorithm).expect("matching algorithm");
        }
    }

    #[test]
    fn sm2_csr_fails_in_openssl_without_the_distid() {
        // Guards against accidentally signing with an empty ID, which would make the check
        // above pass trivially only because OpenSSL also used an empty one.
        let dir = TempDir::new("csr-noid");
        let key = SoftwareKey::generate(Algorithm::Sm2Sm3).expect("key");
        let pem = csr_to_pem(&make_csr(&key, subject()).expect("csr")).expect("pem");
        let path = dir.write("sm2.csr.pem", pem.as_bytes());
        let (_, _, stderr) = openssl_status(&["req", "-verify", "-noout", "-in", path.as_str()]);
        assert!(stderr.contains("self-signature verify failure"), "{stderr}");
    }

    #[test]
    fn accepts_openssl_made_csrs() {
        let dir = TempDir::new("csr-openssl");
        for (algorithm, newkey) in [
            (Algorithm::EcdsaP256Sha256, "ec"),
            (Algorithm::Sm2Sm3, "sm2"),
        ] {
            let key_path = dir.path(&format!("{newkey}.key"));
            let csr_path = dir.path(&format!("{newkey}.csr"));
            let mut args = vec!["req", "-new", "-nodes", "-subj", "/C=CN/O=peer/CN=peer"];
            match algorithm {
                Algorithm::EcdsaP256Sha256 => args.extend_from_slice(&[
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ]),
                Algorithm::Sm2Sm3 => args.extend_from_slice(&[
                    "-newkey",
                    "sm2",
                    "-sm3",
                    "-sigopt",
                    "distid:1234567812345678",
                ]),
                Algorithm::RsaSha256 => unreachable!("not in this list"),
            }
            args.extend_from_slice(&["-keyout", key_path.as_str(), "-out", csr_path.as_str()]);
            openssl(&args);
            let pem = std::fs::read(&csr_path).expect("read csr");
            let csr = parse_and_verify_csr(&pem).expect("openssl csr");
            assert_eq!(csr.algorithm, algorithm);
        }
    }

    #[test]
    fn refuses_tampered_csrs() {
        for algorithm in Algorithm::ALL {
            let key = SoftwareKey::generate(algorithm).expect("key");
            let der = make_csr(&key, subject()).expect("csr");

            // Last byte is inside the signature's s INTEGER.
            let mut sig_flipped = der.clone();
            let last = sig_flipped.len() - 1;
            sig_flipped[last] ^= 0x01;
            let err = parse_and_verify_csr(&sig_flipped).expect_err("signature flip");
            assert!(matches!(err, PkiError::BadSignature(_)), "{err}");

            // A byte of the subject's organisation name (UTF-8 of 测试单位): the low bit of a
            // continuation byte, so the name stays valid UTF-8 and only the signature can
            // tell.
            let needle = "测试单位".as_bytes();
            let at = der
                .windows(needle.len())
                .position(|w| w == needle)
                .expect("subject bytes");
            let mut subject_flipped = der.clone();
            subject_flipped[at + 1] ^= 0x01;
            let err = parse_and_verify_csr(&subject_flipped).expect_err("subject flip");
            assert!(matches!(err, PkiError::BadSignature(_)), "{err}");
        }
    }

    #[test]
    fn refuses_rsa_1024_as_weak() {
        let dir = TempDir::new("csr-rsa");
        let csr_path = dir.path("rsa.csr");
        let key_path = dir.path("rsa.key");
        openssl(&[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:1024",
            "-subj",
            "/CN=weak",
            "-keyout",
            key_path.as_str(),
            "-out",
            csr_path.as_str(),
        ]);
        let pem = std::fs::read(&csr_path).expect("read");
        let err = parse_and_verify_csr(&pem).expect_err("rsa-1024");
        assert!(matches!(err, PkiError::WeakKey(_)), "{err}");
        assert!(err.to_string().contains("RSA-1024"), "{err}");

        openssl(&[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-subj",
            "/CN=rsa",
            "-keyout",
            key_path.as_str(),
            "-out",
            csr_path.as_str(),
        ]);
        let pem = std::fs::read(&csr_path).expect("read");
        let err = parse_and_verify_csr(&pem).expect_err("rsa-2048");
        assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");
        assert!(err.to_string().contains("not supported"), "{err}");
        assert!(err.to_string().contains("RSA-2048"), "{err}");
        let err = parse_and_verify_csr_for(&pem, Algorithm::RsaSha256).expect_err("for rsa");
        assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");
    }

    #[test]
    fn refuses_unsupported_curves() {
        let dir = TempDir::new("csr-curves");
        for (curve, weak) in [("P-384", false), ("P-224", true)] {
            let csr_path = dir.path("c.csr");
            let key_path = dir.path("c.key");
            let curve_opt = format!("ec_paramgen_curve:{curve}");
            openssl(&[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                curve_opt.as_str(),
                "-subj",
                "/CN=c",
                "-keyout",
                key_path.as_str(),
                "-out",
                csr_path.as_str(),
            ]);
            let pem = std::fs::read(&csr_path).expect("read");
            let err = parse_and_verify_csr(&pem).expect_err(curve);
            if weak {
                assert!(matches!(err, PkiError::WeakKey(_)), "{curve}: {err}");
            } else {
                assert!(
                    matches!(err, PkiError::UnsupportedAlgorithm(_)),
                    "{curve}: {err}"
                );
            }
        }
    }

    #[test]
    fn random_bytes_are_refused_without_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_c5a1);
        let valid = make_csr(
            &SoftwareKey::generate(Algorithm::EcdsaP256Sha256).expect("key"),
            subject(),
        )
        .expect("csr");
        for round in 0..1000 {
            let input: Vec<u8> = match round % 4 {
                // Pure noise of random length.
                0 => (0..rng.random_range(0..600))
                    .map(|_| rng.random())
                    .collect(),
                // Noise behind a SEQUENCE header, so the parser gets further in.
                1 => {
                    let mut v = vec![0x30, 0x82, 0x01, 0x00];
                    v.extend((0..rng.random_range(0..300)).map(|_| rng.random::<u8>()));
                    v
                }
                // A valid request with a few random bytes changed.
                2 => {
                    let mut v = valid.clone();
                    for _ in 0..rng.random_range(1..4) {
                        let at = rng.random_range(0..v.len());
                        v[at] = rng.random();
                    }
                    v
                }
                // A valid request cut short.
                _ => valid[..rng.random_range(0..valid.len())].to_vec(),
            };
            assert!(
                parse_and_verify_csr(&input).is_err() || input == valid,
                "round {round} accepted garbage"
            );
        }
    }
}
