//! The outbox's rules (issue 15): how often a message is tried and when again.

/// Tries before a message becomes a dead letter for staff to look at.
pub const MAX_ATTEMPTS: i64 = 8;

/// How long a worker holds the messages it took before another may take them over: longer
/// than one delivery may take (SMTP's own timeouts are a minute).
pub const LEASE_SECS: i64 = 300;

/// When a message that failed on its `attempts`-th try (counting from 1) is tried again, or
/// `None` when that was the last: 30 s, 1, 2, 4 … minutes, at most an hour apart.
pub fn retry_at(attempts: i64, failed_at: i64) -> Option<i64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let wait = 30_i64
        .saturating_mul(2_i64.saturating_pow(exponent))
        .min(3600);
    Some(failed_at + wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_stop() {
        assert_eq!(retry_at(1, 1000), Some(1030));
        assert_eq!(retry_at(2, 1000), Some(1060));
        assert_eq!(retry_at(3, 1000), Some(1120));
        assert_eq!(retry_at(7, 1000), Some(1000 + 1920));
        assert_eq!(retry_at(MAX_ATTEMPTS, 1000), None);
        assert_eq!(retry_at(MAX_ATTEMPTS + 3, 1000), None);
        // Never more than an hour apart, whatever the count.
        assert!((1..MAX_ATTEMPTS).all(|n| retry_at(n, 0).unwrap() <= 3600));
    }
}
