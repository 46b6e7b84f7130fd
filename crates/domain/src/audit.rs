//! The audit log's rules: which actions are recorded, how an entry is hashed and chained to the
//! one before it, how a chain is checked, and how personal data is masked before it is written
//! or shown.
//!
//! An entry's hash is SHA-256 over an unambiguous encoding of all its fields and the previous
//! entry's hash, so changing, deleting or reordering a stored entry breaks the chain at that
//! entry. The chain proves the log was not edited by anyone who cannot also recompute every
//! later hash; it cannot notice entries cut off at the end (compare the last hash with one kept
//! elsewhere for that).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// The previous hash of the first entry: 64 zeros.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Tags the encoding so that a hash of some other structure can never pass for an entry's.
const HASH_DOMAIN: &[u8] = b"certdesk-audit-v1";

/// Every change of state the audit log records. The stored name never changes once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    LoginSucceeded,
    LoginFailed,
    LoginLocked,
    Logout,
    PasswordChanged,
    ApiTokenCreated,
    ApiTokenRevoked,
    CertificateLogin,
    OrganisationRegistered,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    /// An admin set a password the user must replace.
    PasswordReset,
    /// A reviewer was shown an application's full ID numbers and mobiles.
    PersonalDataViewed,
    CertificateBound,
    CertificateUnbound,
    CertificateIssued,
    CertificateRevoked,
    CrlPublished,
    CaInitialised,
    /// A root CA's private key written out for the operator and deleted from the database.
    CaRootKeyExported,
    /// A new issuing CA put in service under the root; the one it replaced retired.
    CaIssuingReplaced,
    CaProviderCaImported,
    ConfigurationChanged,
    KeyRecovered,
    OrderTransition,
    /// A bank-transfer receipt uploaded for an operator to check.
    OfflineTransferSubmitted,
    /// An operator rejected a bank-transfer receipt (confirming one is an order transition).
    OfflineTransferRejected,
    /// 身份核验: a check started, a code typed, a verdict.
    IdentityCheck,
    /// Money for an order that was paid already: kept apart and paid back.
    DuplicatePayment,
    /// 单位认领: a claim to a registered credit code filed, approved or rejected.
    OrganisationClaimFiled,
    OrganisationClaimApproved,
    OrganisationClaimRejected,
    /// A 解锁授权码 was used to unlock its key.
    UnlockCodeUsed,
    /// 制证: a UKey was taken for an order at the CA's station (its CA锁ID recorded).
    KeyProduced,
    /// 制证: the certificates were written into that UKey.
    KeyWritten,
    /// Staff sent a dead letter of the outbox again.
    OutboxRetried,
}

impl AuditAction {
    pub const ALL: [AuditAction; 37] = [
        AuditAction::LoginSucceeded,
        AuditAction::LoginFailed,
        AuditAction::LoginLocked,
        AuditAction::Logout,
        AuditAction::PasswordChanged,
        AuditAction::ApiTokenCreated,
        AuditAction::ApiTokenRevoked,
        AuditAction::CertificateLogin,
        AuditAction::OrganisationRegistered,
        AuditAction::AccountCreated,
        AuditAction::AccountDisabled,
        AuditAction::AccountEnabled,
        AuditAction::PasswordReset,
        AuditAction::PersonalDataViewed,
        AuditAction::CertificateBound,
        AuditAction::CertificateUnbound,
        AuditAction::CertificateIssued,
        AuditAction::CertificateRevoked,
        AuditAction::CrlPublished,
        AuditAction::CaInitialised,
        AuditAction::CaRootKeyExported,
        AuditAction::CaIssuingReplaced,
        AuditAction::CaProviderCaImported,
        AuditAction::ConfigurationChanged,
        AuditAction::KeyRecovered,
        AuditAction::OrderTransition,
        AuditAction::OfflineTransferSubmitted,
        AuditAction::OfflineTransferRejected,
        AuditAction::IdentityCheck,
        AuditAction::DuplicatePayment,
        AuditAction::OrganisationClaimFiled,
        AuditAction::OrganisationClaimApproved,
        AuditAction::OrganisationClaimRejected,
        AuditAction::UnlockCodeUsed,
        AuditAction::KeyProduced,
        AuditAction::KeyWritten,
        AuditAction::OutboxRetried,
    ];

    /// The name stored in the database, hashed into the chain and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::LoginSucceeded => "login_succeeded",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::LoginLocked => "login_locked",
            AuditAction::Logout => "logout",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::ApiTokenCreated => "api_token_created",
            AuditAction::ApiTokenRevoked => "api_token_revoked",
            AuditAction::CertificateLogin => "certificate_login",
            AuditAction::OrganisationRegistered => "organisation_registered",
            AuditAction::AccountCreated => "account_created",
            AuditAction::AccountDisabled => "account_disabled",
            AuditAction::AccountEnabled => "account_enabled",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::PersonalDataViewed => "personal_data_viewed",
            AuditAction::CertificateBound => "certificate_bound",
            AuditAction::CertificateUnbound => "certificate_unbound",
            AuditAction::CertificateIssued => "certificate_issued",
            AuditAction::CertificateRevoked => "certificate_revoked",
            AuditAction::CrlPublished => "crl_published",
            AuditAction::CaInitialised => "ca_initialised",
            AuditAction::CaRootKeyExported => "ca_root_key_exported",
            AuditAction::CaIssuingReplaced => "ca_issuing_replaced",
            AuditAction::CaProviderCaImported => "ca_provider_ca_imported",
            AuditAction::ConfigurationChanged => "configuration_changed",
            AuditAction::KeyRecovered => "key_recovered",
            AuditAction::OrderTransition => "order_transition",
            AuditAction::OfflineTransferSubmitted => "offline_transfer_submitted",
            AuditAction::OfflineTransferRejected => "offline_transfer_rejected",
            AuditAction::IdentityCheck => "identity_check",
            AuditAction::DuplicatePayment => "duplicate_payment",
            AuditAction::OrganisationClaimFiled => "organisation_claim_filed",
            AuditAction::OrganisationClaimApproved => "organisation_claim_approved",
            AuditAction::OrganisationClaimRejected => "organisation_claim_rejected",
            AuditAction::UnlockCodeUsed => "unlock_code_used",
            AuditAction::KeyProduced => "key_produced",
            AuditAction::KeyWritten => "key_written",
            AuditAction::OutboxRetried => "outbox_retried",
        }
    }

    /// The name staff see on the audit page.
    pub fn label_zh(self) -> &'static str {
        match self {
            AuditAction::LoginSucceeded => "登录成功",
            AuditAction::LoginFailed => "登录失败",
            AuditAction::LoginLocked => "账户锁定",
            AuditAction::Logout => "退出登录",
            AuditAction::PasswordChanged => "修改密码",
            AuditAction::ApiTokenCreated => "创建API令牌",
            AuditAction::ApiTokenRevoked => "吊销API令牌",
            AuditAction::CertificateLogin => "证书登录",
            AuditAction::OrganisationRegistered => "机构注册",
            AuditAction::AccountCreated => "创建账户",
            AuditAction::AccountDisabled => "停用账户",
            AuditAction::AccountEnabled => "启用账户",
            AuditAction::PasswordReset => "重置密码",
            AuditAction::PersonalDataViewed => "查看个人信息",
            AuditAction::CertificateBound => "证书绑定",
            AuditAction::CertificateUnbound => "证书解绑",
            AuditAction::CertificateIssued => "证书签发",
            AuditAction::CertificateRevoked => "证书吊销",
            AuditAction::CrlPublished => "发布CRL",
            AuditAction::CaInitialised => "初始化CA",
            AuditAction::CaRootKeyExported => "根CA私钥转为离线保存",
            AuditAction::CaIssuingReplaced => "更换签发CA",
            AuditAction::CaProviderCaImported => "导入CA服务商证书",
            AuditAction::ConfigurationChanged => "修改配置",
            AuditAction::KeyRecovered => "密钥恢复",
            AuditAction::OrderTransition => "业务单状态变更",
            AuditAction::OfflineTransferSubmitted => "提交线下转账凭证",
            AuditAction::OfflineTransferRejected => "驳回线下转账凭证",
            AuditAction::IdentityCheck => "身份核验",
            AuditAction::DuplicatePayment => "重复付款退回",
            AuditAction::OrganisationClaimFiled => "提交单位认领",
            AuditAction::OrganisationClaimApproved => "单位认领通过",
            AuditAction::OrganisationClaimRejected => "单位认领驳回",
            AuditAction::UnlockCodeUsed => "使用解锁授权码",
            AuditAction::KeyProduced => "制证",
            AuditAction::KeyWritten => "证书写入CA锁",
            AuditAction::OutboxRetried => "重发失败消息",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知审计操作: {0}")]
pub struct UnknownAuditAction(pub String);

impl FromStr for AuditAction {
    type Err = UnknownAuditAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAuditAction(s.to_string()))
    }
}

/// The fields of an entry its hash covers, besides the previous hash.
///
/// `action` is the stored name rather than an [`AuditAction`], so that a stored row whose
/// action was tampered with into an unknown name is still hashed and named, not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditFields<'a> {
    /// 1-based; the n-th entry ever appended has sequence n.
    pub sequence: i64,
    /// Unix seconds.
    pub at: i64,
    pub actor_account_id: Option<i64>,
    /// Who acted, as people read it: a user name, or e.g. `cli` for operator commands.
    pub actor_label: &'a str,
    pub org_id: Option<i64>,
    pub action: &'a str,
    /// What was acted on, e.g. `certificate:5a3f…`.
    pub object: &'a str,
    /// Free text, usually JSON; personal data in it is masked.
    pub detail: &'a str,
}

/// An entry as stored: its fields, the previous entry's hash and its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub sequence: i64,
    pub at: i64,
    pub actor_account_id: Option<i64>,
    pub actor_label: String,
    pub org_id: Option<i64>,
    pub action: String,
    pub object: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    pub fn fields(&self) -> AuditFields<'_> {
        AuditFields {
            sequence: self.sequence,
            at: self.at,
            actor_account_id: self.actor_account_id,
            actor_label: &self.actor_label,
            org_id: self.org_id,
            action: &self.action,
            object: &self.object,
            detail: &self.detail,
        }
    }

    /// The action, when the stored name is one we know.
    pub fn action(&self) -> Option<AuditAction> {
        self.action.parse().ok()
    }
}

/// The hash of an entry: lower-case hex SHA-256 over the domain tag, the previous hash and
/// every field. Strings are length-prefixed and optional numbers carry a presence byte, so
/// that no two different entries encode alike (plain concatenation would let `"ab" + "c"`
/// pass for `"a" + "bc"`).
pub fn entry_hash(prev_hash: &str, fields: &AuditFields<'_>) -> String {
    let mut h = Sha256::new();
    put_bytes(&mut h, HASH_DOMAIN);
    put_bytes(&mut h, prev_hash.as_bytes());
    h.update(fields.sequence.to_be_bytes());
    h.update(fields.at.to_be_bytes());
    put_optional(&mut h, fields.actor_account_id);
    put_bytes(&mut h, fields.actor_label.as_bytes());
    put_optional(&mut h, fields.org_id);
    put_bytes(&mut h, fields.action.as_bytes());
    put_bytes(&mut h, fields.object.as_bytes());
    put_bytes(&mut h, fields.detail.as_bytes());
    hex::encode(h.finalize())
}

fn put_bytes(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn put_optional(h: &mut Sha256, value: Option<i64>) {
    match value {
        Some(v) => {
            h.update([1]);
            h.update(v.to_be_bytes());
        }
        None => h.update([0]),
    }
}

/// Why the chain breaks at an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// The stored hash is not the hash of the stored fields: the row was edited.
    HashMismatch,
    /// The entry's previous hash is not the hash of the entry before it.
    PrevHashMismatch,
    /// Entries `sequence..=through` are not there: deleted.
    Missing { through: i64 },
    /// The entry's sequence number is not after the one before it.
    OutOfOrder { found: i64 },
}

/// The first entry at which a chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {sequence}: {}", self.reason_text())]
pub struct BrokenEntry {
    pub sequence: i64,
    pub reason: BreakReason,
}

impl BrokenEntry {
    fn reason_text(&self) -> String {
        match &self.reason {
            BreakReason::HashMismatch => "hash does not match its contents".into(),
            BreakReason::PrevHashMismatch => "previous-hash link broken".into(),
            BreakReason::Missing { through } if *through == self.sequence => {
                format!("entry {through} missing")
            }
            BreakReason::Missing { through } => {
                format!("entries {}–{through} missing", self.sequence)
            }
            BreakReason::OutOfOrder { found } => {
                format!("found entry {found} where entry {} belongs", self.sequence)
            }
        }
    }
}

/// Checks a chain entry by entry, so that a long log can be read page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_sequence: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_sequence: 1,
            prev_hash: GENESIS_PREV_HASH.to_string(),
        }
    }
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next entry in sequence order against everything before it.
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), BrokenEntry> {
        let expected = self.expected_sequence;
        if entry.sequence > expected {
            return Err(BrokenEntry {
                sequence: expected,
                reason: BreakReason::Missing {
                    through: entry.sequence - 1,
                },
            });
        }
        if entry.sequence < expected {
            return Err(BrokenEntry {
                sequence: expected,
                reason: BreakReason::OutOfOrder {
                    found: entry.sequence,
                },
            });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(BrokenEntry {
                sequence: expected,
                reason: BreakReason::PrevHashMismatch,
            });
        }
        if entry_hash(&entry.prev_hash, &entry.fields()) != entry.hash {
            return Err(BrokenEntry {
                sequence: expected,
                reason: BreakReason::HashMismatch,
            });
        }
        self.expected_sequence = expected + 1;
        self.prev_hash.clone_from(&entry.hash);
        Ok(())
    }

    /// How many entries have been checked and found sound.
    pub fn verified(&self) -> usize {
        usize::try_from(self.expected_sequence - 1).unwrap_or(0)
    }

    /// The hash of the last sound entry (the genesis value before any).
    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }
}

/// Checks a whole chain given in sequence order: answers how many entries it holds, or the
/// first entry where it breaks.
pub fn verify_chain<I>(entries: I) -> Result<usize, BrokenEntry>
where
    I: IntoIterator,
    I::Item: Borrow<AuditEntry>,
{
    let mut verifier = ChainVerifier::new();
    for entry in entries {
        verifier.push(entry.borrow())?;
    }
    Ok(verifier.verified())
}

/// `keep_front` characters, then `stars`, then `keep_back` characters. Values too short to
/// hide anything that way are masked entirely, so a short (wrong) value never shows whole.
fn mask(value: &str, keep_front: usize, keep_back: usize, stars: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= keep_front + keep_back {
        return "*".repeat(chars.len().max(4));
    }
    let front: String = chars[..keep_front].iter().collect();
    let back: String = chars[chars.len() - keep_back..].iter().collect();
    format!("{front}{stars}{back}")
}

/// A Unified Social Credit Code shown as its first 2 and last 3 characters:
/// `91350100M000100Y43` → `91****Y43`.
pub fn mask_credit_code(code: &str) -> String {
    mask(code, 2, 3, "****")
}

/// A resident ID number shown as its first 3 and last 4 characters with one star for each
/// hidden one, so the length still shows: `11010519491231002X` → `110***********002X`.
/// The birth date (characters 7–14) is always hidden.
pub fn mask_resident_id(id: &str) -> String {
    let hidden = id.chars().count().saturating_sub(7);
    mask(id, 3, 4, &"*".repeat(hidden))
}

/// A mobile number shown as its first 3 and last 4 digits: `13812345678` → `138****5678`.
pub fn mask_mobile(mobile: &str) -> String {
    mask(mobile, 3, 4, "****")
}

/// An e-mail address shown as the first 2 characters of its user part and its domain:
/// `boss@example.com` → `bo***@example.com`; a value that is not an address is masked whole.
pub fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((user, domain)) => format!("{}@{domain}", mask(user, 2, 0, "***")),
        None => "*".repeat(address.chars().count().max(4)),
    }
}

/// A bank card or account number shown as its first 4 and last 4 digits:
/// `6222020200112345679` → `6222***********5679` (one star per hidden digit).
pub fn mask_bank_card(number: &str) -> String {
    let hidden = number.chars().count().saturating_sub(8);
    mask(number, 4, 4, &"*".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prev_hash: &str, sequence: i64, detail: &str) -> AuditEntry {
        let mut e = AuditEntry {
            sequence,
            at: 1_763_000_000 + sequence,
            actor_account_id: Some(7),
            actor_label: "admin".into(),
            org_id: Some(3),
            action: AuditAction::CertificateIssued.as_str().into(),
            object: format!("certificate:{sequence:04x}"),
            detail: detail.into(),
            prev_hash: prev_hash.into(),
            hash: String::new(),
        };
        e.hash = entry_hash(prev_hash, &e.fields());
        e
    }

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for seq in 1..=n {
            let prev = out
                .last()
                .map_or(GENESIS_PREV_HASH.to_string(), |e| e.hash.clone());
            out.push(entry(&prev, seq, &format!(r#"{{"n":{seq}}}"#)));
        }
        out
    }

    #[test]
    fn actions_round_trip_and_have_distinct_names_and_labels() {
        let mut names = std::collections::HashSet::new();
        let mut labels = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
            assert_eq!(
                serde_json::to_string(&action).unwrap(),
                format!("\"{action}\"")
            );
            assert!(names.insert(action.as_str()));
            assert!(labels.insert(action.label_zh()));
        }
        assert!("drop_table".parse::<AuditAction>().is_err());
    }

    #[test]
    fn genesis_is_64_zeros_and_hashes_are_hex_sha256() {
        assert_eq!(GENESIS_PREV_HASH.len(), 64);
        assert!(GENESIS_PREV_HASH.bytes().all(|b| b == b'0'));
        let e = entry(GENESIS_PREV_HASH, 1, "{}");
        assert_eq!(e.hash.len(), 64);
        assert!(e.hash.bytes().all(|b| b.is_ascii_hexdigit()));
        // Deterministic: the same entry always hashes alike.
        assert_eq!(e.hash, entry_hash(GENESIS_PREV_HASH, &e.fields()));
    }

    #[test]
    fn changing_any_single_field_changes_the_hash() {
        let base = entry(GENESIS_PREV_HASH, 1, "{}");
        let h = |e: &AuditEntry| entry_hash(&e.prev_hash, &e.fields());
        let original = h(&base);
        let variants: &[fn(&mut AuditEntry)] = &[
            |e| e.sequence += 1,
            |e| e.at += 1,
            |e| e.actor_account_id = None,
            |e| e.actor_account_id = Some(8),
            |e| e.actor_label.push('x'),
            |e| e.org_id = None,
            |e| e.org_id = Some(4),
            |e| e.action = "certificate_revoked".into(),
            |e| e.object.push('0'),
            |e| e.detail = "{ }".into(),
            |e| e.prev_hash = "1".repeat(64),
        ];
        for (i, change) in variants.iter().enumerate() {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(h(&changed), original, "variant {i} kept the hash");
        }
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        let mut a = entry(GENESIS_PREV_HASH, 1, "");
        a.object = "ab".into();
        a.detail = "c".into();
        let mut b = a.clone();
        b.object = "a".into();
        b.detail = "bc".into();
        assert_ne!(
            entry_hash(GENESIS_PREV_HASH, &a.fields()),
            entry_hash(GENESIS_PREV_HASH, &b.fields())
        );
        // An absent id is not the id 0.
        let mut c = a.clone();
        c.org_id = None;
        let mut d = a.clone();
        d.org_id = Some(0);
        assert_ne!(
            entry_hash(GENESIS_PREV_HASH, &c.fields()),
            entry_hash(GENESIS_PREV_HASH, &d.fields())
        );
    }

    #[test]
    fn a_sound_chain_verifies() {
        assert_eq!(verify_chain(Vec::<AuditEntry>::new()), Ok(0));
        let entries = chain(5);
        assert_eq!(verify_chain(&entries), Ok(5));
        let mut v = ChainVerifier::new();
        for e in &entries {
            v.push(e).unwrap();
        }
        assert_eq!(v.verified(), 5);
        assert_eq!(v.last_hash(), entries[4].hash);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut entries = chain(5);
        entries[2].detail = r#"{"n":4}"#.into();
        let err = verify_chain(&entries).unwrap_err();
        assert_eq!(
            err,
            BrokenEntry {
                sequence: 3,
                reason: BreakReason::HashMismatch
            }
        );
        assert_eq!(
            err.to_string(),
            "audit chain broken at entry 3: hash does not match its contents"
        );
    }

    #[test]
    fn an_edited_entry_with_a_recomputed_hash_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].detail = "forged".into();
        entries[2].hash = entry_hash(&entries[2].prev_hash, &entries[2].fields());
        let err = verify_chain(&entries).unwrap_err();
        assert_eq!(err.sequence, 4);
        assert_eq!(err.reason, BreakReason::PrevHashMismatch);
        assert_eq!(
            err.to_string(),
            "audit chain broken at entry 4: previous-hash link broken"
        );
    }

    #[test]
    fn the_first_entry_must_chain_to_genesis() {
        let entries = vec![entry(&"1".repeat(64), 1, "{}")];
        assert_eq!(
            verify_chain(&entries).unwrap_err(),
            BrokenEntry {
                sequence: 1,
                reason: BreakReason::PrevHashMismatch
            }
        );
    }

    #[test]
    fn deleted_entries_are_named() {
        let mut entries = chain(6);
        entries.remove(2);
        let err = verify_chain(&entries).unwrap_err();
        assert_eq!(
            err,
            BrokenEntry {
                sequence: 3,
                reason: BreakReason::Missing { through: 3 }
            }
        );
        assert_eq!(
            err.to_string(),
            "audit chain broken at entry 3: entry 3 missing"
        );

        let mut entries = chain(6);
        entries.drain(1..3);
        assert_eq!(
            verify_chain(&entries).unwrap_err().to_string(),
            "audit chain broken at entry 2: entries 2–3 missing"
        );

        let entries = chain(3);
        assert_eq!(verify_chain(&entries[1..]).unwrap_err().sequence, 1);
    }

    #[test]
    fn reordered_entries_are_named() {
        let mut entries = chain(5);
        entries.swap(1, 2);
        let err = verify_chain(&entries).unwrap_err();
        assert_eq!(err.sequence, 2);
        assert_eq!(err.reason, BreakReason::Missing { through: 2 });

        // Swapping contents but keeping sequence numbers in place breaks the hash.
        let mut entries = chain(5);
        let (a, b) = (entries[1].sequence, entries[2].sequence);
        entries.swap(1, 2);
        entries[1].sequence = a;
        entries[2].sequence = b;
        assert_eq!(verify_chain(&entries).unwrap_err().sequence, 2);

        // A repeated entry is out of order.
        let mut entries = chain(3);
        let again = entries[1].clone();
        entries.insert(2, again);
        assert_eq!(
            verify_chain(&entries).unwrap_err(),
            BrokenEntry {
                sequence: 3,
                reason: BreakReason::OutOfOrder { found: 2 }
            }
        );
    }

    #[test]
    fn credit_codes_are_masked() {
        assert_eq!(mask_credit_code("91350100M000100Y43"), "91****Y43");
        assert_eq!(mask_credit_code("123456"), "12****456");
        assert_eq!(mask_credit_code("12345"), "*****");
        assert_eq!(mask_credit_code(""), "****");
    }

    #[test]
    fn resident_ids_are_masked() {
        assert_eq!(mask_resident_id("11010519491231002X"), "110***********002X");
        assert_eq!(mask_resident_id("11010519491231002X").chars().count(), 18);
        assert_eq!(mask_resident_id("1234567"), "*******");
        assert_eq!(mask_resident_id("12345678"), "123*5678");
    }

    #[test]
    fn bank_cards_are_masked() {
        assert_eq!(mask_bank_card("6222020200112345679"), "6222***********5679");
        assert_eq!(mask_bank_card("1234"), "****");
    }

    #[test]
    fn mobiles_are_masked() {
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(mask_email("boss@example.com"), "bo***@example.com");
        assert_eq!(mask_email("ab@example.com"), "****@example.com");
        assert_eq!(mask_email("不是邮箱"), "****");
        assert_eq!(mask_mobile("1381234"), "*******");
        // Characters, not bytes: never panics on non-ASCII input.
        assert_eq!(mask_mobile("一二三四五六七八"), "一二三****五六七八");
    }
}
