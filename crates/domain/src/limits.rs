//! The limits a certificate must meet, shared by the RA and the CA (issue 10): the RA holds a
//! value to them where it is typed (a product, a registration, an application, 复审), the CA
//! holds every request to them again before it signs. One set of numbers, so that nothing the
//! RA accepts is refused by the CA later.
//!
//! Rules decided here:
//!
//! - **Names**: X.520's upper bounds (RFC 5280 Appendix A.1, ub-organization-name and
//!   ub-common-name) are both 64 characters, counted as Unicode characters, not bytes. The
//!   organisation's name goes into both O and CN, so it must fit 64.
//! - **Validity**: a product's whole years are turned into days by [`validity_days`] (365 a
//!   year plus the leap days), and at most [`MAX_VALIDITY_DAYS`] (3650) are certified.
//! - **Product years**: at most [`MAX_PRODUCT_YEARS`] = 5. The issuing CAs live 10 years; a
//!   5-year certificate still fits under a fresh issuing CA for the first half of its life,
//!   the usual time to roll a CA over. Longer products would fit only for a short while after
//!   each CA change, and 10 years (3652 days) never fits the CA maximum at all.
//! - **Under the issuing CA**: a certificate may not outlive the CA that signs it. The RA asks
//!   for [`RA_ISSUANCE_ALLOWANCE_SECS`] of room on top, since a key holder sends the CSR some
//!   days after 复审.

use jiff::Timestamp;

/// The longest name that fits in a certificate subject (ub-organization-name = ub-common-name
/// = 64), in Unicode characters.
pub const MAX_SUBJECT_NAME_CHARS: usize = 64;

/// The longest validity the CA certifies: 10 years of 365 days.
pub const MAX_VALIDITY_DAYS: u32 = 3650;

/// The longest validity a product may offer, in whole years (see the module's rules).
pub const MAX_PRODUCT_YEARS: u32 = 5;

/// The room the RA leaves between "fits under the issuing CA now" and the actual issuance: a
/// week, the time a key holder may take after 复审 to send the certificate request.
pub const RA_ISSUANCE_ALLOWANCE_SECS: i64 = 7 * SECONDS_PER_DAY;

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

// The product maximum must be something the CA certifies.
const _: () = assert!(validity_days(MAX_PRODUCT_YEARS) <= MAX_VALIDITY_DAYS);

/// Why a certificate could not be issued as asked. Messages are shown to users as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("名称不能为空")]
    EmptyName,
    #[error(
        "名称最多{MAX_SUBJECT_NAME_CHARS}个字（数字证书的主题名称所能容纳的长度），当前{chars}个"
    )]
    NameTooLong { chars: usize },
    #[error("名称含有不可见的控制字符")]
    ControlCharacters,
    #[error("有效期年限应为1至{MAX_PRODUCT_YEARS}年的整数，当前为{years}年")]
    YearsOutOfRange { years: u32 },
    #[error("证书有效期应为1至{MAX_VALIDITY_DAYS}天，当前为{days}天")]
    DaysOutOfRange { days: u32 },
    #[error(
        "证书有效期不能超过签发CA的有效期：证书将到 {}，CA到期时间 {}；请缩短有效期，或由CA管理员更换签发CA",
        beijing(*.certificate_until),
        beijing(*.ca_until)
    )]
    OutlivesIssuingCa {
        /// Unix seconds.
        certificate_until: i64,
        /// Unix seconds.
        ca_until: i64,
    },
    #[error("没有可用的{algorithm}签发CA，请联系CA管理员")]
    NoIssuingCa {
        /// The algorithm's label, e.g. "SM2".
        algorithm: &'static str,
    },
}

/// A product's whole years as days, leap days included. The one conversion for the RA (what
/// it checks and asks for) and the CA (what it certifies).
pub const fn validity_days(years: u32) -> u32 {
    years.saturating_mul(365).saturating_add(years / 4)
}

/// A name that goes into a certificate subject (O and CN): not empty once trimmed, at most
/// [`MAX_SUBJECT_NAME_CHARS`] characters, no control characters.
pub fn check_subject_name(name: &str) -> Result<(), LimitError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err(LimitError::EmptyName);
    }
    if chars > MAX_SUBJECT_NAME_CHARS {
        return Err(LimitError::NameTooLong { chars });
    }
    if name.chars().any(char::is_control) {
        return Err(LimitError::ControlCharacters);
    }
    Ok(())
}

/// Years a product may offer: 1 to [`MAX_PRODUCT_YEARS`].
pub fn check_product_years(years: u32) -> Result<(), LimitError> {
    if (1..=MAX_PRODUCT_YEARS).contains(&years) {
        Ok(())
    } else {
        Err(LimitError::YearsOutOfRange { years })
    }
}

/// Days the CA certifies: 1 to [`MAX_VALIDITY_DAYS`].
pub fn check_validity_days(days: u32) -> Result<(), LimitError> {
    if (1..=MAX_VALIDITY_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(LimitError::DaysOutOfRange { days })
    }
}

/// The end of a certificate of `days` issued at `issued_at` (Unix seconds).
pub fn certificate_until(days: u32, issued_at: i64) -> i64 {
    issued_at.saturating_add(i64::from(days) * SECONDS_PER_DAY)
}

/// Whether a certificate of `days` issued at `issued_at` may be signed by a CA whose
/// certificate ends at `ca_until` (Unix seconds): the days are within the CA maximum and the
/// certificate ends no later than the CA.
pub fn check_fits_issuing_ca(days: u32, ca_until: i64, issued_at: i64) -> Result<(), LimitError> {
    check_validity_days(days)?;
    let certificate_until = certificate_until(days, issued_at);
    if certificate_until > ca_until {
        return Err(LimitError::OutlivesIssuingCa {
            certificate_until,
            ca_until,
        });
    }
    Ok(())
}

/// What the RA checks before a product's years go to the CA: the years are allowed and a
/// certificate of them, issued within [`RA_ISSUANCE_ALLOWANCE_SECS`] of `now`, fits under the
/// issuing CA that ends at `ca_until`.
pub fn check_years_issuable(years: u32, ca_until: i64, now: i64) -> Result<(), LimitError> {
    check_product_years(years)?;
    check_fits_issuing_ca(
        validity_days(years),
        ca_until,
        now.saturating_add(RA_ISSUANCE_ALLOWANCE_SECS),
    )
}

/// The most years a product of an issuing CA that ends at `ca_until` may offer at `now`
/// (0: none fits any more).
pub fn max_issuable_years(ca_until: i64, now: i64) -> u32 {
    (1..=MAX_PRODUCT_YEARS)
        .rev()
        .find(|years| check_years_issuable(*years, ca_until, now).is_ok())
        .unwrap_or(0)
}

/// Beijing time, to the minute, as the messages show it.
fn beijing(unix: i64) -> String {
    match Timestamp::from_second(unix) {
        Ok(t) => t
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000; // 2026-05-28
    const DAY: i64 = SECONDS_PER_DAY;

    #[test]
    fn names_are_counted_in_characters_not_bytes() {
        let sixty_four_han = "字".repeat(64);
        assert_eq!(sixty_four_han.len(), 192);
        assert_eq!(check_subject_name(&sixty_four_han), Ok(()));
        assert_eq!(
            check_subject_name(&"字".repeat(65)),
            Err(LimitError::NameTooLong { chars: 65 })
        );
        assert_eq!(
            check_subject_name(&"a".repeat(70)),
            Err(LimitError::NameTooLong { chars: 70 })
        );
        // Surrounding spaces are not part of the name.
        assert_eq!(
            check_subject_name(&format!("  {}  ", "a".repeat(64))),
            Ok(())
        );
        assert_eq!(check_subject_name("   "), Err(LimitError::EmptyName));
        assert_eq!(
            check_subject_name("某某\u{0}公司"),
            Err(LimitError::ControlCharacters)
        );
    }

    #[test]
    fn the_message_says_the_limit_and_the_count() {
        assert_eq!(
            LimitError::NameTooLong { chars: 70 }.to_string(),
            "名称最多64个字（数字证书的主题名称所能容纳的长度），当前70个"
        );
    }

    #[test]
    fn years_become_days_with_leap_days() {
        assert_eq!(validity_days(1), 365);
        assert_eq!(validity_days(4), 1461);
        assert_eq!(validity_days(5), 1826);
        assert_eq!(validity_days(10), 3652);
        assert_eq!(validity_days(u32::MAX), u32::MAX);
    }

    #[test]
    fn product_years_stop_at_the_maximum() {
        assert_eq!(
            check_product_years(0),
            Err(LimitError::YearsOutOfRange { years: 0 })
        );
        for years in 1..=MAX_PRODUCT_YEARS {
            assert_eq!(check_product_years(years), Ok(()), "{years}");
            assert!(validity_days(years) <= MAX_VALIDITY_DAYS, "{years}");
        }
        assert_eq!(
            check_product_years(6),
            Err(LimitError::YearsOutOfRange { years: 6 })
        );
        // Ten years is 3652 days: beyond what the CA certifies, so never a product.
        assert_eq!(
            check_product_years(10),
            Err(LimitError::YearsOutOfRange { years: 10 })
        );
        assert_eq!(
            check_validity_days(validity_days(10)),
            Err(LimitError::DaysOutOfRange { days: 3652 })
        );
        assert_eq!(
            LimitError::YearsOutOfRange { years: 10 }.to_string(),
            "有效期年限应为1至5年的整数，当前为10年"
        );
    }

    #[test]
    fn a_certificate_may_end_with_its_ca_but_not_after_it() {
        let ca_until = NOW + 365 * DAY;
        assert_eq!(check_fits_issuing_ca(365, ca_until, NOW), Ok(()));
        assert_eq!(
            check_fits_issuing_ca(365, ca_until - 1, NOW),
            Err(LimitError::OutlivesIssuingCa {
                certificate_until: NOW + 365 * DAY,
                ca_until: ca_until - 1,
            })
        );
        assert_eq!(
            check_fits_issuing_ca(0, ca_until, NOW),
            Err(LimitError::DaysOutOfRange { days: 0 })
        );
        assert_eq!(
            check_fits_issuing_ca(3651, i64::MAX, NOW),
            Err(LimitError::DaysOutOfRange { days: 3651 })
        );
        let message = check_fits_issuing_ca(365, NOW, NOW)
            .unwrap_err()
            .to_string();
        assert!(message.contains("签发CA的有效期"), "{message}");
        assert!(message.contains("2026-05-29"), "{message}");
    }

    #[test]
    fn the_ra_leaves_a_week_of_room() {
        // Exactly one year and a week left: one year fits, the RA's way and the CA's.
        let ca_until = NOW + 365 * DAY + RA_ISSUANCE_ALLOWANCE_SECS;
        assert_eq!(check_years_issuable(1, ca_until, NOW), Ok(()));
        // A second less: the CA would still sign today, but not in a week; the RA refuses.
        assert!(check_years_issuable(1, ca_until - 1, NOW).is_err());
        assert_eq!(check_fits_issuing_ca(365, ca_until - 1, NOW), Ok(()));
        assert!(check_years_issuable(6, i64::MAX, NOW).is_err());
    }

    #[test]
    fn the_most_years_a_ca_can_still_carry() {
        assert_eq!(max_issuable_years(NOW + 3650 * DAY, NOW), MAX_PRODUCT_YEARS);
        assert_eq!(max_issuable_years(NOW + 800 * DAY, NOW), 2);
        assert_eq!(max_issuable_years(NOW + 300 * DAY, NOW), 0);
        assert_eq!(max_issuable_years(NOW - DAY, NOW), 0);
    }
}
