//! What identity checks (身份核验) can fail with.

use crate::pipeline::StepError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_domain::{IdentityMethod, OrderStatus};
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A field of the request is missing or wrong; `code` names the field's rule.
    #[error("{message}")]
    InvalidField { code: &'static str, message: String },
    #[error("业务单当前状态为“{}”，只有草稿或审核未通过的业务单可以进行身份核验", .0.label_zh())]
    NotEditable(OrderStatus),
    #[error("{0}")]
    UnknownMethod(String),
    /// The identity provider could not be asked; the log says why.
    #[error("身份核验服务暂时不可用，请稍后重试")]
    ProviderUnavailable,
    /// No identity provider is configured here.
    #[error("{}", super::NO_PROVIDER)]
    NoProvider,
    #[error("今日人脸识别次数已用完（每人每天最多{0}次），请明天再试，或选择其他核验方式")]
    FaceDailyLimit(i64),
    #[error("验证码已发送，请{0}秒后再重新获取")]
    SmsTooSoon(i64),
    #[error("今日已为该法定代表人发送{0}次短信验证码，请明天再试，或选择其他核验方式")]
    SmsDailyLimit(i64),
    #[error("已向对公账户 {account} 打款 0.01 元，请查看到账附言中的验证码并输入；验证码有效至 {until}，过期后才能重新打款")]
    MicroDepositPending { account: String, until: String },
    #[error("对公打款正在发起，请{0}秒后刷新查看结果，不要重复提交")]
    DepositStarting(i64),
    #[error("{}不需要输入验证码", .0.label_zh())]
    NoCodeForMethod(IdentityMethod),
    #[error("请先获取验证码")]
    NoPendingCode,
    #[error("身份核验已通过，无需再次输入验证码")]
    AlreadyPassed,
    #[error("验证码错误次数过多，已失效，请重新获取")]
    CodeLocked,
    #[error("验证码状态已变化（可能已在别处输入或重新获取），请刷新后重试")]
    CodeChanged,
    #[error("验证码不正确，还可以再试{remaining}次")]
    WrongCode { remaining: i64 },
    /// The sandbox's outbox, asked of a real provider.
    #[error("请求的资源不存在")]
    NoSandbox,
    /// Records that do not fit: ours.
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for IdentityError {
    fn failure(&self) -> Failure {
        use IdentityError::*;
        match self {
            InvalidField { .. } | CodeLocked | WrongCode { .. } => Failure::Invalid,
            NotEditable(_) | NoCodeForMethod(_) | NoPendingCode | AlreadyPassed | CodeChanged => {
                Failure::Conflict
            }
            UnknownMethod(_) | NoSandbox => Failure::NotFound,
            ProviderUnavailable | NoProvider => Failure::Unavailable,
            FaceDailyLimit(_)
            | SmsTooSoon(_)
            | SmsDailyLimit(_)
            | MicroDepositPending { .. }
            | DepositStarting(_) => Failure::TooMany,
            Inconsistent(_) => Failure::Internal,
            Refused(refusal) => refusal.failure(),
            Step(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use IdentityError::*;
        match self {
            InvalidField { code, .. } => code,
            NotEditable(_) => "order_not_editable",
            UnknownMethod(_) => "unknown_identity_method",
            ProviderUnavailable => "identity_provider_unavailable",
            NoProvider => "identity_provider_not_configured",
            FaceDailyLimit(_) => "face_daily_limit",
            SmsTooSoon(_) => "sms_too_soon",
            SmsDailyLimit(_) => "sms_daily_limit",
            MicroDepositPending { .. } => "micro_deposit_pending",
            DepositStarting(_) => "micro_deposit_starting",
            NoCodeForMethod(_) => "no_code_for_method",
            NoPendingCode => "no_pending_code",
            AlreadyPassed => "already_passed",
            CodeLocked => "code_locked",
            CodeChanged => "code_changed",
            WrongCode { .. } => "wrong_code",
            NoSandbox => "not_found",
            Inconsistent(_) => "internal_error",
            Refused(refusal) => refusal.code(),
            Step(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
