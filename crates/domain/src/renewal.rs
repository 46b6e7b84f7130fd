//! When a certificate may be renewed (续费/延期, DOMAIN.md business type 2): from 3 months before
//! it expires until 3 months after; after that it is revoked (cessationOfOperation) and the
//! organisation applies anew (新办). Months are calendar months in Beijing time.

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
}
