//! Seals on the audit chain's head (issue 11): whoever can write the audit table can recompute
//! its hash chain, but not a seal, which needs a key held in the CA zone. The key is derived
//! from the key-management key (HMAC-SHA256 with a fixed label), so it lives where the KMK does
//! and needs no storage of its own. A seal covers (sequence, hash, time) of the head: the chain
//! can then neither be rewritten up to a sealed entry nor cut off after it unseen.

use crate::KeyManagementKey;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

const KEY_LABEL: &[u8] = b"certdesk audit seal key v1";

/// The key that seals the audit chain's head.
pub struct AuditSealKey {
    key: Zeroizing<[u8; 32]>,
}

impl AuditSealKey {
    /// The seal key of a key-management key.
    pub fn from_kmk(kmk: &KeyManagementKey) -> Self {
        let secret = kmk.secret_bytes();
        let mut mac = HmacSha256::new_from_slice(&secret[..]).expect("HMAC takes any key length");
        mac.update(KEY_LABEL);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&mac.finalize().into_bytes());
        AuditSealKey { key }
    }

    fn mac(&self, sequence: i64, hash: &str, sealed_at: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key[..]).expect("HMAC takes any key length");
        mac.update(format!("certdesk-audit-seal|{sequence}|{hash}|{sealed_at}").as_bytes());
        mac
    }

    /// The seal (lower-case hex) of the chain's head `sequence` with `hash`, sealed at
    /// `sealed_at` (Unix seconds).
    pub fn seal(&self, sequence: i64, hash: &str, sealed_at: i64) -> String {
        hex::encode(self.mac(sequence, hash, sealed_at).finalize().into_bytes())
    }

    /// Whether `seal` is this key's seal of (sequence, hash, sealed_at); compared in constant time.
    pub fn verify(&self, sequence: i64, hash: &str, sealed_at: i64, seal: &str) -> bool {
        let Ok(bytes) = hex::decode(seal) else {
            return false;
        };
        self.mac(sequence, hash, sealed_at)
            .verify_slice(&bytes)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_verifies_only_for_what_it_sealed_and_under_its_key() {
        let kmk = KeyManagementKey::generate("kmk-a").unwrap();
        let key = AuditSealKey::from_kmk(&kmk);
        let seal = key.seal(42, "ab12", 1_000);
        assert!(key.verify(42, "ab12", 1_000, &seal));
        assert!(!key.verify(43, "ab12", 1_000, &seal));
        assert!(!key.verify(42, "ab13", 1_000, &seal));
        assert!(!key.verify(42, "ab12", 1_001, &seal));
        assert!(!key.verify(42, "ab12", 1_000, "not hex"));
        let other = AuditSealKey::from_kmk(&KeyManagementKey::generate("kmk-a").unwrap());
        assert!(!other.verify(42, "ab12", 1_000, &seal));
        // The same KMK gives the same key (a restart, or `certdesk audit verify`).
        let again = AuditSealKey::from_kmk(
            &KeyManagementKey::from_bytes("kmk-a", &kmk.secret_bytes()[..]).unwrap(),
        );
        assert!(again.verify(42, "ab12", 1_000, &seal));
    }
}
