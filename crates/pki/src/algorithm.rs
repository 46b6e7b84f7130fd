//! Algorithms we issue for or verify, their object identifiers, and signature verification.

use std::fmt;

use der::asn1::ObjectIdentifier;
use der::{Decode, Tagged};
use signature::Verifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::PkiError;

/// SM2 distinguishing identifier used by GB/T 35276 / GM/T 0009 when none is agreed:
/// every SM2 signature we make or verify uses it.
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";

/// id-ecPublicKey (RFC 5480); SM2 keys use it too, with the SM2 curve as parameter.
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / secp256r1.
pub const OID_CURVE_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// sm2p256v1 (GM/T 0006).
pub const OID_CURVE_SM2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// ecdsa-with-SHA256 (RFC 5758).
pub const OID_ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// SM2-with-SM3 (GM/T 0006).
pub const OID_SM2_WITH_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
/// rsaEncryption (RFC 8017): RSA keys, whose signatures we verify (other providers' CAs) and
/// whose CSRs we refuse (we run no RSA CA).
pub const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// sha256WithRSAEncryption (RFC 8017, RFC 4055): RSASSA-PKCS1-v1_5 with SHA-256.
pub const OID_SHA256_WITH_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Curves below 256 bits that we name as weak rather than merely unsupported.
const WEAK_CURVES: [(ObjectIdentifier, &str); 2] = [
    (ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.1"), "P-192"),
    (ObjectIdentifier::new_unwrap("1.3.132.0.33"), "P-224"),
];

/// Smallest RSA modulus we accept anywhere.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus we verify signatures of (AWS-LC's `RSA_PKCS1_2048_8192_SHA256`).
pub const MAX_RSA_BITS: usize = 8192;

/// A key-and-signature algorithm pair that certdesk signs or verifies with.
///
/// Not every variant is one we run CAs for or hold keys of: see [`Algorithm::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SM2 keys, SM2-with-SM3 signatures (GB/T 32918, GM/T 0015).
    Sm2Sm3,
    /// NIST P-256 keys, ECDSA with SHA-256 signatures.
    EcdsaP256Sha256,
    /// RSA keys, RSASSA-PKCS1-v1_5 with SHA-256 signatures (sha256WithRSAEncryption), of
    /// 2048 to 8192 bits. Verification only: certificates, CRLs and OCSP answers of other
    /// providers' RSA CAs. We hold no RSA key, run no RSA CA and refuse CSRs with RSA keys.
    RsaSha256,
}

impl Algorithm {
    /// The algorithms we run CAs for (one hierarchy each), issue certificates for and hold
    /// keys of ([`crate::SoftwareKey`]), in a stable order. RSA is deliberately absent.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sm2Sm3, Algorithm::EcdsaP256Sha256];

    /// Whether we run CAs for this algorithm and issue certificates for its keys
    /// (it is in [`Algorithm::ALL`]).
    pub fn is_issued(self) -> bool {
        Algorithm::ALL.contains(&self)
    }

    /// Short name for people: used in CA names ("certdesk SM2 Root CA").
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Sm2Sm3 => "SM2",
            Algorithm::EcdsaP256Sha256 => "P-256",
            Algorithm::RsaSha256 => "RSA-2048",
        }
    }

    /// Lower-case token for URLs and file names (`/crl/sm2.crl`).
    pub fn slug(self) -> &'static str {
        match self {
            Algorithm::Sm2Sm3 => "sm2",
            Algorithm::EcdsaP256Sha256 => "p256",
            Algorithm::RsaSha256 => "rsa2048",
        }
    }

    /// The named curve carried in the SubjectPublicKeyInfo parameters; `None` for RSA.
    pub fn curve_oid(self) -> Option<ObjectIdentifier> {
        match self {
            Algorithm::Sm2Sm3 => Some(OID_CURVE_SM2),
            Algorithm::EcdsaP256Sha256 => Some(OID_CURVE_P256),
            Algorithm::RsaSha256 => None,
        }
    }

    /// The signature algorithm OID written into certificates, CSRs and CRLs.
    pub fn signature_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Sm2Sm3 => OID_SM2_WITH_SM3,
            Algorithm::EcdsaP256Sha256 => OID_ECDSA_WITH_SHA256,
            Algorithm::RsaSha256 => OID_SHA256_WITH_RSA_ENCRYPTION,
        }
    }

    /// The signature AlgorithmIdentifier. Parameters are absent for ECDSA (RFC 5758) and
    /// SM2-with-SM3 (what OpenSSL writes); NULL for sha256WithRSAEncryption (RFC 4055 §5).
    pub fn signature_algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.signature_oid(),
            parameters: match self {
                Algorithm::Sm2Sm3 | Algorithm::EcdsaP256Sha256 => None,
                Algorithm::RsaSha256 => Some(der::Any::null()),
            },
        }
    }

    /// Which algorithm a public key belongs to; refuses weak and unknown keys with the
    /// precise reason. RSA keys of 2048 to 8192 bits are [`Algorithm::RsaSha256`]: callers
    /// that issue certificates must also check [`Algorithm::is_issued`].
    pub fn of_public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<Algorithm, PkiError> {
        let key_oid = spki.algorithm.oid;
        if key_oid == OID_RSA_ENCRYPTION {
            if !spki.algorithm.parameters.as_ref().is_none_or(is_null) {
                return Err(PkiError::malformed(
                    "RSA public key",
                    "algorithm parameters are not NULL",
                ));
            }
            let bits = rsa_modulus_bits(spki)?;
            if bits < MIN_RSA_BITS {
                return Err(PkiError::WeakKey(format!(
                    "RSA-{bits}: at least {MIN_RSA_BITS} bits are required"
                )));
            }
            if bits > MAX_RSA_BITS {
                return Err(PkiError::UnsupportedAlgorithm(format!(
                    "RSA-{bits}: at most {MAX_RSA_BITS} bits are supported"
                )));
            }
            return Ok(Algorithm::RsaSha256);
        }
        if key_oid != OID_EC_PUBLIC_KEY {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "public key algorithm {key_oid}"
            )));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or_else(|| PkiError::malformed("public key", "EC key without a named curve"))?
            .decode_as::<ObjectIdentifier>()
            .map_err(|_| PkiError::UnsupportedAlgorithm("EC key with explicit curve".into()))?;
        if let Some(alg) = Algorithm::ALL
            .into_iter()
            .find(|a| a.curve_oid() == Some(curve))
        {
            return Ok(alg);
        }
        if let Some((_, name)) = WEAK_CURVES.iter().find(|(oid, _)| *oid == curve) {
            return Err(PkiError::WeakKey(format!("elliptic curve {name}")));
        }
        Err(PkiError::UnsupportedAlgorithm(format!(
            "elliptic curve {curve}"
        )))
    }

    /// Verifies `signature` (DER `SEQUENCE{r,s}` for SM2 and ECDSA; the RSASSA-PKCS1-v1_5
    /// integer, as long as the modulus, for RSA) over `message` made with `signature_alg`
    /// by the key in `spki`. SM2 uses [`SM2_DEFAULT_DISTID`].
    pub fn verify(
        self,
        spki: &SubjectPublicKeyInfoOwned,
        signature_alg: &AlgorithmIdentifierOwned,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), PkiError> {
        let key_alg = Algorithm::of_public_key(spki)?;
        if key_alg != self {
            return Err(PkiError::AlgorithmMismatch {
                expected: self,
                found: key_alg,
            });
        }
        if signature_alg.oid != self.signature_oid() {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "signature algorithm {} with a {} key",
                signature_alg.oid,
                self.label()
            )));
        }
        if !signature_parameters_acceptable(self, signature_alg) {
            return Err(PkiError::malformed(
                "signature algorithm",
                "unexpected parameters",
            ));
        }
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| PkiError::malformed("public key", "bit string with unused bits"))?;
        match self {
            Algorithm::Sm2Sm3 => {
                let key = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, point)
                    .map_err(|_| PkiError::malformed("public key", "not a point on SM2"))?;
                let sig = sm2::dsa::Signature::from_der(signature)
                    .map_err(|_| PkiError::BadSignature("not a DER SM2 signature"))?;
                key.verify(message, &sig)
                    .map_err(|_| PkiError::BadSignature("SM2 signature does not verify"))
            }
            Algorithm::EcdsaP256Sha256 => {
                let key = aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                    point,
                );
                if key.verify(message, signature).is_ok() {
                    return Ok(());
                }
                // AWS-LC says only "no"; say why, on the failure path alone.
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| PkiError::malformed("public key", "not a point on P-256"))?;
                p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| PkiError::BadSignature("not a DER ECDSA signature"))?;
                Err(PkiError::BadSignature("ECDSA signature does not verify"))
            }
            Algorithm::RsaSha256 => {
                // `point` is the RSAPublicKey DER here; of_public_key has bounded its size.
                let key = aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    point,
                );
                key.verify(message, signature).map_err(|_| {
                    PkiError::BadSignature("RSA PKCS#1 v1.5 signature does not verify")
                })
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Sm2Sm3 => "SM2-with-SM3",
            Algorithm::EcdsaP256Sha256 => "ECDSA-P256-SHA256",
            Algorithm::RsaSha256 => "RSA-SHA256",
        })
    }
}

/// ECDSA requires absent parameters (RFC 5758 §3.2); some SM2 toolkits write NULL, which is
/// harmless, so SM2 accepts both. sha256WithRSAEncryption has NULL, and RFC 5754 §2 asks
/// verifiers to accept it absent too.
fn signature_parameters_acceptable(alg: Algorithm, id: &AlgorithmIdentifierOwned) -> bool {
    match (&id.parameters, alg) {
        (None, _) => true,
        (Some(any), Algorithm::Sm2Sm3 | Algorithm::RsaSha256) => is_null(any),
        (Some(_), Algorithm::EcdsaP256Sha256) => false,
    }
}

fn is_null(any: &der::Any) -> bool {
    any.tag() == der::Tag::Null && any.value().is_empty()
}

/// Bit length of a big-endian unsigned integer (leading zero bytes already stripped).
pub(crate) fn uint_bits(n: &[u8]) -> usize {
    let leading_bits = n.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
    n.len().saturating_sub(1) * 8 + leading_bits
}

/// Bit length of an RSA public key's modulus, read from `RSAPublicKey ::= SEQUENCE { n, e }`.
pub(crate) fn rsa_modulus_bits(spki: &SubjectPublicKeyInfoOwned) -> Result<usize, PkiError> {
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: der::asn1::UintRef<'a>,
        #[allow(dead_code)]
        public_exponent: der::asn1::UintRef<'a>,
    }
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("RSA public key", "bit string with unused bits"))?;
    let key =
        RsaPublicKey::from_der(bytes).map_err(|e| PkiError::malformed("RSA public key", e))?;
    Ok(uint_bits(key.modulus.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_names_are_distinct() {
        assert_ne!(
            Algorithm::Sm2Sm3.signature_oid(),
            Algorithm::EcdsaP256Sha256.signature_oid()
        );
        assert_eq!(Algorithm::Sm2Sm3.slug(), "sm2");
        assert_eq!(Algorithm::EcdsaP256Sha256.slug(), "p256");
        assert_eq!(Algorithm::Sm2Sm3.to_string(), "SM2-with-SM3");
        assert_eq!(Algorithm::RsaSha256.slug(), "rsa2048");
        assert_eq!(Algorithm::RsaSha256.label(), "RSA-2048");
        assert_eq!(
            Algorithm::RsaSha256.signature_oid().to_string(),
            "1.2.840.113549.1.1.11"
        );
        let all = [
            Algorithm::Sm2Sm3,
            Algorithm::EcdsaP256Sha256,
            Algorithm::RsaSha256,
        ];
        let slugs: std::collections::HashSet<_> = all.iter().map(|a| a.slug()).collect();
        assert_eq!(slugs.len(), all.len());
    }

    #[test]
    fn cas_run_for_sm2_and_p256_only() {
        assert_eq!(
            Algorithm::ALL,
            [Algorithm::Sm2Sm3, Algorithm::EcdsaP256Sha256]
        );
        assert!(Algorithm::ALL.iter().all(|a| a.is_issued()));
        assert!(!Algorithm::RsaSha256.is_issued());
    }
}
