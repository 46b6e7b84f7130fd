//! The reasons an organisation may give for revoking its certificate (吊销), as RFC 5280 names
//! them and as users read them.

/// A reason a supplier picks; the CA records it as the CRL reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedReason {
    /// 密钥泄露或CA锁丢失: revoked at once, not held for review.
    KeyCompromise,
    /// 单位信息变更 (name, legal representative).
    AffiliationChanged,
    /// 证书已被替换.
    Superseded,
    /// 不再使用.
    CessationOfOperation,
}

impl RequestedReason {
    pub const ALL: [RequestedReason; 4] = [
        RequestedReason::KeyCompromise,
        RequestedReason::AffiliationChanged,
        RequestedReason::Superseded,
        RequestedReason::CessationOfOperation,
    ];

    /// The RFC 5280 name, as the CA takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestedReason::KeyCompromise => "keyCompromise",
            RequestedReason::AffiliationChanged => "affiliationChanged",
            RequestedReason::Superseded => "superseded",
            RequestedReason::CessationOfOperation => "cessationOfOperation",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RequestedReason::KeyCompromise => "密钥泄露或CA锁丢失",
            RequestedReason::AffiliationChanged => "单位信息变更",
            RequestedReason::Superseded => "证书已被替换",
            RequestedReason::CessationOfOperation => "不再使用",
        }
    }

    pub fn parse(name: &str) -> Option<RequestedReason> {
        RequestedReason::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether the certificate is revoked as soon as the representative confirms.
    pub fn revokes_at_once(self) -> bool {
        self == RequestedReason::KeyCompromise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_only_a_compromise_skips_review() {
        for reason in RequestedReason::ALL {
            assert_eq!(RequestedReason::parse(reason.as_str()), Some(reason));
            assert_eq!(
                reason.revokes_at_once(),
                reason == RequestedReason::KeyCompromise
            );
        }
        assert_eq!(
            RequestedReason::parse(" KEYCOMPROMISE "),
            Some(RequestedReason::KeyCompromise)
        );
        assert_eq!(RequestedReason::parse("removeFromCRL"), None);
        assert_eq!(RequestedReason::parse("certificateHold"), None);
    }
}
