//! RFC 5280 revocation reasons by the names operators type (`--reason keyCompromise`).

use certdesk_pki::CrlReason;

/// Every name `certdesk ca revoke --reason` takes, in code order.
pub const CRL_REASON_NAMES: [&str; 9] = [
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
    "aACompromise",
];

pub fn crl_reason_name(reason: CrlReason) -> &'static str {
    match reason {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "cACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "aACompromise",
    }
}

/// The reason a name stands for, case-insensitively; `None` for an unknown name.
pub fn crl_reason_from_name(name: &str) -> Option<CrlReason> {
    const ALL: [CrlReason; 10] = [
        CrlReason::Unspecified,
        CrlReason::KeyCompromise,
        CrlReason::CaCompromise,
        CrlReason::AffiliationChanged,
        CrlReason::Superseded,
        CrlReason::CessationOfOperation,
        CrlReason::CertificateHold,
        CrlReason::RemoveFromCRL,
        CrlReason::PrivilegeWithdrawn,
        CrlReason::AaCompromise,
    ];
    ALL.into_iter()
        .find(|r| crl_reason_name(*r).eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in CRL_REASON_NAMES {
            let reason = crl_reason_from_name(name).unwrap();
            assert_eq!(crl_reason_name(reason), name);
        }
        assert_eq!(
            crl_reason_from_name("KEYCOMPROMISE"),
            Some(CrlReason::KeyCompromise)
        );
        assert_eq!(crl_reason_from_name("lost"), None);
    }
}
