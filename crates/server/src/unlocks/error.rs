//! What 解锁 can fail with.

use crate::identity::IdentityError;
use crate::pipeline::StepError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_domain::unlock::CodeRefusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error("本单位没有证书序列号为 {0} 的CA锁，请核对CA锁上显示的证书序列号")]
    UnknownKey(String),
    #[error("该CA锁的证书已吊销，无法解锁；请办理补办")]
    KeyRevoked,
    #[error("请填写持锁人姓名（不超过50个字）")]
    InvalidHolderName,
    #[error("持锁人{0}")]
    InvalidHolderId(String),
    #[error("持锁人手机号：{0}")]
    InvalidHolderMobile(String),
    #[error("请简要说明解锁原因（不超过200个字），例如“PIN码输错次数过多被锁定”")]
    InvalidReason,
    #[error("请先完成持锁人的身份核验，再提交解锁申请")]
    IdentityNotChecked,
    #[error("该业务单不是解锁申请")]
    NotAnUnlock,
    #[error("解锁申请不存在")]
    NotFound,
    #[error("{0}")]
    Code(#[from] CodeRefusal),
    #[error("解锁授权码输错次数过多，请{minutes}分钟后再试")]
    TooManyTries { minutes: i64 },
    #[error("该CA锁不是在本平台制证的，无法在线解锁；请联系CA客服用管理员PIN码解锁")]
    NotMadeHere,
    #[error("证书助手发来的解锁挑战有误：{0}")]
    BadChallenge(String),
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for UnlockError {
    fn failure(&self) -> Failure {
        use UnlockError::*;
        match self {
            UnknownKey(_)
            | InvalidHolderName
            | InvalidHolderId(_)
            | InvalidHolderMobile(_)
            | InvalidReason
            | IdentityNotChecked => Failure::Invalid,
            KeyRevoked | NotAnUnlock | NotMadeHere => Failure::Conflict,
            BadChallenge(_) => Failure::Invalid,
            NotFound => Failure::NotFound,
            Code(CodeRefusal::Unknown | CodeRefusal::OtherKey) => Failure::Invalid,
            Code(CodeRefusal::Used | CodeRefusal::Expired) => Failure::Conflict,
            TooManyTries { .. } => Failure::TooMany,
            Inconsistent(_) => Failure::Internal,
            Identity(err) => err.failure(),
            Step(err) => err.failure(),
            Refused(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use UnlockError::*;
        match self {
            UnknownKey(_) => "unknown_key",
            KeyRevoked => "key_revoked",
            InvalidHolderName => "invalid_holder_name",
            InvalidHolderId(_) => "invalid_id_number",
            InvalidHolderMobile(_) => "invalid_mobile",
            InvalidReason => "invalid_reason",
            IdentityNotChecked => "identity_not_checked",
            NotAnUnlock => "not_an_unlock",
            NotMadeHere => "not_made_here",
            BadChallenge(_) => "bad_challenge",
            NotFound => "unlock_not_found",
            Code(CodeRefusal::Unknown) => "unlock_code_unknown",
            Code(CodeRefusal::OtherKey) => "unlock_code_other_key",
            Code(CodeRefusal::Used) => "unlock_code_used",
            Code(CodeRefusal::Expired) => "unlock_code_expired",
            TooManyTries { .. } => "too_many_requests",
            Inconsistent(_) => "internal",
            Identity(err) => err.code(),
            Step(err) => err.code(),
            Refused(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
