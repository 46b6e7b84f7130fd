//! Key management for encryption key pairs (GM/T 0015 dual certificates): the CA side makes
//! the pair, archives its private key under a key-management key (KMK) so that it can be
//! recovered, certifies it, and delivers it to the holder's signing key in an SM2 envelope.
//!
//! Archive choice: SM4-GCM (RFC 8998 §2.2; GM/T 0006 OID 1.2.156.10197.1.104.8) with a 128-bit
//! KMK, not the passphrase PKCS#8 export. The KMK is a random key, not a password, so a
//! password KDF (scrypt) would only cost time per archived key; PBES2's AES-CBC has no
//! integrity, so a wrong KMK or an altered archive could not be told apart reliably; and an
//! SM algorithm keeps the key-management path within the GM suite that Chinese
//! cryptography assessments (密评) expect. The AEAD's associated data binds the archive to
//! its KMK id and its public key, so archives cannot be swapped between records unnoticed.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{AesGcm, KeyInit};
use der::asn1::{ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Decode, Encode, Sequence};
use sm4::cipher::consts::U12;
use sm4::Sm4;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::Certificate;
use zeroize::Zeroizing;

use crate::envelope::{seal_encryption_key, SealedKey};
use crate::leaf::issue_leaf_for_key;
use crate::{Algorithm, LeafProfile, LeafRequest, PkiError, Signer, SoftwareKey, VerifiedCsr};

/// SM4 in GCM mode (GM/T 0006: sm-scheme 104.8).
pub const OID_SM4_GCM: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.104.8");

/// SM4-GCM with the 96-bit nonce of RFC 8998 and a 128-bit tag.
type Sm4Gcm = AesGcm<Sm4, U12>;

const KMK_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const ARCHIVE_VERSION: u8 = 1;
/// Domain separation for the AEAD associated data.
const AAD_LABEL: &[u8] = b"certdesk encryption-key archive v1\0";
/// Largest archive we parse; a real one is about 200 bytes.
const MAX_ARCHIVE_BYTES: usize = 4096;

/// The key-management key: a 128-bit SM4 key with an identifier, so that archives name the
/// KMK they were sealed under and KMKs can be rotated. Never printed.
pub struct KeyManagementKey {
    id: String,
    key: Zeroizing<[u8; KMK_LEN]>,
}

impl std::fmt::Debug for KeyManagementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManagementKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl KeyManagementKey {
    /// A KMK from its 16 secret bytes (e.g. read from the operator's secret store).
    pub fn from_bytes(id: &str, key: &[u8]) -> Result<Self, PkiError> {
        check_kmk_id(id)?;
        let key: [u8; KMK_LEN] = key.try_into().map_err(|_| {
            PkiError::InvalidRequest(format!(
                "a key-management key is {KMK_LEN} bytes (SM4), got {}",
                key.len()
            ))
        })?;
        Ok(KeyManagementKey {
            id: id.to_string(),
            key: Zeroizing::new(key),
        })
    }

    /// A fresh random KMK.
    pub fn generate(id: &str) -> Result<Self, PkiError> {
        check_kmk_id(id)?;
        let mut key = Zeroizing::new([0u8; KMK_LEN]);
        rand::fill(&mut key[..]);
        Ok(KeyManagementKey {
            id: id.to_string(),
            key,
        })
    }

    /// The identifier archives record.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret bytes, for the operator's secret store.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; KMK_LEN]> {
        self.key.clone()
    }

    fn cipher(&self) -> Result<Sm4Gcm, PkiError> {
        Sm4Gcm::new_from_slice(&self.key[..]).map_err(PkiError::encoding)
    }
}

fn check_kmk_id(id: &str) -> Result<(), PkiError> {
    if id.is_empty() || id.len() > 64 || id.chars().any(char::is_control) {
        return Err(PkiError::InvalidRequest(
            "a key-management key id is 1 to 64 bytes without control characters".into(),
        ));
    }
    Ok(())
}

/// An encryption private key sealed under a KMK, with the public key it belongs to.
/// Serialised as DER:
///
/// ```text
/// EncryptionKeyArchive ::= SEQUENCE {
///   version      INTEGER (1),
///   kmkId        UTF8String,
///   publicKey    SubjectPublicKeyInfo,
///   algorithm    OBJECT IDENTIFIER,  -- 1.2.156.10197.1.104.8 (SM4-GCM)
///   nonce        OCTET STRING,       -- 12 bytes
///   sealedKey    OCTET STRING }      -- SM4-GCM(32-byte private scalar) || 16-byte tag
/// ```
///
/// The associated data is a fixed label, the DER of kmkId, then the DER of publicKey.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct KeyArchive {
    version: u8,
    kmk_id: String,
    public_key: SubjectPublicKeyInfoOwned,
    algorithm: ObjectIdentifier,
    nonce: OctetString,
    sealed_key: OctetString,
}

impl KeyArchive {
    /// Archives `key`'s private key under `kmk`. Works for SM2 and P-256 [`SoftwareKey`]s;
    /// dual certificates use it for SM2.
    pub fn seal(key: &SoftwareKey, kmk: &KeyManagementKey) -> Result<Self, PkiError> {
        let public_key = key.public_key_spki().clone();
        let aad = associated_data(&kmk.id, &public_key)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let scalar = key.private_scalar_bytes()?;
        let sealed = kmk
            .cipher()?
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: &scalar[..],
                    aad: &aad,
                },
            )
            .map_err(|_| PkiError::encoding("SM4-GCM encryption"))?;
        Ok(KeyArchive {
            version: ARCHIVE_VERSION,
            kmk_id: kmk.id.clone(),
            public_key,
            algorithm: OID_SM4_GCM,
            nonce: OctetString::new(nonce).map_err(PkiError::encoding)?,
            sealed_key: OctetString::new(sealed).map_err(PkiError::encoding)?,
        })
    }

    /// Recovers the key pair. A KMK with another id, a wrong KMK or an altered archive gives
    /// [`PkiError::Decryption`]. Recovery is a sensitive act: the caller audits it.
    pub fn recover(&self, kmk: &KeyManagementKey) -> Result<SoftwareKey, PkiError> {
        if self.version != ARCHIVE_VERSION {
            return Err(PkiError::malformed(
                "key archive",
                format!("version {}", self.version),
            ));
        }
        if self.algorithm != OID_SM4_GCM {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "key archive algorithm {}",
                self.algorithm
            )));
        }
        if self.kmk_id != kmk.id {
            return Err(PkiError::Decryption(format!(
                "the archive was sealed under key-management key {:?}, not {:?}",
                self.kmk_id, kmk.id
            )));
        }
        let algorithm = Algorithm::of_public_key(&self.public_key)?;
        let nonce: &[u8; NONCE_LEN] = self
            .nonce
            .as_bytes()
            .try_into()
            .map_err(|_| PkiError::malformed("key archive", "nonce is not 12 bytes"))?;
        let aad = associated_data(&self.kmk_id, &self.public_key)?;
        let scalar = kmk
            .cipher()?
            .decrypt(
                nonce.into(),
                Payload {
                    msg: self.sealed_key.as_bytes(),
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                PkiError::Decryption("wrong key-management key, or the archive was altered".into())
            })?;
        let key = SoftwareKey::from_private_scalar_bytes(algorithm, &scalar)?;
        // The tag already binds the public key; this guards against a sealing-side bug.
        if key.public_key_spki() != &self.public_key {
            return Err(PkiError::Decryption(
                "the archived private key does not match its public key".into(),
            ));
        }
        Ok(key)
    }

    /// The id of the KMK this archive needs.
    pub fn kmk_id(&self) -> &str {
        &self.kmk_id
    }

    /// The public key whose private key is archived.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    /// DER, for storage.
    pub fn to_der_bytes(&self) -> Result<Vec<u8>, PkiError> {
        self.to_der().map_err(PkiError::encoding)
    }

    /// Parses what [`KeyArchive::to_der_bytes`] wrote.
    pub fn from_der_bytes(der: &[u8]) -> Result<Self, PkiError> {
        if der.len() > MAX_ARCHIVE_BYTES {
            return Err(PkiError::malformed("key archive", "too large"));
        }
        Self::from_der(der).map_err(|e| PkiError::malformed("key archive", e))
    }
}

fn associated_data(
    kmk_id: &str,
    public_key: &SubjectPublicKeyInfoOwned,
) -> Result<Vec<u8>, PkiError> {
    let mut aad = AAD_LABEL.to_vec();
    Utf8StringRef::new(kmk_id)
        .and_then(|id| id.encode_to_vec(&mut aad))
        .map_err(PkiError::encoding)?;
    public_key
        .encode_to_vec(&mut aad)
        .map_err(PkiError::encoding)?;
    Ok(aad)
}

/// What one dual issuance produces. The server stores the certificates and the archive, and
/// hands the envelope (either form) and both certificates to the key holder.
#[derive(Debug, Clone)]
pub struct DualIssuance {
    pub signing_cert: Certificate,
    pub encryption_cert: Certificate,
    pub encryption_key_archive: KeyArchive,
    pub envelope: SealedKey,
}

/// The encryption key pair of a dual issuance.
#[derive(Debug, Clone, Copy)]
pub enum EncryptionKeyPair<'a> {
    /// A new key pair, made here (新办, 补办 without restore).
    Fresh,
    /// A key pair certified before and recovered from its archive: a renewal keeps it, and
    /// 补办 restores it on request, so files encrypted to the old certificate still open.
    Kept(&'a SoftwareKey),
}

/// Issues an SM2 dual certificate: the signing certificate for the key proved by
/// `signing_csr`, and an encryption certificate for `encryption` (a key pair made here, or one
/// kept from an earlier certificate), archived under `kmk` and sealed to the signing key. P-256 has no public-key encryption to envelope with,
/// so it is refused. Nothing is stored here; on error nothing was handed out.
pub fn issue_dual(
    issuing_ca_signer: &dyn Signer,
    issuing_ca_cert: &Certificate,
    signing_csr: &VerifiedCsr,
    sign_request: &LeafRequest,
    enc_request: &LeafRequest,
    kmk: &KeyManagementKey,
    encryption: EncryptionKeyPair<'_>,
) -> Result<DualIssuance, PkiError> {
    for algorithm in [issuing_ca_signer.algorithm(), signing_csr.algorithm] {
        if algorithm != Algorithm::Sm2Sm3 {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "dual certificates are issued for SM2 only (SM2 envelopes), not {algorithm}"
            )));
        }
    }
    if sign_request.profile != LeafProfile::Sign || enc_request.profile != LeafProfile::Enc {
        return Err(PkiError::InvalidRequest(
            "dual issuance needs a Sign request and an Enc request, in that order".into(),
        ));
    }
    if sign_request.serial == enc_request.serial {
        return Err(PkiError::InvalidRequest(
            "the signing and encryption certificates need different serial numbers".into(),
        ));
    }

    let fresh;
    let encryption_key = match encryption {
        EncryptionKeyPair::Fresh => {
            fresh = SoftwareKey::generate(Algorithm::Sm2Sm3)?;
            &fresh
        }
        EncryptionKeyPair::Kept(key) if key.algorithm() != Algorithm::Sm2Sm3 => {
            return Err(PkiError::InvalidRequest(
                "a kept encryption key must be an SM2 key".into(),
            ))
        }
        EncryptionKeyPair::Kept(key) => key,
    };
    // Seal and archive before signing anything: if key management fails, no certificate
    // exists for a key nobody could receive or recover.
    let envelope = seal_encryption_key(encryption_key, &signing_csr.public_key)?;
    let encryption_key_archive = KeyArchive::seal(encryption_key, kmk)?;
    let signing_cert = issue_leaf_for_key(
        issuing_ca_signer,
        issuing_ca_cert,
        signing_csr.algorithm,
        &signing_csr.public_key,
        sign_request,
    )?;
    let encryption_cert = issue_leaf_for_key(
        issuing_ca_signer,
        issuing_ca_cert,
        Algorithm::Sm2Sm3,
        encryption_key.public_key_spki(),
        enc_request,
    )?;
    Ok(DualIssuance {
        signing_cert,
        encryption_cert,
        encryption_key_archive,
        envelope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::{make_csr, parse_and_verify_csr};
    use crate::envelope::{open_gmt0009_envelope, open_skf_envelope};
    use crate::leaf::tests::leaf_request;
    use crate::CaHierarchy;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn sm4_gcm_matches_rfc_8998_test_vector() {
        // RFC 8998 Appendix A.1 (SM4-GCM).
        let kmk = KeyManagementKey::from_bytes("kat", &unhex("0123456789ABCDEFFEDCBA9876543210"))
            .expect("kmk");
        let nonce: [u8; 12] = unhex("00001234567800000000ABCD").try_into().expect("12");
        let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let plain = unhex(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let out = kmk
            .cipher()
            .expect("cipher")
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .expect("encrypt");
        let expected = unhex(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735
             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D
             83DE3541E4C2B58177E065A9BF7B62EC",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn archive_round_trips_and_refuses_wrong_kmk_and_tampering() {
        let kmk = KeyManagementKey::generate("kmk-2026").expect("kmk");
        assert!(!format!("{kmk:?}").contains(&format!("{:?}", &kmk.secret_bytes()[..4])));
        for algorithm in Algorithm::ALL {
            let key = SoftwareKey::generate(algorithm).expect("key");
            let archive = KeyArchive::seal(&key, &kmk).expect("seal");
            let der = archive.to_der_bytes().expect("der");
            let parsed = KeyArchive::from_der_bytes(&der).expect("parse");
            assert_eq!(parsed, archive);
            assert_eq!(parsed.kmk_id(), "kmk-2026");
            let back = parsed.recover(&kmk).expect("recover");
            assert_eq!(back.public_key_spki(), key.public_key_spki());
            assert_eq!(
                *back.private_scalar_bytes().expect("scalar"),
                *key.private_scalar_bytes().expect("scalar")
            );

            // Same id, other secret: the tag fails.
            let impostor = KeyManagementKey::from_bytes("kmk-2026", &[7u8; 16]).expect("impostor");
            let err = archive.recover(&impostor).expect_err("wrong kmk");
            assert!(matches!(err, PkiError::Decryption(_)), "{err}");
            // Another id is refused before any decryption.
            let other = KeyManagementKey::generate("kmk-2027").expect("kmk");
            let err = archive.recover(&other).expect_err("other id");
            assert!(err.to_string().contains("kmk-2026"), "{err}");

            // Any flipped bit of the sealed key or nonce fails authentication.
            let mut tampered = archive.clone();
            let mut sealed = tampered.sealed_key.as_bytes().to_vec();
            sealed[0] ^= 1;
            tampered.sealed_key = OctetString::new(sealed).expect("octets");
            let err = tampered.recover(&kmk).expect_err("tampered");
            assert!(matches!(err, PkiError::Decryption(_)), "{err}");
            // A swapped public key breaks the associated data.
            let mut swapped = archive.clone();
            swapped.public_key = SoftwareKey::generate(algorithm)
                .expect("key")
                .public_key_spki()
                .clone();
            let err = swapped.recover(&kmk).expect_err("swapped");
            assert!(matches!(err, PkiError::Decryption(_)), "{err}");
        }
        assert!(KeyManagementKey::from_bytes("x", &[0u8; 32]).is_err());
        assert!(KeyManagementKey::generate("").is_err());
        assert!(KeyArchive::from_der_bytes(b"\x30\x03\x02\x01\x01").is_err());
    }

    #[test]
    fn dual_issuance_delivers_the_certified_key() {
        let ca = CaHierarchy::generate(Algorithm::Sm2Sm3, "certdesk").expect("ca");
        let ukey_signing = SoftwareKey::generate(Algorithm::Sm2Sm3).expect("ukey");
        let csr_der = make_csr(&ukey_signing, crate::csr::tests::subject()).expect("csr");
        let csr = parse_and_verify_csr(&csr_der).expect("csr");
        let kmk = KeyManagementKey::generate("kmk-1").expect("kmk");
        let dual = issue_dual(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr,
            &leaf_request(LeafProfile::Sign),
            &leaf_request(LeafProfile::Enc),
            &kmk,
            EncryptionKeyPair::Fresh,
        )
        .expect("dual");

        let sign_spki = dual
            .signing_cert
            .tbs_certificate()
            .subject_public_key_info();
        let enc_spki = dual
            .encryption_cert
            .tbs_certificate()
            .subject_public_key_info();
        assert_eq!(sign_spki, ukey_signing.public_key_spki());
        assert_ne!(enc_spki, sign_spki);
        for cert in [&dual.signing_cert, &dual.encryption_cert] {
            crate::verify_certificate_signature(cert, &ca.issuing_cert).expect("verify");
        }

        // The UKey opens either envelope form with its signing key and gets exactly the key
        // pair the encryption certificate certifies; the archive recovers the same key.
        let from_der =
            open_gmt0009_envelope(&dual.envelope.gmt0009_der, &ukey_signing).expect("open der");
        let from_skf = open_skf_envelope(&dual.envelope.skf_blob, &ukey_signing).expect("skf");
        let recovered = dual.encryption_key_archive.recover(&kmk).expect("recover");
        for key in [&from_der, &from_skf, &recovered] {
            assert_eq!(key.public_key_spki(), enc_spki);
        }
        assert_eq!(dual.encryption_key_archive.public_key(), enc_spki);
        // And the delivered key decrypts what is encrypted to the encryption certificate.
        let ct = crate::sm2_encrypt(enc_spki, b"bid document key").expect("encrypt");
        assert_eq!(
            &from_skf.sm2_decrypt(&ct).expect("decrypt")[..],
            b"bid document key"
        );
    }

    #[test]
    fn a_kept_encryption_key_is_certified_again_and_still_decrypts() {
        let ca = CaHierarchy::generate(Algorithm::Sm2Sm3, "certdesk").expect("ca");
        let ukey_signing = SoftwareKey::generate(Algorithm::Sm2Sm3).expect("ukey");
        let csr = parse_and_verify_csr(
            &make_csr(&ukey_signing, crate::csr::tests::subject()).expect("csr"),
        )
        .expect("csr");
        let kmk = KeyManagementKey::generate("kmk-1").expect("kmk");
        let issue = |encryption| {
            issue_dual(
                &ca.issuing_key,
                &ca.issuing_cert,
                &csr,
                &leaf_request(LeafProfile::Sign),
                &leaf_request(LeafProfile::Enc),
                &kmk,
                encryption,
            )
            .expect("dual")
        };
        let first = issue(EncryptionKeyPair::Fresh);
        let old_spki = first
            .encryption_cert
            .tbs_certificate()
            .subject_public_key_info()
            .clone();
        let ct = crate::sm2_encrypt(&old_spki, b"bid sealed last year").expect("encrypt");
        let kept = first.encryption_key_archive.recover(&kmk).expect("recover");
        let renewed = issue(EncryptionKeyPair::Kept(&kept));
        assert_eq!(
            renewed
                .encryption_cert
                .tbs_certificate()
                .subject_public_key_info(),
            &old_spki
        );
        let delivered = open_skf_envelope(&renewed.envelope.skf_blob, &ukey_signing).expect("skf");
        assert_eq!(
            &delivered.sm2_decrypt(&ct).expect("decrypt")[..],
            b"bid sealed last year"
        );
        // A fresh pair is another key.
        let other = issue(EncryptionKeyPair::Fresh);
        assert_ne!(
            other
                .encryption_cert
                .tbs_certificate()
                .subject_public_key_info(),
            &old_spki
        );
        let p256 = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).expect("p256");
        let err = issue_dual(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr,
            &leaf_request(LeafProfile::Sign),
            &leaf_request(LeafProfile::Enc),
            &kmk,
            EncryptionKeyPair::Kept(&p256),
        )
        .expect_err("p256 kept");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn dual_issuance_refuses_p256_and_muddled_requests() {
        let kmk = KeyManagementKey::generate("kmk-1").expect("kmk");
        let ca = CaHierarchy::generate(Algorithm::EcdsaP256Sha256, "certdesk").expect("ca");
        let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).expect("key");
        let csr = parse_and_verify_csr(&make_csr(&key, crate::csr::tests::subject()).expect("csr"))
            .expect("csr");
        let err = issue_dual(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr,
            &leaf_request(LeafProfile::Sign),
            &leaf_request(LeafProfile::Enc),
            &kmk,
            EncryptionKeyPair::Fresh,
        )
        .expect_err("p256");
        assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");
        assert!(err.to_string().contains("SM2 only"), "{err}");

        let ca = CaHierarchy::generate(Algorithm::Sm2Sm3, "certdesk").expect("ca");
        let key = SoftwareKey::generate(Algorithm::Sm2Sm3).expect("key");
        let csr = parse_and_verify_csr(&make_csr(&key, crate::csr::tests::subject()).expect("csr"))
            .expect("csr");
        let sign = leaf_request(LeafProfile::Sign);
        let err = issue_dual(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr,
            &sign,
            &sign,
            &kmk,
            EncryptionKeyPair::Fresh,
        )
        .expect_err("two sign requests");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
        let mut enc = leaf_request(LeafProfile::Enc);
        enc.serial = sign.serial.clone();
        let err = issue_dual(
            &ca.issuing_key,
            &ca.issuing_cert,
            &csr,
            &sign,
            &enc,
            &kmk,
            EncryptionKeyPair::Fresh,
        )
        .expect_err("same serial");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
    }
}
