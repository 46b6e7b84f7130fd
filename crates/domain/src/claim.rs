//! 单位认领: taking back a credit code that someone else registered.
//!
//! A credit code names one legal entity, and certdesk registers it once. When another person
//! registered it first (a former employee, a squatter, a mistake), the entity's representative
//! files a claim with its business licence and a claim letter under its official seal; a
//! platform operator checks them and decides. Approval hands the organisation to the claimant:
//! a new admin account, the earlier accounts disabled, the registered name as on the licence.

use std::fmt;

/// Where a claim stands. A claim is decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimStatus {
    /// 待审核: filed, waiting for an operator.
    Pending,
    /// 已通过: the organisation was handed to the claimant.
    Approved,
    /// 已驳回: with the operator's reason; the claimant may file again.
    Rejected,
}

impl ClaimStatus {
    pub const ALL: [ClaimStatus; 3] = [
        ClaimStatus::Pending,
        ClaimStatus::Approved,
        ClaimStatus::Rejected,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Pending => "pending",
            ClaimStatus::Approved => "approved",
            ClaimStatus::Rejected => "rejected",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ClaimStatus::Pending => "待审核",
            ClaimStatus::Approved => "已通过",
            ClaimStatus::Rejected => "已驳回",
        }
    }

    pub fn parse(stored: &str) -> Option<ClaimStatus> {
        ClaimStatus::ALL.into_iter().find(|s| s.as_str() == stored)
    }

    /// The status a decision leads to, or why the claim cannot be decided.
    pub fn decide(self, decision: ClaimDecision) -> Result<ClaimStatus, ClaimDecidedAlready> {
        match self {
            ClaimStatus::Pending => Ok(match decision {
                ClaimDecision::Approve => ClaimStatus::Approved,
                ClaimDecision::Reject => ClaimStatus::Rejected,
            }),
            decided => Err(ClaimDecidedAlready(decided)),
        }
    }
}

impl fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_zh())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimDecision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("该认领申请已处理（{0}），不能再次审核")]
pub struct ClaimDecidedAlready(pub ClaimStatus);

/// The longest claim statement (认领说明) and rejection reason, in characters.
pub const MAX_STATEMENT_CHARS: usize = 500;
pub const MAX_REASON_CHARS: usize = 200;

/// The claimant's statement: why the code is theirs and how they learnt it was taken.
pub fn check_statement(statement: &str) -> Result<&str, String> {
    let statement = statement.trim();
    match statement.chars().count() {
        0 => Err("请填写认领说明：为何该统一社会信用代码属于贵单位".into()),
        n if n > MAX_STATEMENT_CHARS => Err(format!(
            "认领说明最多 {MAX_STATEMENT_CHARS} 字，现为 {n} 字"
        )),
        _ => Ok(statement),
    }
}

/// An operator's reason for rejecting a claim, shown to the claimant.
pub fn check_rejection_reason(reason: &str) -> Result<&str, String> {
    let reason = reason.trim();
    match reason.chars().count() {
        0 => Err("请填写驳回原因，认领人将看到该原因".into()),
        n if n > MAX_REASON_CHARS => {
            Err(format!("驳回原因最多 {MAX_REASON_CHARS} 字，现为 {n} 字"))
        }
        _ => Ok(reason),
    }
}

/// A claim's number as people quote it on the phone: `RL` and its id, zero-padded.
pub fn claim_number(id: i64) -> String {
    format!("RL{id:08}")
}

/// The id in a claim number, if it is one.
pub fn parse_claim_number(number: &str) -> Option<i64> {
    let digits = number.trim().strip_prefix("RL")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_decided_once() {
        assert_eq!(
            ClaimStatus::Pending.decide(ClaimDecision::Approve),
            Ok(ClaimStatus::Approved)
        );
        assert_eq!(
            ClaimStatus::Pending.decide(ClaimDecision::Reject),
            Ok(ClaimStatus::Rejected)
        );
        for decided in [ClaimStatus::Approved, ClaimStatus::Rejected] {
            for decision in [ClaimDecision::Approve, ClaimDecision::Reject] {
                assert_eq!(decided.decide(decision), Err(ClaimDecidedAlready(decided)));
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for status in ClaimStatus::ALL {
            assert_eq!(ClaimStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ClaimStatus::parse("approved "), None);
    }

    #[test]
    fn statements_and_reasons_are_required_and_bounded() {
        assert!(check_statement("  ").is_err());
        assert_eq!(
            check_statement(" 本单位营业执照附后 "),
            Ok("本单位营业执照附后")
        );
        assert!(check_statement(&"字".repeat(MAX_STATEMENT_CHARS)).is_ok());
        let long = check_statement(&"字".repeat(MAX_STATEMENT_CHARS + 1)).unwrap_err();
        assert!(long.contains("501"), "{long}");
        assert!(check_rejection_reason("").is_err());
        assert!(check_rejection_reason(&"字".repeat(MAX_REASON_CHARS + 1)).is_err());
        assert_eq!(check_rejection_reason("公章不清晰"), Ok("公章不清晰"));
    }

    #[test]
    fn claim_numbers_round_trip_and_refuse_anything_else() {
        assert_eq!(claim_number(42), "RL00000042");
        assert_eq!(parse_claim_number("RL00000042"), Some(42));
        assert_eq!(parse_claim_number(" RL00000042 "), Some(42));
        for bad in [
            "RL0000042",
            "RL00000000",
            "rl00000042",
            "RL0000004x",
            "42",
            "",
        ] {
            assert_eq!(parse_claim_number(bad), None, "{bad}");
        }
    }
}
