//! The [`Signer`] trait and its software backend: keys held in memory (SM2, ECDSA P-256),
//! stored as passphrase-encrypted PKCS#8 PEM.

use der::asn1::ObjectIdentifier;
use der::Decode;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncryptedPrivateKeyInfoRef, LineEnding};
use signature::RandomizedSigner;
use sm2::elliptic_curve::Generate;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::algorithm::{Algorithm, OID_EC_PUBLIC_KEY, SM2_DEFAULT_DISTID};
use crate::PkiError;

/// Something that holds a private key and signs with it: a key in memory, a PKCS#11 token,
/// a remote CA process. Certificates, CSRs and CRLs are built against this trait only.
pub trait Signer: Send + Sync {
    /// The key's algorithm, which fixes the signature algorithm too.
    fn algorithm(&self) -> Algorithm;

    /// The public key as it goes into certificates and CSRs.
    fn public_key_spki(&self) -> &SubjectPublicKeyInfoOwned;

    /// Signs `message` (not a digest: SM2 hashes Z_A || M itself) and returns the signature
    /// as it goes into a certificate's BIT STRING: DER `SEQUENCE { r, s }` for SM2 and
    /// ECDSA.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError>;
}

/// A private key held in process memory.
pub struct SoftwareKey {
    key: SoftwareKeyInner,
    spki: SubjectPublicKeyInfoOwned,
}

enum SoftwareKeyInner {
    Sm2(sm2::dsa::SigningKey),
    P256(P256Key),
}

/// A P-256 key: aws-lc-rs signs (several times faster than RustCrypto's `p256`), and the
/// `p256` secret is kept for PKCS#8 export and the key archive.
struct P256Key {
    secret: p256::SecretKey,
    signing: aws_lc_rs::signature::EcdsaKeyPair,
}

impl std::fmt::Debug for SoftwareKey {
    // Never print key material, only what identifies the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl SoftwareKey {
    /// Generates a fresh key pair from the operating system's random source.
    pub fn generate(algorithm: Algorithm) -> Result<Self, PkiError> {
        match algorithm {
            Algorithm::Sm2Sm3 => {
                let secret = sm2::SecretKey::try_generate()
                    .map_err(|e| PkiError::Signing(format!("key generation: {e}")))?;
                Self::from_sm2_secret(&secret)
            }
            Algorithm::EcdsaP256Sha256 => {
                let secret = p256::SecretKey::try_generate()
                    .map_err(|e| PkiError::Signing(format!("key generation: {e}")))?;
                Self::from_p256_secret(&secret)
            }
            Algorithm::RsaSha256 => Err(PkiError::UnsupportedAlgorithm(
                "RSA keys are verified only, never made here".into(),
            )),
        }
    }

    fn from_sm2_secret(secret: &sm2::SecretKey) -> Result<Self, PkiError> {
        let key = sm2::dsa::SigningKey::new(SM2_DEFAULT_DISTID, secret)
            .map_err(|_| PkiError::Signing("invalid SM2 secret key".into()))?;
        let spki = spki_of(secret.public_key())?;
        Ok(SoftwareKey {
            key: SoftwareKeyInner::Sm2(key),
            spki,
        })
    }

    fn from_p256_secret(secret: &p256::SecretKey) -> Result<Self, PkiError> {
        let public_key = secret.public_key();
        let scalar = Zeroizing::new(secret.to_bytes());
        // Uncompressed SEC1 (P-256 does not compress by default), as AWS-LC takes it.
        let point = public_key.to_sec1_bytes();
        let signing = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            scalar.as_slice(),
            &point,
        )
        .map_err(|e| PkiError::Signing(format!("P-256 key: {e}")))?;
        let spki = spki_of(public_key)?;
        Ok(SoftwareKey {
            key: SoftwareKeyInner::P256(P256Key {
                secret: secret.clone(),
                signing,
            }),
            spki,
        })
    }

    /// Exports the private key as `ENCRYPTED PRIVATE KEY` PEM (PKCS#8, PBES2 with scrypt and
    /// AES-256-CBC), which `openssl pkey -passin` reads.
    pub fn to_encrypted_pkcs8_pem(&self, passphrase: &str) -> Result<Zeroizing<String>, PkiError> {
        if passphrase.is_empty() {
            return Err(PkiError::InvalidRequest(
                "an empty passphrase would leave the key unprotected".into(),
            ));
        }
        let pem = match &self.key {
            SoftwareKeyInner::Sm2(key) => sm2::SecretKey::from(key.as_nonzero_scalar())
                .to_pkcs8_encrypted_pem(passphrase, LineEnding::LF),
            SoftwareKeyInner::P256(key) => key
                .secret
                .to_pkcs8_encrypted_pem(passphrase, LineEnding::LF),
        };
        pem.map_err(PkiError::encoding)
    }

    /// Imports a key written by [`SoftwareKey::to_encrypted_pkcs8_pem`] or by
    /// `openssl pkcs8 -topk8 -v2 aes-256-cbc`: SM2 or P-256. A wrong passphrase gives
    /// [`PkiError::WrongPassphrase`]; other keys [`PkiError::UnsupportedAlgorithm`].
    pub fn from_encrypted_pkcs8_pem(pem: &str, passphrase: &str) -> Result<Self, PkiError> {
        let (label, der) = der::pem::decode_vec(pem.as_bytes())
            .map_err(|e| PkiError::malformed("encrypted private key PEM", e))?;
        let der = Zeroizing::new(der);
        if label != "ENCRYPTED PRIVATE KEY" {
            return Err(PkiError::malformed(
                "encrypted private key PEM",
                format!("label {label:?}, expected \"ENCRYPTED PRIVATE KEY\""),
            ));
        }
        let encrypted = EncryptedPrivateKeyInfoRef::from_der(&der)
            .map_err(|e| PkiError::malformed("encrypted private key", e))?;
        // A wrong passphrase shows as bad CBC padding, or (1 time in ~256) as padding that
        // happens to pass and garbage that fails to parse: both mean the same to the user.
        let plain = encrypted
            .decrypt(passphrase)
            .map_err(|_| PkiError::WrongPassphrase)?;
        let info = pkcs8::PrivateKeyInfoRef::try_from(plain.as_bytes())
            .map_err(|_| PkiError::WrongPassphrase)?;
        if info.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "private key algorithm {}",
                info.algorithm.oid
            )));
        }
        let curve: ObjectIdentifier = info
            .algorithm
            .parameters_oid()
            .map_err(|_| PkiError::malformed("private key", "EC key without a named curve"))?;
        let algorithm = Algorithm::ALL
            .into_iter()
            .find(|a| a.curve_oid() == Some(curve))
            .ok_or_else(|| PkiError::UnsupportedAlgorithm(format!("elliptic curve {curve}")))?;
        match algorithm {
            Algorithm::Sm2Sm3 => {
                let secret = sm2::SecretKey::from_pkcs8_der(plain.as_bytes())
                    .map_err(|e| PkiError::malformed("SM2 private key", e))?;
                Self::from_sm2_secret(&secret)
            }
            Algorithm::EcdsaP256Sha256 => {
                let secret = p256::SecretKey::from_pkcs8_der(plain.as_bytes())
                    .map_err(|e| PkiError::malformed("P-256 private key", e))?;
                Self::from_p256_secret(&secret)
            }
            Algorithm::RsaSha256 => Err(PkiError::malformed("private key", "RSA has no curve")),
        }
    }
}

impl SoftwareKey {
    /// Decrypts an SM2 public-key ciphertext (GB/T 32918.4, C1C3C2) in the GM/T 0009 DER form
    /// `SM2Cipher ::= SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER, HASH OCTET STRING,
    /// CipherText OCTET STRING }`, which is also what `openssl pkeyutl -encrypt` writes.
    ///
    /// Only SM2 keys decrypt: a P-256 key gives [`PkiError::AlgorithmMismatch`]. Malformed
    /// input gives [`PkiError::Malformed`]; a ciphertext for another key, or one altered in
    /// transit, fails the SM3 check and gives [`PkiError::Decryption`].
    pub fn sm2_decrypt(&self, ciphertext_der: &[u8]) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        let SoftwareKeyInner::Sm2(key) = &self.key else {
            return Err(PkiError::AlgorithmMismatch {
                expected: Algorithm::Sm2Sm3,
                found: self.algorithm(),
            });
        };
        // Parse first so that a structural problem is reported as such, not as a failed
        // hash check; the crate's own parser then reads the same, now known-good, bytes.
        crate::envelope::Sm2Cipher::parse(ciphertext_der)?;
        let decrypting = sm2::pke::DecryptingKey::new_with_mode(
            *key.as_nonzero_scalar(),
            sm2::pke::Mode::C1C3C2,
        );
        decrypting
            .decrypt_der(ciphertext_der)
            .map(Zeroizing::new)
            .map_err(|_| {
                PkiError::Decryption("SM2 ciphertext is not for this key, or was altered".into())
            })
    }

    /// The private scalar, big-endian, 32 bytes: what GM/T 0009 / GM/T 0016 envelopes and the
    /// key archive encrypt.
    pub(crate) fn private_scalar_bytes(&self) -> Result<Zeroizing<[u8; 32]>, PkiError> {
        let mut out = Zeroizing::new([0u8; 32]);
        // The curve crates hand the scalar out in a plain array: wiped once copied.
        let mut scalar = match &self.key {
            SoftwareKeyInner::Sm2(key) => key.as_nonzero_scalar().to_bytes(),
            SoftwareKeyInner::P256(key) => key.secret.to_bytes(),
        };
        out.copy_from_slice(&scalar);
        zeroize::Zeroize::zeroize(scalar.as_mut_slice());
        Ok(out)
    }

    /// The key pair of `algorithm` whose private scalar is `bytes` (32 bytes, big-endian).
    /// Refuses zero, values not below the group order and wrong lengths.
    pub(crate) fn from_private_scalar_bytes(
        algorithm: Algorithm,
        bytes: &[u8],
    ) -> Result<Self, PkiError> {
        let invalid = |_| PkiError::malformed("private key", "not a valid scalar for the curve");
        match algorithm {
            Algorithm::Sm2Sm3 => {
                Self::from_sm2_secret(&sm2::SecretKey::from_slice(bytes).map_err(invalid)?)
            }
            Algorithm::EcdsaP256Sha256 => {
                Self::from_p256_secret(&p256::SecretKey::from_slice(bytes).map_err(invalid)?)
            }
            Algorithm::RsaSha256 => Err(no_scalar(algorithm)),
        }
    }
}

fn no_scalar(algorithm: Algorithm) -> PkiError {
    PkiError::UnsupportedAlgorithm(format!(
        "{} keys have no private scalar: envelopes and the key archive take SM2 and P-256 keys",
        algorithm.label()
    ))
}

impl Signer for SoftwareKey {
    fn algorithm(&self) -> Algorithm {
        match self.key {
            SoftwareKeyInner::Sm2(_) => Algorithm::Sm2Sm3,
            SoftwareKeyInner::P256(_) => Algorithm::EcdsaP256Sha256,
        }
    }

    fn public_key_spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        // Hedged signatures, so a weak RNG alone cannot leak the key: SM2 mixes fresh
        // randomness into RFC 6979 nonces; AWS-LC (P-256) feeds a hash of the key and the
        // digest into its nonce generator next to fresh randomness.
        match &self.key {
            SoftwareKeyInner::Sm2(key) => {
                let mut rng = rand::rng();
                let sig: sm2::dsa::Signature = key
                    .try_sign_with_rng(&mut rng, message)
                    .map_err(|e| PkiError::Signing(e.to_string()))?;
                // sm2's own bit-string encoding is raw r||s; OpenSSL and GM/T 0009 want DER.
                Ok(sig.to_der().as_bytes().to_vec())
            }
            SoftwareKeyInner::P256(key) => {
                // ECDSA_P256_SHA256_ASN1_SIGNING gives DER `SEQUENCE { r, s }` already.
                let sig = key
                    .signing
                    .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                    .map_err(|e| PkiError::Signing(format!("P-256: {e}")))?;
                Ok(sig.as_ref().to_vec())
            }
        }
    }
}

pub(crate) fn spki_of(
    public_key: impl EncodePublicKey,
) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let der = public_key.to_public_key_der().map_err(PkiError::encoding)?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(PkiError::encoding)
}

/// Adapts a [`Signer`] to the traits x509-cert's builders ask for. The builders only read the
/// public key and the algorithm identifier from it; we sign the finalized TBS bytes ourselves.
pub(crate) struct BuilderKey<'a>(pub(crate) &'a dyn Signer);

/// A public key that is already an encoded SubjectPublicKeyInfo.
#[derive(Clone)]
pub(crate) struct SpkiPublicKey(SubjectPublicKeyInfoOwned);

impl EncodePublicKey for SpkiPublicKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.0)?)
    }
}

impl signature::Keypair for BuilderKey<'_> {
    type VerifyingKey = SpkiPublicKey;

    fn verifying_key(&self) -> SpkiPublicKey {
        SpkiPublicKey(self.0.public_key_spki().clone())
    }
}

impl spki::DynSignatureAlgorithmIdentifier for BuilderKey<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<spki::AlgorithmIdentifierOwned> {
        Ok(self.0.algorithm().signature_algorithm_identifier())
    }
}

/// Signs `tbs` and wraps the DER signature into the BIT STRING that follows it.
pub(crate) fn sign_to_bitstring(
    signer: &dyn Signer,
    tbs: &[u8],
) -> Result<der::asn1::BitString, PkiError> {
    let sig = signer.sign(tbs)?;
    der::asn1::BitString::from_bytes(&sig).map_err(PkiError::encoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{openssl, TempDir};
    use der::Encode;

    #[test]
    fn signatures_verify_and_are_der() {
        for alg in Algorithm::ALL {
            let key = SoftwareKey::generate(alg).expect("generate");
            let sig = key.sign(b"hello").expect("sign");
            assert_eq!(sig[0], 0x30, "{alg}: DER SEQUENCE expected");
            let sig_alg = alg.signature_algorithm_identifier();
            alg.verify(key.public_key_spki(), &sig_alg, b"hello", &sig)
                .expect("verify");
            let err = alg
                .verify(key.public_key_spki(), &sig_alg, b"hellO", &sig)
                .expect_err("other message");
            assert!(matches!(err, PkiError::BadSignature(_)), "{err}");
        }
    }

    #[test]
    fn encrypted_pem_round_trips_and_refuses_wrong_passphrase() {
        let dir = TempDir::new("pkcs8");
        for alg in Algorithm::ALL {
            let key = SoftwareKey::generate(alg).expect("generate");
            let pem = key.to_encrypted_pkcs8_pem("correct horse").expect("export");
            assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));

            let back =
                SoftwareKey::from_encrypted_pkcs8_pem(&pem, "correct horse").expect("import");
            assert_eq!(back.algorithm(), alg);
            assert_eq!(back.public_key_spki(), key.public_key_spki());

            let err =
                SoftwareKey::from_encrypted_pkcs8_pem(&pem, "wrong horse").expect_err("wrong");
            assert!(matches!(err, PkiError::WrongPassphrase), "{err}");
            assert!(err.to_string().contains("wrong passphrase"));

            // OpenSSL reads our file and derives the same public key.
            let key_path = dir.write(&format!("{}.key.pem", alg.slug()), pem.as_bytes());
            let pub_pem = openssl(&[
                "pkey",
                "-in",
                key_path.as_str(),
                "-passin",
                "pass:correct horse",
                "-pubout",
            ]);
            let (_, pub_der) = der::pem::decode_vec(pub_pem.as_bytes()).expect("pub pem");
            assert_eq!(pub_der, key.public_key_spki().to_der().expect("der"));
        }
    }

    #[test]
    fn imports_openssl_encrypted_keys() {
        let dir = TempDir::new("pkcs8-openssl");
        for (alg, genpkey_args) in [
            (Algorithm::Sm2Sm3, &["-algorithm", "SM2"][..]),
            (
                Algorithm::EcdsaP256Sha256,
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
            ),
        ] {
            let plain = dir.path(&format!("{}.plain.pem", alg.slug()));
            let mut args = vec!["genpkey"];
            args.extend_from_slice(genpkey_args);
            args.extend_from_slice(&["-out", plain.as_str()]);
            openssl(&args);
            let enc_pem = openssl(&[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                plain.as_str(),
                "-passout",
                "pass:s3cret",
            ]);
            let key = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "s3cret").expect("import");
            assert_eq!(key.algorithm(), alg);
            let err = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "S3cret").expect_err("wrong");
            assert!(matches!(err, PkiError::WrongPassphrase), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_key_material() {
        for alg in Algorithm::ALL {
            let key = SoftwareKey::generate(alg).expect("generate");
            let debug = format!("{key:?}");
            assert_eq!(debug, format!("SoftwareKey {{ algorithm: {alg:?}, .. }}"));
            let alternate = format!("{key:#?}");
            assert!(!alternate.contains("public_key"), "{alternate}");
        }
    }

    #[test]
    fn refuses_garbage_pem() {
        for input in [
            "",
            "not pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = SoftwareKey::from_encrypted_pkcs8_pem(input, "x").expect_err("garbage");
            assert!(matches!(err, PkiError::Malformed { .. }), "{err}");
        }
    }
}
