//! The [`Signer`] trait and its software backend: keys held in memory (SM2, ECDSA P-256,
//! RSA-2048), stored as passphrase-encrypted PKCS#8 PEM.

use der::asn1::ObjectIdentifier;
use der::Decode;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncryptedPrivateKeyInfoRef, LineEnding};
use signature::RandomizedSigner;
use sm2::elliptic_curve::Generate;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::algorithm::{
    rsa_modulus_bits, uint_bits, Algorithm, MIN_RSA_BITS, OID_EC_PUBLIC_KEY, OID_RSA_ENCRYPTION,
    RSA_KEY_BACKEND_BITS, SM2_DEFAULT_DISTID,
};
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
    /// ECDSA; for RSA the PKCS#1 v1.5 signature integer, big-endian, as long as the modulus.
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
    /// Always 2048 bits: checked on generation and import.
    Rsa(aws_lc_rs::rsa::KeyPair),
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
            Algorithm::RsaSha256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|e| PkiError::Signing(format!("RSA key generation: {e}")))?;
                Self::from_rsa_key_pair(pair)
            }
        }
    }

    fn from_rsa_key_pair(pair: aws_lc_rs::rsa::KeyPair) -> Result<Self, PkiError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        // AWS-LC writes rsaEncryption with NULL parameters, as RFC 3279 asks.
        let spki_der = pair
            .public_key()
            .as_der()
            .map_err(|e| PkiError::encoding(format!("RSA public key: {e}")))?;
        let spki =
            SubjectPublicKeyInfoOwned::from_der(spki_der.as_ref()).map_err(PkiError::encoding)?;
        let bits = rsa_modulus_bits(&spki)?;
        if bits != RSA_KEY_BACKEND_BITS {
            return Err(unsupported_rsa_size(bits));
        }
        Ok(SoftwareKey {
            key: SoftwareKeyInner::Rsa(pair),
            spki,
        })
    }

    /// Imports an RSA `PrivateKeyInfo` (its inner key the PKCS#1 `RSAPrivateKey`), after
    /// checking the modulus is 2048 bits.
    fn from_rsa_pkcs8(info: &pkcs8::PrivateKeyInfoRef<'_>, pkcs8: &[u8]) -> Result<Self, PkiError> {
        let bits = rsa_private_key_bits(info.private_key.as_bytes())?;
        if bits != RSA_KEY_BACKEND_BITS {
            return Err(unsupported_rsa_size(bits));
        }
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| PkiError::malformed("RSA private key", e))?;
        Self::from_rsa_key_pair(pair)
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
            SoftwareKeyInner::Rsa(pair) => {
                use aws_lc_rs::encoding::AsDer;
                // PKCS#8 v1 PrivateKeyInfo around RSAPrivateKey; AWS-LC zeroizes the buffer.
                let plain = pair
                    .as_der()
                    .map_err(|e| PkiError::encoding(format!("RSA private key: {e}")))?;
                Pkcs8Der(plain.as_ref()).to_pkcs8_encrypted_pem(passphrase, LineEnding::LF)
            }
        };
        pem.map_err(PkiError::encoding)
    }

    /// Imports a key written by [`SoftwareKey::to_encrypted_pkcs8_pem`] or by
    /// `openssl pkcs8 -topk8 -v2 aes-256-cbc`: SM2, P-256 or RSA-2048. A wrong passphrase
    /// gives [`PkiError::WrongPassphrase`]; RSA keys of other sizes are refused
    /// ([`PkiError::WeakKey`] below 2048 bits, [`PkiError::UnsupportedAlgorithm`] above).
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
        if info.algorithm.oid == OID_RSA_ENCRYPTION {
            return Self::from_rsa_pkcs8(&info, plain.as_bytes());
        }
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
        let algorithm = Algorithm::KEY_BACKENDS
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

/// Why an RSA key of `bits` is not taken by the software key backend.
fn unsupported_rsa_size(bits: usize) -> PkiError {
    if bits < MIN_RSA_BITS {
        PkiError::WeakKey(format!(
            "RSA-{bits}: the RSA key backend takes RSA-{RSA_KEY_BACKEND_BITS} keys only"
        ))
    } else {
        PkiError::UnsupportedAlgorithm(format!(
            "RSA-{bits}: the RSA key backend takes RSA-{RSA_KEY_BACKEND_BITS} keys only"
        ))
    }
}

/// Modulus size of a PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2), read before AWS-LC sees it
/// so that the refusal can name the size.
fn rsa_private_key_bits(rsa_private_key: &[u8]) -> Result<usize, PkiError> {
    #[derive(der::Sequence)]
    #[allow(dead_code)]
    struct RsaPrivateKey<'a> {
        version: der::asn1::UintRef<'a>,
        modulus: der::asn1::UintRef<'a>,
        public_exponent: der::asn1::UintRef<'a>,
        private_exponent: der::asn1::UintRef<'a>,
        prime1: der::asn1::UintRef<'a>,
        prime2: der::asn1::UintRef<'a>,
        exponent1: der::asn1::UintRef<'a>,
        exponent2: der::asn1::UintRef<'a>,
        coefficient: der::asn1::UintRef<'a>,
        other_prime_infos: Option<der::asn1::AnyRef<'a>>,
    }
    let key = RsaPrivateKey::from_der(rsa_private_key)
        .map_err(|e| PkiError::malformed("RSA private key", e))?;
    Ok(uint_bits(key.modulus.as_bytes()))
}

/// An unencrypted PKCS#8 `PrivateKeyInfo` already encoded, so that RSA keys are encrypted
/// through the same `pkcs8` PBES2 code (scrypt, AES-256-CBC) as the elliptic-curve ones.
struct Pkcs8Der<'a>(&'a [u8]);

impl EncodePrivateKey for Pkcs8Der<'_> {
    fn to_pkcs8_der(&self) -> pkcs8::Result<der::SecretDocument> {
        Ok(der::SecretDocument::try_from(self.0)?)
    }
}

impl SoftwareKey {
    /// Decrypts an SM2 public-key ciphertext (GB/T 32918.4, C1C3C2) in the GM/T 0009 DER form
    /// `SM2Cipher ::= SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER, HASH OCTET STRING,
    /// CipherText OCTET STRING }`, which is also what `openssl pkeyutl -encrypt` writes.
    ///
    /// Only SM2 keys decrypt: a P-256 or RSA key gives [`PkiError::AlgorithmMismatch`]. Malformed
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
    /// key archive encrypt. RSA keys have none: [`PkiError::UnsupportedAlgorithm`].
    pub(crate) fn private_scalar_bytes(&self) -> Result<Zeroizing<[u8; 32]>, PkiError> {
        let mut out = Zeroizing::new([0u8; 32]);
        // The curve crates hand the scalar out in a plain array: wiped once copied.
        let mut scalar = match &self.key {
            SoftwareKeyInner::Sm2(key) => key.as_nonzero_scalar().to_bytes(),
            SoftwareKeyInner::P256(key) => key.secret.to_bytes(),
            SoftwareKeyInner::Rsa(_) => return Err(no_scalar(Algorithm::RsaSha256)),
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
            SoftwareKeyInner::Rsa(_) => Algorithm::RsaSha256,
        }
    }

    fn public_key_spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        // Hedged signatures, so a weak RNG alone cannot leak the key: SM2 mixes fresh
        // randomness into RFC 6979 nonces; AWS-LC (P-256) feeds a hash of the key and the
        // digest into its nonce generator next to fresh randomness. RSA PKCS#1 v1.5 is
        // deterministic and takes no randomness.
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
            SoftwareKeyInner::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|e| PkiError::Signing(format!("RSA: {e}")))?;
                Ok(sig)
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
    use crate::test_support::{openssl, openssl_status, TempDir};
    use der::{Encode, EncodePem};

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

    /// `openssl genpkey` RSA of `bits`, encrypted by `openssl pkcs8 -topk8 -v2 aes-256-cbc`.
    /// Returns (encrypted PEM, path of the plain key).
    fn openssl_rsa_key(dir: &TempDir, bits: u32, passphrase: &str) -> (String, String) {
        let plain = dir.path(&format!("rsa{bits}.plain.pem"));
        let bits_opt = format!("rsa_keygen_bits:{bits}");
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            bits_opt.as_str(),
            "-out",
            plain.as_str(),
        ]);
        let passout = format!("pass:{passphrase}");
        let enc_pem = openssl(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            plain.as_str(),
            "-passout",
            passout.as_str(),
        ]);
        (enc_pem, plain)
    }

    /// OpenSSL's verdict on an RSA PKCS#1 v1.5 SHA-256 signature by `key` over `message`.
    fn openssl_dgst_verify(dir: &TempDir, key: &SoftwareKey, message: &[u8], sig: &[u8]) -> String {
        let spki_pem = key
            .public_key_spki()
            .to_pem(LineEnding::LF)
            .expect("spki pem");
        let pub_path = dir.write("pub.pem", spki_pem.as_bytes());
        let msg_path = dir.write("msg.bin", message);
        let sig_path = dir.write("sig.bin", sig);
        let (_, stdout, stderr) = openssl_status(&[
            "dgst",
            "-sha256",
            "-verify",
            pub_path.as_str(),
            "-signature",
            sig_path.as_str(),
            msg_path.as_str(),
        ]);
        format!("{stdout}{stderr}")
    }

    #[test]
    fn rsa_2048_generates_signs_and_round_trips_through_openssl() {
        let dir = TempDir::new("rsa-backend");
        let key = SoftwareKey::generate(Algorithm::RsaSha256).expect("generate");
        assert_eq!(key.algorithm(), Algorithm::RsaSha256);
        let spki = key.public_key_spki();
        assert_eq!(spki.algorithm.oid, OID_RSA_ENCRYPTION);
        assert_eq!(rsa_modulus_bits(spki).expect("bits"), 2048);
        assert_eq!(
            Algorithm::of_public_key(spki).expect("of_public_key"),
            Algorithm::RsaSha256
        );

        // Signatures: PKCS#1 v1.5 SHA-256, as long as the modulus; ours and OpenSSL's verify.
        let message = b"certdesk RSA-2048 backend";
        let sig = key.sign(message).expect("sign");
        assert_eq!(sig.len(), 256);
        let sig_alg = Algorithm::RsaSha256.signature_algorithm_identifier();
        Algorithm::RsaSha256
            .verify(spki, &sig_alg, message, &sig)
            .expect("verify");
        let err = Algorithm::RsaSha256
            .verify(spki, &sig_alg, b"certdesk RSA-2048 backenD", &sig)
            .expect_err("other message");
        assert!(matches!(err, PkiError::BadSignature(_)), "{err}");
        let verdict = openssl_dgst_verify(&dir, &key, message, &sig);
        assert!(verdict.contains("Verified OK"), "{verdict}");
        // PKCS#1 v1.5 is deterministic: the same message gives the same signature.
        assert_eq!(key.sign(message).expect("sign again"), sig);

        // Encrypted PKCS#8 export: we read it back, OpenSSL reads it and agrees on the key.
        let pem = key.to_encrypted_pkcs8_pem("correct horse").expect("export");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let back = SoftwareKey::from_encrypted_pkcs8_pem(&pem, "correct horse").expect("import");
        assert_eq!(back.algorithm(), Algorithm::RsaSha256);
        assert_eq!(back.public_key_spki(), key.public_key_spki());
        assert_eq!(back.sign(message).expect("sign"), sig);
        let err = SoftwareKey::from_encrypted_pkcs8_pem(&pem, "wrong horse").expect_err("wrong");
        assert!(matches!(err, PkiError::WrongPassphrase), "{err}");

        let key_path = dir.write("rsa.key.pem", pem.as_bytes());
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
        let text = openssl(&[
            "pkey",
            "-in",
            key_path.as_str(),
            "-passin",
            "pass:correct horse",
            "-noout",
            "-text",
        ]);
        assert!(text.contains("Private-Key: (2048 bit"), "{text}");

        // RSA keys have no scalar for envelopes or the key archive.
        let err = key.private_scalar_bytes().expect_err("no scalar");
        assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");
    }

    #[test]
    fn imports_openssl_encrypted_rsa_2048_and_signs_for_openssl() {
        let dir = TempDir::new("rsa-openssl");
        let (enc_pem, plain) = openssl_rsa_key(&dir, 2048, "s3cret");
        let key = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "s3cret").expect("import");
        assert_eq!(key.algorithm(), Algorithm::RsaSha256);
        let pub_pem = openssl(&["pkey", "-in", plain.as_str(), "-pubout"]);
        let (_, pub_der) = der::pem::decode_vec(pub_pem.as_bytes()).expect("pub pem");
        assert_eq!(pub_der, key.public_key_spki().to_der().expect("der"));

        let message = b"signed by an OpenSSL-made key";
        let sig = key.sign(message).expect("sign");
        let verdict = openssl_dgst_verify(&dir, &key, message, &sig);
        assert!(verdict.contains("Verified OK"), "{verdict}");
        let mut bad = sig.clone();
        bad[10] ^= 0x01;
        let verdict = openssl_dgst_verify(&dir, &key, message, &bad);
        assert!(!verdict.contains("Verified OK"), "{verdict}");

        let err = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "S3cret").expect_err("wrong");
        assert!(matches!(err, PkiError::WrongPassphrase), "{err}");
    }

    #[test]
    fn refuses_rsa_keys_other_than_2048_bits() {
        let dir = TempDir::new("rsa-sizes");
        let (enc_pem, _) = openssl_rsa_key(&dir, 3072, "s3cret");
        let err = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "s3cret").expect_err("3072");
        assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "unsupported algorithm: RSA-3072: the RSA key backend takes RSA-2048 keys only"
        );
        // The passphrase is checked first: a wrong one says so, whatever the key size.
        let err = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "x").expect_err("wrong");
        assert!(matches!(err, PkiError::WrongPassphrase), "{err}");

        let (enc_pem, _) = openssl_rsa_key(&dir, 1024, "s3cret");
        let err = SoftwareKey::from_encrypted_pkcs8_pem(&enc_pem, "s3cret").expect_err("1024");
        assert!(matches!(err, PkiError::WeakKey(_)), "{err}");
        assert!(err.to_string().contains("RSA-1024"), "{err}");
    }

    #[test]
    fn debug_never_shows_key_material() {
        for alg in Algorithm::KEY_BACKENDS {
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
