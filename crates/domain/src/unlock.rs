//! 解锁授权码: the one-time code that lets a locked UKey set a new PIN (DOMAIN.md, business type
//! 5). Bound to one key (its certificate serial), valid for a day, used once.

/// How long a code is valid after the unlock is approved: 24 hours.
pub const CODE_VALIDITY_SECS: i64 = 24 * 60 * 60;

/// Letters and digits a person reads off a screen without confusing them (no 0, 1, O or I).
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Characters in a code: 16 of 32 symbols, 80 bits.
pub const CODE_CHARS: usize = 16;

/// The code for 10 random bytes, in groups of four: `ABCD-EFGH-JKMN-PQRS`.
pub fn format_code(random: &[u8; 10]) -> String {
    // 80 bits, five at a time.
    let mut bits: u128 = 0;
    for byte in random {
        bits = (bits << 8) | u128::from(*byte);
    }
    let mut out = String::with_capacity(CODE_CHARS + 3);
    for i in 0..CODE_CHARS {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let shift = 5 * (CODE_CHARS - 1 - i);
        let symbol = ((bits >> shift) & 0x1f) as usize;
        out.push(char::from(ALPHABET[symbol % ALPHABET.len()]));
    }
    out
}

/// A code as typed (any case, with or without dashes and spaces), in its stored form without
/// dashes; `None` when it cannot be one.
pub fn normalise_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// Why a code cannot be used, in the order the checks run. Messages are shown as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    #[error("解锁授权码不正确，请核对后重新输入")]
    Unknown,
    #[error("该解锁授权码不是为这把CA锁签发的，请插入申请解锁时的CA锁")]
    OtherKey,
    #[error("该解锁授权码已使用过，每个授权码只能使用一次；如需再次解锁请重新申请")]
    Used,
    #[error("该解锁授权码已过期（有效期24小时），请重新申请解锁")]
    Expired,
}

/// The facts of the code a typed one matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedCode<'a> {
    pub key_serial: &'a str,
    pub expires_at: i64,
    pub used: bool,
}

/// Whether the code may unlock the key with `key_serial` at `now`.
pub fn check_code(
    issued: Option<IssuedCode<'_>>,
    key_serial: &str,
    now: i64,
) -> Result<(), CodeRefusal> {
    let issued = issued.ok_or(CodeRefusal::Unknown)?;
    if !issued.key_serial.eq_ignore_ascii_case(key_serial.trim()) {
        return Err(CodeRefusal::OtherKey);
    }
    if issued.used {
        return Err(CodeRefusal::Used);
    }
    if now >= issued.expires_at {
        return Err(CodeRefusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_round_trip() {
        let code = format_code(&[0xff; 10]);
        assert_eq!(code.len(), CODE_CHARS + 3);
        assert_eq!(code.matches('-').count(), 3);
        assert_eq!(normalise_code(&code), Some(code.replace('-', "")));
        let zero = format_code(&[0; 10]);
        assert_eq!(zero, "2222-2222-2222-2222");
        assert_eq!(
            normalise_code(" 2222 2222-2222-222o"),
            None,
            "O is not in the alphabet"
        );
        assert_eq!(
            normalise_code(" 2222 2222-2222-222a"),
            Some("222222222222222A".into())
        );
        assert_eq!(
            normalise_code("abcd-efgh-jkmn-pqrs"),
            Some("ABCDEFGHJKMNPQRS".into())
        );
        for bad in ["", "ABCD", "ABCD-EFGH-JKMN-PQRS-T", "0BCD-EFGH-JKMN-PQRS"] {
            assert_eq!(normalise_code(bad), None, "{bad}");
        }
        assert_ne!(format_code(&[1; 10]), format_code(&[2; 10]));
    }

    #[test]
    fn a_code_unlocks_its_own_key_once_within_a_day() {
        let issued = |used| IssuedCode {
            key_serial: "0a1b",
            expires_at: 1_000 + CODE_VALIDITY_SECS,
            used,
        };
        assert_eq!(check_code(Some(issued(false)), "0A1B", 1_000), Ok(()));
        assert_eq!(check_code(None, "0a1b", 1_000), Err(CodeRefusal::Unknown));
        assert_eq!(
            check_code(Some(issued(false)), "0a1c", 1_000),
            Err(CodeRefusal::OtherKey)
        );
        assert_eq!(
            check_code(Some(issued(true)), "0a1b", 1_000),
            Err(CodeRefusal::Used)
        );
        assert_eq!(
            check_code(Some(issued(false)), "0a1b", 1_000 + CODE_VALIDITY_SECS),
            Err(CodeRefusal::Expired)
        );
        assert_eq!(
            check_code(Some(issued(false)), "0a1b", 1_000 + CODE_VALIDITY_SECS - 1),
            Ok(())
        );
    }
}
