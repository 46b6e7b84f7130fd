//! China's identifiers with check characters: the Unified Social Credit Code of organisations
//! (统一社会信用代码, GB 32100-2015, embedding the GB 11714 organisation code) and the resident
//! ID number of people (居民身份证号码, GB 11643-1999). Messages are shown to users as they are.

/// The 31 characters a credit code may use (no I, O, S, V, Z), in value order.
const CREDIT_CODE_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("统一社会信用代码应为18位，当前为{0}位")]
    Length(usize),
    #[error("统一社会信用代码第{position}位“{found}”不是允许的字符（数字或除 I、O、S、V、Z 以外的大写字母）")]
    Character { position: usize, found: char },
    #[error("统一社会信用代码第3–8位应为行政区划代码（6位数字）")]
    Region,
    #[error("统一社会信用代码中的组织机构代码（第9–17位）校验位不正确")]
    OrganisationCodeCheck,
    #[error("统一社会信用代码校验位不正确，请核对后重新输入")]
    CheckCharacter,
}

/// Checks a Unified Social Credit Code: 18 characters of the GB 32100 set, a 6-digit region,
/// the embedded organisation code's check character and the code's own check character.
/// Lower-case letters and surrounding spaces are tolerated and normalised.
pub fn validate_credit_code(input: &str) -> Result<String, CreditCodeError> {
    let code: String = input.trim().to_ascii_uppercase();
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(CreditCodeError::Length(chars.len()));
    }
    let mut values = [0u32; 18];
    for (i, c) in chars.iter().enumerate() {
        values[i] = CREDIT_CODE_CHARS
            .iter()
            .position(|&a| a as char == *c)
            .ok_or(CreditCodeError::Character {
                position: i + 1,
                found: *c,
            })? as u32;
    }
    if !chars[2..8].iter().all(char::is_ascii_digit) {
        return Err(CreditCodeError::Region);
    }
    if !organisation_code_is_valid(&chars[8..17]) {
        return Err(CreditCodeError::OrganisationCodeCheck);
    }
    let sum: u32 = values[..17]
        .iter()
        .zip(CREDIT_CODE_WEIGHTS)
        .map(|(v, w)| v * w)
        .sum();
    let expected = (31 - sum % 31) % 31;
    if values[17] != expected {
        return Err(CreditCodeError::CheckCharacter);
    }
    Ok(code)
}

/// GB 11714: eight characters and a check character (a digit or X).
fn organisation_code_is_valid(code: &[char]) -> bool {
    let value = |c: char| c.to_digit(36);
    let mut sum = 0;
    for (c, w) in code[..8].iter().zip(ORG_CODE_WEIGHTS) {
        match value(*c) {
            Some(v) => sum += v * w,
            None => return false,
        }
    }
    let check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).unwrap_or('?'),
    };
    code[8] == check
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidentIdError {
    #[error("身份证号码应为18位，当前为{0}位")]
    Length(usize),
    #[error("身份证号码前17位应为数字，最后一位为数字或X")]
    Characters,
    #[error("身份证号码中的出生日期无效")]
    BirthDate,
    #[error("身份证号码校验位不正确，请核对后重新输入")]
    CheckDigit,
}

/// Checks an 18-digit resident ID number: digits, a real birth date, and the check digit.
pub fn validate_resident_id(input: &str) -> Result<String, ResidentIdError> {
    let id = input.trim().to_ascii_uppercase();
    let bytes = id.as_bytes();
    if id.chars().count() != 18 {
        return Err(ResidentIdError::Length(id.chars().count()));
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
    {
        return Err(ResidentIdError::Characters);
    }
    let number = |range: std::ops::Range<usize>| id[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    if !(1800..=2200).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
    {
        return Err(ResidentIdError::BirthDate);
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECKS: &[u8; 11] = b"10X98765432";
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    if bytes[17] != CHECKS[(sum % 11) as usize] {
        return Err(ResidentIdError::CheckDigit);
    }
    Ok(id)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_test_credit_code_is_valid() {
        assert_eq!(
            validate_credit_code("91350100M000100Y43"),
            Ok("91350100M000100Y43".into())
        );
        assert_eq!(
            validate_credit_code(" 91350100m000100y43 "),
            Ok("91350100M000100Y43".into())
        );
    }

    #[test]
    fn every_single_character_change_of_a_valid_code_is_caught() {
        let valid: Vec<char> = "91350100M000100Y43".chars().collect();
        for i in 0..18 {
            for &c in CREDIT_CODE_CHARS.iter() {
                let c = c as char;
                if c == valid[i] {
                    continue;
                }
                let mut changed = valid.clone();
                changed[i] = c;
                let changed: String = changed.into_iter().collect();
                assert!(
                    validate_credit_code(&changed).is_err(),
                    "{changed} accepted"
                );
            }
        }
    }

    #[test]
    fn credit_code_errors_say_what_is_wrong() {
        assert_eq!(
            validate_credit_code("9135"),
            Err(CreditCodeError::Length(4))
        );
        assert_eq!(
            validate_credit_code("91350100M000100I43"),
            Err(CreditCodeError::Character {
                position: 16,
                found: 'I'
            })
        );
        assert_eq!(
            validate_credit_code("91A50100M000100Y43"),
            Err(CreditCodeError::Region)
        );
        assert_eq!(
            validate_credit_code("91350100M000100Y44"),
            Err(CreditCodeError::CheckCharacter)
        );
    }

    #[test]
    fn the_public_test_resident_ids_are_valid() {
        assert_eq!(
            validate_resident_id("11010519491231002X"),
            Ok("11010519491231002X".into())
        );
        assert_eq!(
            validate_resident_id("11010519491231002x"),
            Ok("11010519491231002X".into())
        );
        assert_eq!(
            validate_resident_id("440524188001010014"),
            Ok("440524188001010014".into())
        );
    }

    #[test]
    fn resident_id_errors() {
        assert_eq!(
            validate_resident_id("1101051949"),
            Err(ResidentIdError::Length(10))
        );
        assert_eq!(
            validate_resident_id("1101051949123100AX"),
            Err(ResidentIdError::Characters)
        );
        assert_eq!(
            validate_resident_id("110105194902300021"),
            Err(ResidentIdError::BirthDate)
        );
        assert_eq!(
            validate_resident_id("110105194912310021"),
            Err(ResidentIdError::CheckDigit)
        );
    }
}
