//! Identity checks of a new-certificate application (DOMAIN.md, business type 1; guide 001:
//! "认证方式有3种：法人手机实名认证，企业对公打款认证，法人银行卡认证"; guide 002: "人脸认证 …
//! 每天最多可认证 10次"). The pure rules: the four methods, their limits, code checks, and the
//! validators of what the applicant types.
//!
//! - **人脸识别**: at most [`FACE_TRIES_PER_DAY`] tries per person (resident ID) per Beijing
//!   calendar day, counted whether the face matched or not.
//! - **法人手机号实名核验**: the mobile must be registered to the legal representative; then a
//!   [`SMS_CODE_DIGITS`]-digit code is sent, valid for [`SMS_CODE_VALIDITY_SECS`] seconds; the
//!   [`SMS_MAX_WRONG`]th wrong code kills it (a new one must be requested).
//! - **对公账户打款验证**: [`MICRO_DEPOSIT_FEN`] (0.01元) is transferred to the corporate account
//!   with a [`MICRO_DEPOSIT_CODE_LEN`]-character code in the memo (附言); the applicant types the
//!   code within [`MICRO_DEPOSIT_VALIDITY_SECS`], at most [`MICRO_DEPOSIT_MAX_WRONG`] wrong tries.
//! - **法人银行卡核验**: the card number passes the Luhn check, then the bank matches card,
//!   name, ID number and reserved mobile (四要素).
//!
//! People are identified in storage by [`subject_hash`] of the resident ID number, never by the
//! number itself.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Face-match tries per person per Beijing calendar day (guide 002).
pub const FACE_TRIES_PER_DAY: i64 = 10;
pub const SMS_CODE_DIGITS: usize = 6;
/// An SMS code is good for 5 minutes: at `sent + 300 s` it has expired.
pub const SMS_CODE_VALIDITY_SECS: i64 = 300;
/// The 5th wrong SMS code kills the code.
pub const SMS_MAX_WRONG: i64 = 5;
/// SMS codes sent for one person per Beijing day, across all applications: with 5 tries a
/// code, this bounds guessing at 50 a day however many drafts an applicant opens.
pub const SMS_CODES_PER_DAY: i64 = 10;
/// The micro-deposit: one fen, 0.01元.
pub const MICRO_DEPOSIT_FEN: i64 = 1;
pub const MICRO_DEPOSIT_CODE_LEN: usize = 6;
/// Bank transfers can take a while to show in the statement: the memo code is good for 48 hours.
pub const MICRO_DEPOSIT_VALIDITY_SECS: i64 = 48 * 3600;
/// The 3rd wrong memo code kills it.
pub const MICRO_DEPOSIT_MAX_WRONG: i64 = 3;
/// Characters of micro-deposit memo codes: upper-case letters and digits without 0/O, 1/I/L.
pub const MEMO_CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// The four ways to prove who applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMethod {
    /// 人脸识别
    Face,
    /// 法人手机号实名核验
    Mobile,
    /// 对公账户打款验证
    MicroDeposit,
    /// 法人银行卡核验
    BankCard,
}

impl IdentityMethod {
    pub const ALL: [IdentityMethod; 4] = [
        IdentityMethod::Face,
        IdentityMethod::Mobile,
        IdentityMethod::MicroDeposit,
        IdentityMethod::BankCard,
    ];

    /// The name in URLs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMethod::Face => "face",
            IdentityMethod::Mobile => "mobile",
            IdentityMethod::MicroDeposit => "micro_deposit",
            IdentityMethod::BankCard => "bank_card",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            IdentityMethod::Face => "人脸识别",
            IdentityMethod::Mobile => "法人手机号实名核验",
            IdentityMethod::MicroDeposit => "对公账户打款验证",
            IdentityMethod::BankCard => "法人银行卡核验",
        }
    }

    /// Whether the method finishes with a code the applicant types (短信验证码, 打款附言).
    pub fn needs_code(self) -> bool {
        matches!(self, IdentityMethod::Mobile | IdentityMethod::MicroDeposit)
    }

    /// How long a code of this method is good for, in seconds.
    pub fn code_validity_secs(self) -> i64 {
        match self {
            IdentityMethod::MicroDeposit => MICRO_DEPOSIT_VALIDITY_SECS,
            _ => SMS_CODE_VALIDITY_SECS,
        }
    }

    /// The wrong code that kills a code of this method.
    pub fn max_wrong_codes(self) -> i64 {
        match self {
            IdentityMethod::MicroDeposit => MICRO_DEPOSIT_MAX_WRONG,
            _ => SMS_MAX_WRONG,
        }
    }
}

impl fmt::Display for IdentityMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的身份核验方式：{0}（应为 face、mobile、micro_deposit 或 bank_card）")]
pub struct UnknownIdentityMethod(pub String);

impl FromStr for IdentityMethod {
    type Err = UnknownIdentityMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdentityMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownIdentityMethod(s.to_string()))
    }
}

/// Where a check stands. Stored as the snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Waiting for the code.
    Pending,
    Passed,
    /// The outside service said no (face not matched, mobile not the person's, …).
    Failed,
    /// Too many wrong codes, or the code expired: start again.
    Locked,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 4] = [
        CheckStatus::Pending,
        CheckStatus::Passed,
        CheckStatus::Failed,
        CheckStatus::Locked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pending => "pending",
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Locked => "locked",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            CheckStatus::Pending => "待输入验证码",
            CheckStatus::Passed => "核验通过",
            CheckStatus::Failed => "核验未通过",
            CheckStatus::Locked => "验证码已失效",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的身份核验状态：{0}")]
pub struct UnknownCheckStatus(pub String);

impl FromStr for CheckStatus {
    type Err = UnknownCheckStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckStatus::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownCheckStatus(s.to_string()))
    }
}

/// A code waiting to be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCode {
    /// Unix seconds; at this instant the code has expired.
    pub expires_at: i64,
    /// Wrong codes typed so far.
    pub wrong_attempts: i64,
    pub max_wrong: i64,
}

/// What typing a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    Passed,
    /// Wrong; `remaining` tries are left.
    Wrong {
        remaining: i64,
    },
    /// Wrong, and that was the last try: the code is dead.
    WrongAndLocked,
    /// The code had expired (nothing was compared).
    Expired,
    /// The code was dead already (nothing was compared).
    AlreadyLocked,
}

impl CodeOutcome {
    /// How the audit log and the pages name it.
    pub fn label_zh(self) -> String {
        match self {
            CodeOutcome::Passed => "验证通过".into(),
            CodeOutcome::Wrong { remaining } => format!("验证码错误，还可再试{remaining}次"),
            CodeOutcome::WrongAndLocked => "验证码错误次数过多，已失效".into(),
            CodeOutcome::Expired => "验证码已过期".into(),
            CodeOutcome::AlreadyLocked => "验证码已失效".into(),
        }
    }
}

/// Decides a typed code: expiry first (exactly at `expires_at` it has expired), then the tries
/// left, then the comparison the caller made (`matches`).
pub fn decide_code(code: &PendingCode, now: i64, matches: bool) -> CodeOutcome {
    if now >= code.expires_at {
        return CodeOutcome::Expired;
    }
    if code.wrong_attempts >= code.max_wrong {
        return CodeOutcome::AlreadyLocked;
    }
    if matches {
        return CodeOutcome::Passed;
    }
    let wrong = code.wrong_attempts + 1;
    if wrong >= code.max_wrong {
        CodeOutcome::WrongAndLocked
    } else {
        CodeOutcome::Wrong {
            remaining: code.max_wrong - wrong,
        }
    }
}

/// Whether a person who has made `tries_today` face tries today may make another.
pub fn face_try_allowed(tries_today: i64) -> bool {
    tries_today < FACE_TRIES_PER_DAY
}

/// The Unix time at which the Beijing calendar day of `unix` began (00:00 UTC+8).
pub fn beijing_day_start(unix: i64) -> i64 {
    const OFFSET: i64 = 8 * 3600;
    unix - (unix + OFFSET).rem_euclid(86_400)
}

/// The Beijing calendar day of a Unix time, `YYYY-MM-DD`: the unit of the face-try limit.
pub fn beijing_day(unix: i64) -> String {
    let t = jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let d = jiff::tz::Offset::constant(8).to_datetime(t).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// SHA-256 (hex) of a code under its check's salt; codes are stored only this way.
pub fn code_hash(salt: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"certdesk-identity-code-v1\0");
    h.update(salt.as_bytes());
    h.update(b"\0");
    h.update(code.trim().to_ascii_uppercase().as_bytes());
    hex::encode(h.finalize())
}

/// A 6-digit SMS code from a random number (leading zeros kept).
pub fn sms_code(random: u32) -> String {
    format!("{:06}", random % 1_000_000)
}

/// A memo code of [`MICRO_DEPOSIT_CODE_LEN`] characters from random bytes.
pub fn memo_code(random: [u8; MICRO_DEPOSIT_CODE_LEN]) -> String {
    random
        .iter()
        .map(|b| MEMO_CODE_ALPHABET[usize::from(*b) % MEMO_CODE_ALPHABET.len()] as char)
        .collect()
}

/// What the applicant typed, refused with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityInputError {
    #[error("姓名不能为空，且不超过30个字")]
    Name,
    #[error("手机号应为11位中国大陆手机号码，以1开头")]
    Mobile,
    #[error("银行卡号应为16至19位数字")]
    BankCardLength,
    #[error("银行卡号校验不通过（Luhn校验），请核对卡号")]
    BankCardCheck,
    #[error("对公账号应为8至32位数字")]
    CorporateAccount,
    #[error("开户银行名称不能为空，且不超过60个字")]
    BankName,
    #[error("验证码应为{0}位")]
    CodeFormat(usize),
}

impl IdentityInputError {
    pub fn field(&self) -> &'static str {
        match self {
            IdentityInputError::Name => "name",
            IdentityInputError::Mobile => "mobile",
            IdentityInputError::BankCardLength | IdentityInputError::BankCardCheck => "card_number",
            IdentityInputError::CorporateAccount => "account_number",
            IdentityInputError::BankName => "bank_name",
            IdentityInputError::CodeFormat(_) => "code",
        }
    }
}

/// A person's name: trimmed, 1–30 characters, no control characters.
pub fn validate_person_name(input: &str) -> Result<String, IdentityInputError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 30 || name.chars().any(char::is_control) {
        return Err(IdentityInputError::Name);
    }
    Ok(name.to_string())
}

/// A mainland mobile number, checked by the application form's rule
/// ([`crate::application::validate_mobile`]).
pub fn validate_mobile(input: &str) -> Result<String, IdentityInputError> {
    crate::application::validate_mobile(input).map_err(|_| IdentityInputError::Mobile)
}

/// The Luhn check (ISO/IEC 7812) over a string of digits.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A bank card number: 16–19 digits (spaces tolerated) passing the Luhn check.
pub fn validate_bank_card(input: &str) -> Result<String, IdentityInputError> {
    let digits: String = input.chars().filter(|c| *c != ' ').collect();
    if !(16..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityInputError::BankCardLength);
    }
    if !luhn_valid(&digits) {
        return Err(IdentityInputError::BankCardCheck);
    }
    Ok(digits)
}

/// A corporate account number (对公账号): 8–32 digits, spaces and dashes tolerated.
pub fn validate_corporate_account(input: &str) -> Result<String, IdentityInputError> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !(8..=32).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentityInputError::CorporateAccount);
    }
    Ok(digits)
}

/// A bank's name: trimmed, 1–60 characters.
pub fn validate_bank_name(input: &str) -> Result<String, IdentityInputError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(IdentityInputError::BankName);
    }
    Ok(name.to_string())
}

/// A typed code in the shape of `method`'s codes, normalised (trimmed, upper-case).
pub fn normalise_code(method: IdentityMethod, input: &str) -> Result<String, IdentityInputError> {
    let code = input.trim().to_ascii_uppercase();
    let (len, ok) = match method {
        IdentityMethod::MicroDeposit => (
            MICRO_DEPOSIT_CODE_LEN,
            code.bytes().all(|b| b.is_ascii_alphanumeric()),
        ),
        _ => (SMS_CODE_DIGITS, code.bytes().all(|b| b.is_ascii_digit())),
    };
    if code.len() != len || !ok {
        return Err(IdentityInputError::CodeFormat(len));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: i64 = 1_795_000_000;

    fn sms(wrong: i64) -> PendingCode {
        PendingCode {
            expires_at: SENT + SMS_CODE_VALIDITY_SECS,
            wrong_attempts: wrong,
            max_wrong: SMS_MAX_WRONG,
        }
    }

    #[test]
    fn sms_codes_expire_exactly_at_300_seconds() {
        assert_eq!(decide_code(&sms(0), SENT + 299, true), CodeOutcome::Passed);
        assert_eq!(decide_code(&sms(0), SENT + 300, true), CodeOutcome::Expired);
        assert_eq!(decide_code(&sms(0), SENT + 301, true), CodeOutcome::Expired);
    }

    #[test]
    fn the_fifth_wrong_code_kills_it() {
        let table = [
            (0, CodeOutcome::Wrong { remaining: 4 }),
            (1, CodeOutcome::Wrong { remaining: 3 }),
            (3, CodeOutcome::Wrong { remaining: 1 }),
            (4, CodeOutcome::WrongAndLocked),
            (5, CodeOutcome::AlreadyLocked),
        ];
        for (wrong, outcome) in table {
            assert_eq!(decide_code(&sms(wrong), SENT + 10, false), outcome);
        }
        // Even the right code does not open a dead one.
        assert_eq!(
            decide_code(&sms(5), SENT + 10, true),
            CodeOutcome::AlreadyLocked
        );
        assert_eq!(decide_code(&sms(4), SENT + 10, true), CodeOutcome::Passed);
    }

    #[test]
    fn micro_deposit_codes_last_48_hours_and_three_tries() {
        let m = IdentityMethod::MicroDeposit;
        let code = PendingCode {
            expires_at: SENT + m.code_validity_secs(),
            wrong_attempts: 2,
            max_wrong: m.max_wrong_codes(),
        };
        assert_eq!(
            decide_code(&code, SENT + 47 * 3600, false),
            CodeOutcome::WrongAndLocked
        );
        assert_eq!(
            decide_code(&code, SENT + 48 * 3600, true),
            CodeOutcome::Expired
        );
        assert_eq!(MICRO_DEPOSIT_FEN, 1);
    }

    #[test]
    fn ten_face_tries_a_beijing_day() {
        assert!(face_try_allowed(0));
        assert!(face_try_allowed(9));
        assert!(!face_try_allowed(10));
        // 2026-11-23 23:59:59 and 2026-11-24 00:00:00 Beijing time are different days.
        let before_midnight = 1_795_449_599; // 2026-11-23T15:59:59Z
        assert_eq!(beijing_day(before_midnight), "2026-11-23");
        assert_eq!(beijing_day(before_midnight + 1), "2026-11-24");
        assert_eq!(
            beijing_day_start(before_midnight),
            before_midnight + 1 - 86_400
        );
        assert_eq!(beijing_day_start(before_midnight + 1), before_midnight + 1);
        assert_eq!(
            beijing_day_start(before_midnight + 86_400),
            before_midnight + 1
        );
    }

    #[test]
    fn the_luhn_check() {
        for good in ["79927398713", "4111111111111111", "6222020200112345679"] {
            assert!(luhn_valid(good), "{good}");
        }
        for bad in ["79927398710", "4111111111111112", "", "41111x1111111111"] {
            assert!(!luhn_valid(bad), "{bad}");
        }
        assert_eq!(
            validate_bank_card("4111 1111 1111 1111"),
            Ok("4111111111111111".into())
        );
        assert_eq!(
            validate_bank_card("4111111111111112"),
            Err(IdentityInputError::BankCardCheck)
        );
        assert_eq!(
            validate_bank_card("411111"),
            Err(IdentityInputError::BankCardLength)
        );
        assert_eq!(IdentityInputError::BankCardCheck.field(), "card_number");
    }

    #[test]
    fn inputs_are_checked() {
        assert_eq!(validate_mobile("138-1234-5678"), Ok("13812345678".into()));
        for bad in ["12812345678", "1381234567", "23812345678", "1381234567a"] {
            assert_eq!(validate_mobile(bad), Err(IdentityInputError::Mobile));
        }
        assert_eq!(validate_person_name(" 张三 "), Ok("张三".into()));
        assert_eq!(validate_person_name(""), Err(IdentityInputError::Name));
        assert_eq!(
            validate_corporate_account("3100 1234 5678"),
            Ok("310012345678".into())
        );
        assert_eq!(
            validate_corporate_account("1234"),
            Err(IdentityInputError::CorporateAccount)
        );
        assert_eq!(
            normalise_code(IdentityMethod::Mobile, " 012345 "),
            Ok("012345".into())
        );
        assert_eq!(
            normalise_code(IdentityMethod::Mobile, "12345"),
            Err(IdentityInputError::CodeFormat(6))
        );
        assert_eq!(
            normalise_code(IdentityMethod::MicroDeposit, "ab12cd"),
            Ok("AB12CD".into())
        );
    }

    #[test]
    fn codes_are_hashed() {
        assert_eq!(sms_code(42), "000042");
        assert_eq!(sms_code(1_234_567), "234567");
        let memo = memo_code([0, 1, 2, 30, 31, 255]);
        assert_eq!(memo.len(), MICRO_DEPOSIT_CODE_LEN);
        assert!(memo.bytes().all(|b| MEMO_CODE_ALPHABET.contains(&b)));
        assert_eq!(code_hash("s", "ab12cd"), code_hash("s", "AB12CD"));
        assert_ne!(code_hash("s", "123456"), code_hash("t", "123456"));
    }

    #[test]
    fn names_round_trip() {
        for m in IdentityMethod::ALL {
            assert_eq!(m.as_str().parse::<IdentityMethod>(), Ok(m));
        }
        for s in CheckStatus::ALL {
            assert_eq!(s.as_str().parse::<CheckStatus>(), Ok(s));
        }
        assert!("fingerprint".parse::<IdentityMethod>().is_err());
        assert!(IdentityMethod::Mobile.needs_code());
        assert!(!IdentityMethod::Face.needs_code());
    }
}
