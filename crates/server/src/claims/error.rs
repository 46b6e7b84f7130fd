//! What 单位认领 can fail with.

use crate::accounts::AccountError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::claim::ClaimDecidedAlready;
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("{0}")]
    InvalidCreditCode(String),
    #[error("该统一社会信用代码尚未在本平台注册，无需认领，请直接注册单位")]
    NotRegistered,
    #[error("单位名称{0}")]
    InvalidOrganisationName(certdesk_domain::limits::LimitError),
    #[error("请填写认领人姓名（不超过50个字）")]
    InvalidClaimantName,
    #[error("认领人手机号：{0}")]
    InvalidMobile(String),
    #[error("{0}")]
    InvalidStatement(String),
    #[error("两次输入的密码不一致")]
    PasswordsDiffer,
    /// A document is missing or refused; `which` names it.
    #[error("{which}：{reason}")]
    Document { which: &'static str, reason: String },
    #[error("该单位已有一份认领申请正在审核，请等待审核结果（可凭查询码查看）")]
    AlreadyPending,
    #[error("该用户名已被使用，请换一个")]
    UsernameTaken,
    #[error("本网络提交过于频繁，请{minutes}分钟后再试")]
    TooMany { minutes: i64 },
    #[error("认领申请不存在")]
    NotFound,
    #[error("查询码不正确，请核对提交认领时显示的查询码")]
    UnknownQueryCode,
    #[error(transparent)]
    Decided(#[from] ClaimDecidedAlready),
    #[error("审核结果应为“通过”（approve）或“驳回”（reject）")]
    InvalidDecision,
    #[error("{0}")]
    InvalidReason(String),
    /// Someone took the claimant's user name between filing and approval.
    #[error("认领人申请的用户名已被他人使用，无法通过；请驳回并请认领人换一个用户名重新提交")]
    UsernameTakenSinceFiling,
    #[error(transparent)]
    Account(AccountError),
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ClaimError {
    fn failure(&self) -> Failure {
        use ClaimError::*;
        match self {
            InvalidCreditCode(_)
            | NotRegistered
            | InvalidOrganisationName(_)
            | InvalidClaimantName
            | InvalidMobile(_)
            | InvalidStatement(_)
            | PasswordsDiffer
            | Document { .. }
            | UnknownQueryCode
            | InvalidDecision
            | InvalidReason(_) => Failure::Invalid,
            AlreadyPending | UsernameTaken | Decided(_) | UsernameTakenSinceFiling => {
                Failure::Conflict
            }
            TooMany { .. } => Failure::TooMany,
            NotFound => Failure::NotFound,
            Account(err) => err.failure(),
            Inconsistent(_) => Failure::Internal,
            Refused(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use ClaimError::*;
        match self {
            InvalidCreditCode(_) => "invalid_credit_code",
            NotRegistered => "organisation_not_registered",
            InvalidOrganisationName(_) => "invalid_organisation_name",
            InvalidClaimantName => "invalid_claimant_name",
            InvalidMobile(_) => "invalid_mobile",
            InvalidStatement(_) => "invalid_statement",
            PasswordsDiffer => "passwords_differ",
            Document { .. } => "document_refused",
            AlreadyPending => "claim_pending",
            UsernameTaken => "username_taken",
            TooMany { .. } => "too_many_requests",
            NotFound => "claim_not_found",
            UnknownQueryCode => "unknown_query_code",
            Decided(_) => "claim_decided",
            InvalidDecision => "invalid_decision",
            InvalidReason(_) => "invalid_reason",
            UsernameTakenSinceFiling => "username_taken_since_filing",
            Account(err) => err.code(),
            Inconsistent(_) => "internal",
            Refused(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
