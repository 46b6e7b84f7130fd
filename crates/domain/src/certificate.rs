//! The states of a certificate users see (DOMAIN.md, "Certificates"): 处理中, 已生效, 即将到期,
//! 已过期, 已吊销.

/// A certificate counts as 即将到期 this long before it expires.
pub const EXPIRING_SOON_SECONDS: i64 = 30 * 24 * 3600;

/// Expiry reminders go out this many days before a certificate expires (DOMAIN.md: 30 days
/// before, "and again nearer to it"; guide 003: 30 days).
pub const REMINDER_DAYS: [i64; 4] = [30, 15, 7, 1];

/// The reminder due for a certificate expiring at `not_after`, at `now`: the nearest threshold
/// already reached (a server that was down for a week sends the 7-day reminder, not the 30-,
/// 15- and 7-day ones at once); `None` before the first and once it has expired.
pub fn reminder_due(not_after: i64, now: i64) -> Option<i64> {
    let left = not_after - now;
    if left <= 0 {
        return None;
    }
    REMINDER_DAYS
        .iter()
        .rev()
        .copied()
        .find(|days| left <= days * 86_400)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateState {
    /// Issued, but the supplier does not have it yet (being delivered).
    Processing,
    Valid,
    ExpiringSoon,
    Expired,
    Revoked,
    /// Revoked because a newer certificate took its place (renewal, 补办, 变更).
    Replaced,
}

impl CertificateState {
    pub fn label_zh(self) -> &'static str {
        match self {
            CertificateState::Processing => "处理中",
            CertificateState::Valid => "已生效",
            CertificateState::ExpiringSoon => "即将到期",
            CertificateState::Expired => "已过期",
            CertificateState::Revoked => "已吊销",
            CertificateState::Replaced => "已被替换",
        }
    }
}

/// A revoked certificate's state by its CRL reason: `superseded` reads 已被替换, any other
/// 已吊销.
pub fn revoked_state(reason: Option<&str>) -> CertificateState {
    match reason {
        Some("superseded") => CertificateState::Replaced,
        _ => CertificateState::Revoked,
    }
}

/// Whether a holder may still act on a key in this state (解锁, 吊销, 续费 …): it is theirs
/// and not revoked.
pub fn actions_apply(state: CertificateState) -> bool {
    matches!(
        state,
        CertificateState::Valid | CertificateState::ExpiringSoon | CertificateState::Expired
    )
}

/// The state of a certificate at `now`: revocation first, then whether the supplier has
/// received it (its order completed), then its validity period.
pub fn certificate_state(
    received: bool,
    revoked: bool,
    not_before: i64,
    not_after: i64,
    now: i64,
) -> CertificateState {
    if revoked {
        CertificateState::Revoked
    } else if now > not_after {
        CertificateState::Expired
    } else if !received || now < not_before {
        CertificateState::Processing
    } else if not_after - now <= EXPIRING_SOON_SECONDS {
        CertificateState::ExpiringSoon
    } else {
        CertificateState::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CertificateState::*;

    #[test]
    fn a_superseded_certificate_reads_replaced() {
        assert_eq!(revoked_state(Some("superseded")), Replaced);
        assert_eq!(revoked_state(Some("keyCompromise")), Revoked);
        assert_eq!(revoked_state(None), Revoked);
        assert!(actions_apply(ExpiringSoon) && actions_apply(Expired));
        assert!(!actions_apply(Replaced) && !actions_apply(Revoked) && !actions_apply(Processing));
    }

    #[test]
    fn the_nearest_reminder_reached_is_due() {
        let day = 86_400;
        let expires = 100 * day;
        assert_eq!(reminder_due(expires, expires - 31 * day), None);
        assert_eq!(reminder_due(expires, expires - 30 * day), Some(30));
        assert_eq!(reminder_due(expires, expires - 16 * day), Some(30));
        assert_eq!(reminder_due(expires, expires - 15 * day), Some(15));
        assert_eq!(reminder_due(expires, expires - 8 * day), Some(15));
        assert_eq!(reminder_due(expires, expires - 7 * day), Some(7));
        assert_eq!(reminder_due(expires, expires - 2 * day), Some(7));
        assert_eq!(reminder_due(expires, expires - day), Some(1));
        assert_eq!(reminder_due(expires, expires - 1), Some(1));
        assert_eq!(reminder_due(expires, expires), None);
        assert_eq!(reminder_due(expires, expires + day), None);
    }

    #[test]
    fn states_across_a_certificates_life() {
        let (from, to) = (1_000_000, 1_000_000 + 365 * 86_400);
        let cases = [
            (false, false, from + 10, Processing),
            (true, false, from - 1, Processing),
            (true, false, from, Valid),
            (true, false, to - EXPIRING_SOON_SECONDS - 1, Valid),
            (true, false, to - EXPIRING_SOON_SECONDS, ExpiringSoon),
            (true, false, to, ExpiringSoon),
            (true, false, to + 1, Expired),
            (false, false, to + 1, Expired),
            (true, true, from + 10, Revoked),
            (false, true, to + 1, Revoked),
        ];
        for (received, revoked, now, expected) in cases {
            assert_eq!(
                certificate_state(received, revoked, from, to, now),
                expected,
                "received={received} revoked={revoked} now={now}"
            );
        }
        assert_eq!(Valid.label_zh(), "已生效");
    }
}
