//! When a certificate may be renewed (续费/延期, DOMAIN.md business type 2): from 3 months before
//! it expires until 3 months after; after that it is revoked (cessationOfOperation) and the
//! organisation applies anew (新办). Months are calendar months in Beijing time.

use crate::product::{
    check_voucher, DiscountKind, DiscountLine, ProductSpec, Quote, QuoteError, VoucherFacts,
};
use jiff::tz::Offset;
use jiff::{Timestamp, ToSpan};

const BEIJING: Offset = Offset::constant(8);

/// Calendar months before expiry the window opens, and after it that it closes.
pub const MONTHS_BEFORE: i32 = 3;
pub const MONTHS_AFTER: i32 = 3;

/// The renewal window of a certificate expiring at `not_after` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalWindow {
    pub opens: i64,
    pub closes: i64,
}

/// Where `now` stands against a certificate's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalCheck {
    /// Too early: renewal opens at `opens`.
    NotYet {
        opens: i64,
    },
    Open {
        closes: i64,
    },
    /// Too late: the window closed at `closed`; the certificate is revoked and a new one is
    /// applied for.
    Closed {
        closed: i64,
    },
}

fn months_from(at: i64, months: i32) -> i64 {
    let Ok(ts) = Timestamp::from_second(at) else {
        return at;
    };
    let civil = BEIJING.to_datetime(ts);
    civil
        .checked_add(months.months())
        .ok()
        .and_then(|moved| BEIJING.to_timestamp(moved).ok())
        .map_or(at, |moved| moved.as_second())
}

pub fn renewal_window(not_after: i64) -> RenewalWindow {
    RenewalWindow {
        opens: months_from(not_after, -MONTHS_BEFORE),
        closes: months_from(not_after, MONTHS_AFTER),
    }
}

pub fn renewal_check(not_after: i64, now: i64) -> RenewalCheck {
    let window = renewal_window(not_after);
    if now < window.opens {
        RenewalCheck::NotYet {
            opens: window.opens,
        }
    } else if now >= window.closes {
        RenewalCheck::Closed {
            closed: window.closes,
        }
    } else {
        RenewalCheck::Open {
            closes: window.closes,
        }
    }
}

/// The validity of a renewed certificate, in days: the years paid for, plus what was left of the
/// old certificate (rounded up to whole days), so renewing early loses nothing (延期). A lapsed
/// certificate adds nothing. The CA still holds it to its limits.
pub fn renewed_validity_days(years: u32, old_not_after: i64, now: i64) -> u32 {
    let left = old_not_after.saturating_sub(now).max(0);
    let left_days =
        u32::try_from((left + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY).unwrap_or(u32::MAX);
    crate::limits::validity_days(years).saturating_add(left_days)
}

const SECONDS_PER_DAY: i64 = 86_400;

/// What renewing `certificates` certificates of `product` for `years` costs: the product's
/// price per year for each, less a voucher. No 首张免费 and no 子证书 price: those are for
/// new certificates (DOMAIN.md, "per product year"). A product no longer sold is still
/// renewed: the key holder has the key already.
pub fn renewal_quote(
    product: &ProductSpec,
    years: u32,
    certificates: u32,
    voucher: Option<&VoucherFacts>,
    org_id: i64,
    order_id: Option<i64>,
    now: i64,
) -> Result<Quote, QuoteError> {
    if !(product.min_years..=product.max_years).contains(&years) {
        return Err(QuoteError::YearsOutOfRange {
            years,
            min: product.min_years,
            max: product.max_years,
        });
    }
    if let Some(voucher) = voucher {
        check_voucher(voucher, org_id, order_id, now)?;
    }
    let list_price_fen = i64::from(years)
        .saturating_mul(product.price_per_year_fen)
        .saturating_mul(i64::from(certificates));
    let mut discounts = Vec::new();
    let mut due = list_price_fen;
    if let Some(voucher) = voucher {
        let amount = voucher.amount_fen.max(0).min(due);
        due -= amount;
        discounts.push(DiscountLine {
            kind: DiscountKind::Voucher {
                code: voucher.code.clone(),
            },
            label: format!("抵扣券 {}", voucher.code),
            amount_fen: amount,
        });
    }
    Ok(Quote {
        years,
        sub_certificates: 0,
        price_per_year_fen: product.price_per_year_fen,
        sub_price_per_year_fen: product.sub_price_per_year_fen,
        list_price_fen,
        discounts,
        amount_due_fen: due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a Beijing wall-clock time.
    fn at(y: i16, m: i8, d: i8, h: i8) -> i64 {
        BEIJING
            .to_timestamp(jiff::civil::date(y, m, d).at(h, 0, 0, 0))
            .unwrap()
            .as_second()
    }

    #[test]
    fn the_window_is_three_calendar_months_either_side() {
        let expires = at(2027, 5, 31, 23);
        let window = renewal_window(expires);
        // 31 May − 3 months is 28 Feb (no 31 Feb); + 3 months is 31 Aug.
        assert_eq!(window.opens, at(2027, 2, 28, 23));
        assert_eq!(window.closes, at(2027, 8, 31, 23));
        assert_eq!(
            renewal_check(expires, window.opens - 1),
            RenewalCheck::NotYet {
                opens: window.opens
            }
        );
        assert_eq!(
            renewal_check(expires, window.opens),
            RenewalCheck::Open {
                closes: window.closes
            }
        );
        assert_eq!(
            renewal_check(expires, expires + 86_400),
            RenewalCheck::Open {
                closes: window.closes
            }
        );
        assert_eq!(
            renewal_check(expires, window.closes),
            RenewalCheck::Closed {
                closed: window.closes
            }
        );
    }

    fn product(price: i64) -> ProductSpec {
        ProductSpec {
            name: "UKey SM2".into(),
            medium: crate::product::Medium::UKey,
            algorithm: crate::product::KeyAlgorithm::Sm2,
            dual: true,
            min_years: 1,
            max_years: 3,
            price_per_year_fen: price,
            sub_price_per_year_fen: 1_000,
            first_free: true,
            active: false,
        }
    }

    #[test]
    fn renewals_are_priced_per_certificate_and_year_with_vouchers_and_no_first_free() {
        let now = at(2026, 12, 1, 9);
        let quote = renewal_quote(&product(30_000), 2, 3, None, 7, None, now).unwrap();
        assert_eq!(quote.list_price_fen, 2 * 3 * 30_000);
        assert_eq!(quote.amount_due_fen, 180_000);
        assert!(quote.discounts.is_empty());
        let voucher = VoucherFacts {
            code: "RENEW50".into(),
            amount_fen: 5_000,
            valid_until: now + 1,
            org_id: Some(7),
            redeemed_order_id: None,
        };
        let quote = renewal_quote(&product(30_000), 1, 1, Some(&voucher), 7, None, now).unwrap();
        assert_eq!(quote.amount_due_fen, 25_000);
        assert_eq!(
            renewal_quote(&product(30_000), 1, 1, Some(&voucher), 8, None, now),
            Err(QuoteError::VoucherOtherOrganisation("RENEW50".into()))
        );
        assert_eq!(
            renewal_quote(&product(30_000), 4, 1, None, 7, None, now),
            Err(QuoteError::YearsOutOfRange {
                years: 4,
                min: 1,
                max: 3
            })
        );
        // A voucher worth more than the price makes it free, never negative.
        let big = VoucherFacts {
            amount_fen: 100_000,
            ..voucher
        };
        let quote = renewal_quote(&product(30_000), 1, 1, Some(&big), 7, None, now).unwrap();
        assert_eq!(quote.amount_due_fen, 0);
    }

    #[test]
    fn a_renewal_keeps_the_days_left() {
        let now = at(2026, 12, 1, 9);
        assert_eq!(renewed_validity_days(1, now - 5, now), 365);
        assert_eq!(renewed_validity_days(1, now + 1, now), 366);
        assert_eq!(renewed_validity_days(1, now + 30 * 86_400, now), 395);
        assert_eq!(renewed_validity_days(2, now + 90 * 86_400, now), 730 + 90);
    }
}
