//! Personal data at rest (issue 12): the saved application forms (resident ID numbers, mobiles,
//! bank cards) are sealed with SM4-GCM under a data key held like the other secrets, and the
//! person an identity check is about is named by a keyed hash (HMAC-SHA256 under a key derived
//! from the data key), so that a leaked database reveals neither the numbers nor, by trying the
//! few billion possible ID numbers, who they belong to.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{AesGcm, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sm4::cipher::consts::U12;
use sm4::Sm4;
use zeroize::Zeroizing;

use crate::PkiError;

type Sm4Gcm = AesGcm<Sm4, U12>;
type HmacSha256 = Hmac<Sha256>;

const KEY_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// What a sealed value starts with: version 1, SM4-GCM, hex of nonce || ciphertext || tag.
const SEALED_PREFIX: &str = "pd1:";
const AAD: &[u8] = b"certdesk personal data v1";
const SUBJECT_KEY_LABEL: &[u8] = b"certdesk identity subject key v1";

/// The data key. Never printed.
pub struct PersonalDataKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    subject_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for PersonalDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalDataKey").finish_non_exhaustive()
    }
}

impl PersonalDataKey {
    /// The key from its 16 secret bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PkiError> {
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
            PkiError::InvalidRequest(format!(
                "the personal data key is {KEY_LEN} bytes (SM4), got {}",
                bytes.len()
            ))
        })?;
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key)
            .map_err(|e| PkiError::InvalidRequest(e.to_string()))?;
        mac.update(SUBJECT_KEY_LABEL);
        let mut subject_key = Zeroizing::new([0u8; 32]);
        subject_key.copy_from_slice(&mac.finalize().into_bytes());
        Ok(PersonalDataKey {
            key: Zeroizing::new(key),
            subject_key,
        })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::fill(&mut bytes[..]);
        // 16 bytes: from_bytes cannot refuse them.
        Self::from_bytes(&bytes[..]).unwrap_or_else(|_| unreachable!("a 16-byte key"))
    }

    /// The secret bytes, for the operator's secret store.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        self.key.clone()
    }

    fn cipher(&self) -> Result<Sm4Gcm, PkiError> {
        Sm4Gcm::new_from_slice(&self.key[..]).map_err(PkiError::encoding)
    }

    /// Seals `plaintext` for storage.
    pub fn seal(&self, plaintext: &str) -> Result<String, PkiError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let sealed = self
            .cipher()?
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: AAD,
                },
            )
            .map_err(|_| PkiError::Decryption("sealing personal data failed".into()))?;
        Ok(format!(
            "{SEALED_PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(sealed)
        ))
    }

    /// Whether a stored value was sealed (rows written before sealing are plain).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }

    /// The plaintext of a value [`seal`](Self::seal) made; refused when it was altered or
    /// sealed under another key.
    pub fn open(&self, stored: &str) -> Result<String, PkiError> {
        let body = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| PkiError::Decryption("not sealed personal data".into()))?;
        let bytes = hex::decode(body)
            .map_err(|_| PkiError::Decryption("sealed personal data is not hex".into()))?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(PkiError::Decryption(
                "sealed personal data is cut short".into(),
            ));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| PkiError::Decryption("sealed personal data is cut short".into()))?;
        let plain = self
            .cipher()?
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .map_err(|_| {
                PkiError::Decryption(
                    "personal data does not open with this data key (altered, or another key)"
                        .into(),
                )
            })?;
        String::from_utf8(plain)
            .map_err(|_| PkiError::Decryption("personal data is not UTF-8".into()))
    }

    /// The keyed hash (hex) naming the person with a resident ID number, normalised.
    pub fn subject_hash(&self, resident_id: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.subject_key[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"certdesk-identity-subject-v2\0");
        mac.update(resident_id.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_unaltered() {
        let key = PersonalDataKey::generate();
        let sealed = key
            .seal("身份证 11010519491231002X 手机 13812345678")
            .unwrap();
        assert!(PersonalDataKey::is_sealed(&sealed));
        assert!(!sealed.contains("11010519491231002X") && !sealed.contains("13812345678"));
        assert_eq!(
            key.open(&sealed).unwrap(),
            "身份证 11010519491231002X 手机 13812345678"
        );
        // Two seals of the same text differ (fresh nonce).
        assert_ne!(
            sealed,
            key.seal("身份证 11010519491231002X 手机 13812345678")
                .unwrap()
        );
        let other = PersonalDataKey::generate();
        assert!(other.open(&sealed).is_err());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        assert!(key.open(&String::from_utf8(altered).unwrap()).is_err());
        assert!(key.open("{\"plain\":true}").is_err());
        // The key read back from the secret store opens it.
        let again = PersonalDataKey::from_bytes(&key.secret_bytes()[..]).unwrap();
        assert_eq!(
            again.open(&sealed).unwrap(),
            "身份证 11010519491231002X 手机 13812345678"
        );
    }

    #[test]
    fn subject_hashes_need_the_key() {
        let key = PersonalDataKey::generate();
        let id = "11010519491231002x";
        assert_eq!(
            key.subject_hash(id),
            key.subject_hash(" 11010519491231002X ")
        );
        assert_ne!(
            key.subject_hash(id),
            PersonalDataKey::generate().subject_hash(id)
        );
        assert_ne!(key.subject_hash(id), key.subject_hash("110105194912310011"));
    }
}
