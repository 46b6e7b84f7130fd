//! What accounts, registration and login can fail with.

use crate::web::error::{ApiError, Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The organisation's name does not fit a certificate (the message says why).
    #[error("单位{0}")]
    InvalidOrganisationName(certdesk_domain::limits::LimitError),
    #[error("{0}")]
    InvalidCreditCode(String),
    #[error("{0}")]
    InvalidUsername(String),
    #[error("姓名不能为空，且不超过50个字")]
    InvalidName,
    #[error("{0}")]
    WeakPassword(String),
    #[error("{0}")]
    InvalidRole(&'static str),
    #[error("该统一社会信用代码已注册：请由本单位管理员登录；如系他人冒用注册，可申请单位认领")]
    OrganisationExists,
    #[error("该用户名已被使用，请换一个")]
    UsernameTaken,
    #[error("当前密码不正确")]
    WrongPassword,
    #[error("请为令牌起一个不超过50个字的名称，例如“夜间导出脚本”")]
    InvalidTokenName,
    #[error("令牌不存在")]
    TokenNotFound,
    #[error("账号不存在")]
    AccountNotFound,
    #[error("不能停用或重置自己的账号")]
    OwnAccount,
    #[error("本网络注册过于频繁，请{minutes}分钟后再试")]
    TooManyRegistrations { minutes: i64 },
    #[error("令牌有效期应为1至{0}天")]
    InvalidTokenExpiry(i64),
    #[error("用户名或密码错误")]
    InvalidCredentials,
    /// Too many failed logins for the account or the client address.
    #[error("登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试")]
    Locked { minutes: i64 },
    /// Hashing a password failed: ours (already logged).
    #[error("{}", .0.message)]
    Hashing(ApiError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for AccountError {
    fn failure(&self) -> Failure {
        use AccountError::*;
        match self {
            InvalidOrganisationName(_)
            | InvalidCreditCode(_)
            | InvalidUsername(_)
            | InvalidName
            | WeakPassword(_)
            | InvalidRole(_)
            | InvalidTokenName
            | InvalidTokenExpiry(_) => Failure::Invalid,
            OrganisationExists | UsernameTaken => Failure::Conflict,
            WrongPassword => Failure::Forbidden,
            TokenNotFound | AccountNotFound => Failure::NotFound,
            OwnAccount => Failure::Conflict,
            InvalidCredentials => Failure::Unauthenticated,
            Locked { .. } | TooManyRegistrations { .. } => Failure::TooMany,
            Hashing(_) => Failure::Internal,
            Refused(refusal) => refusal.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use AccountError::*;
        match self {
            InvalidOrganisationName(_) => "invalid_organisation_name",
            InvalidCreditCode(_) => "invalid_credit_code",
            InvalidUsername(_) => "invalid_username",
            InvalidName => "invalid_name",
            WeakPassword(_) => "weak_password",
            InvalidRole(_) => "invalid_role",
            OrganisationExists => "organisation_exists",
            UsernameTaken => "username_taken",
            WrongPassword => "wrong_password",
            InvalidTokenName => "invalid_token_name",
            InvalidTokenExpiry(_) => "invalid_token_expiry",
            TokenNotFound | AccountNotFound => "not_found",
            OwnAccount => "own_account",
            InvalidCredentials => "invalid_credentials",
            Locked { .. } => "login_locked",
            TooManyRegistrations { .. } => "too_many_registrations",
            Hashing(_) => "internal_error",
            Refused(refusal) => refusal.code(),
            Store(err) => err.code(),
        }
    }
}
