//! Algorithms we issue for, their object identifiers, and signature verification.

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
/// rsaEncryption (RFC 8017); recognised only to refuse it with a precise reason.
pub const OID_RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Curves below 256 bits that we name as weak rather than merely unsupported.
const WEAK_CURVES: [(ObjectIdentifier, &str); 2] = [
    (ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.1"), "P-192"),
    (ObjectIdentifier::new_unwrap("1.3.132.0.33"), "P-224"),
];

/// Smallest RSA modulus we would accept, were RSA supported.
pub const MIN_RSA_BITS: usize = 2048;

/// A key-and-signature algorithm pair that certdesk issues certificates for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SM2 keys, SM2-with-SM3 signatures (GB/T 32918, GM/T 0015).
    Sm2Sm3,
    /// NIST P-256 keys, ECDSA with SHA-256 signatures.
    EcdsaP256Sha256,
}

impl Algorithm {
    /// Every supported algorithm, in a stable order.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sm2Sm3, Algorithm::EcdsaP256Sha256];

    /// Short name for people: used in CA names ("certdesk SM2 Root CA").
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Sm2Sm3 => "SM2",
            Algorithm::EcdsaP256Sha256 => "P-256",
        }
    }

    /// Lower-case token for URLs and file names (`/crl/sm2.crl`).
    pub fn slug(self) -> &'static str {
        match self {
            Algorithm::Sm2Sm3 => "sm2",
            Algorithm::EcdsaP256Sha256 => "p256",
        }
    }

    /// The named curve carried in the SubjectPublicKeyInfo parameters.
    pub fn curve_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Sm2Sm3 => OID_CURVE_SM2,
            Algorithm::EcdsaP256Sha256 => OID_CURVE_P256,
        }
    }

    /// The signature algorithm OID written into certificates, CSRs and CRLs.
    pub fn signature_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Sm2Sm3 => OID_SM2_WITH_SM3,
            Algorithm::EcdsaP256Sha256 => OID_ECDSA_WITH_SHA256,
        }
    }

    /// The signature AlgorithmIdentifier; parameters are absent for both (RFC 5758, and what
    /// OpenSSL writes for SM2-with-SM3).
    pub fn signature_algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.signature_oid(),
            parameters: None,
        }
    }

    /// Which supported algorithm a public key belongs to; refuses weak and unknown keys with
    /// the precise reason.
    pub fn of_public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<Algorithm, PkiError> {
        let key_oid = spki.algorithm.oid;
        if key_oid == OID_RSA_ENCRYPTION {
            let bits = rsa_modulus_bits(spki)?;
            if bits < MIN_RSA_BITS {
                return Err(PkiError::WeakKey(format!(
                    "RSA-{bits}: at least {MIN_RSA_BITS} bits are required"
                )));
            }
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "RSA-{bits}: RSA keys are not supported, only SM2 and ECDSA P-256"
            )));
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
        if let Some(alg) = Algorithm::ALL.into_iter().find(|a| a.curve_oid() == curve) {
            return Ok(alg);
        }
        if let Some((_, name)) = WEAK_CURVES.iter().find(|(oid, _)| *oid == curve) {
            return Err(PkiError::WeakKey(format!("elliptic curve {name}")));
        }
        Err(PkiError::UnsupportedAlgorithm(format!(
            "elliptic curve {curve}"
        )))
    }

    /// Verifies `signature` (DER `SEQUENCE{r,s}`) over `message` made with `signature_alg`
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
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Sm2Sm3 => "SM2-with-SM3",
            Algorithm::EcdsaP256Sha256 => "ECDSA-P256-SHA256",
        })
    }
}

/// ECDSA requires absent parameters (RFC 5758 §3.2); some SM2 toolkits write NULL, which is
/// harmless, so SM2 accepts both.
fn signature_parameters_acceptable(alg: Algorithm, id: &AlgorithmIdentifierOwned) -> bool {
    match (&id.parameters, alg) {
        (None, _) => true,
        (Some(any), Algorithm::Sm2Sm3) => any.tag() == der::Tag::Null && any.value().is_empty(),
        (Some(_), Algorithm::EcdsaP256Sha256) => false,
    }
}

/// Bit length of an RSA public key's modulus, read from `RSAPublicKey ::= SEQUENCE { n, e }`.
fn rsa_modulus_bits(spki: &SubjectPublicKeyInfoOwned) -> Result<usize, PkiError> {
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
    let n = key.modulus.as_bytes();
    let leading_bits = n.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
    Ok(n.len().saturating_sub(1) * 8 + leading_bits)
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
    }
}
