//! What 变更 can fail with.

use crate::applications::ApplicationError;
use crate::identity::IdentityError;
use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::change::ChangeError as RuleBroken;
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("本单位没有证书序列号为 {0} 的CA锁，请在“我的证书”中核对证书序列号")]
    UnknownKey(String),
    #[error("该CA锁的证书已吊销或已被替换，不能变更；如需证书请重新申领（新办）")]
    KeyRevoked,
    #[error("该证书已续费，请选择续费后的新证书办理变更")]
    KeyRenewed,
    #[error("该CA锁已在办理中的补办或变更业务单里，请勿重复申请")]
    AlreadyChanging,
    #[error("移动版证书的变更请在手机上办理")]
    HeldKeys,
    #[error("{0}")]
    Rule(#[from] RuleBroken),
    #[error("请先由法定代表人完成手机号实名核验，再提交变更申请")]
    IdentityNotChecked,
    #[error("请上传加盖公章的变更后营业执照")]
    LicenceMissing,
    #[error("该业务单不是变更申请")]
    NotAChange,
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Issuance(#[from] crate::issuance::IssuanceError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Application(#[from] ApplicationError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ChangeError {
    fn failure(&self) -> Failure {
        use ChangeError::*;
        match self {
            UnknownKey(_) | Rule(_) | IdentityNotChecked | LicenceMissing => Failure::Invalid,
            KeyRevoked | KeyRenewed | AlreadyChanging | HeldKeys | NotAChange => Failure::Conflict,
            Inconsistent(_) => Failure::Internal,
            Issuance(e) => e.failure(),
            Product(e) => e.failure(),
            Application(e) => e.failure(),
            Identity(e) => e.failure(),
            Step(e) => e.failure(),
            Refused(e) => e.failure(),
            Store(e) => e.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use ChangeError::*;
        match self {
            UnknownKey(_) => "unknown_key",
            KeyRevoked => "key_revoked",
            KeyRenewed => "key_renewed",
            AlreadyChanging => "already_changing",
            HeldKeys => "held_keys",
            Rule(RuleBroken::CreditCodeChanged) => "credit_code_changed",
            Rule(RuleBroken::NothingChanged) => "nothing_changed",
            Rule(RuleBroken::InvalidName(_)) => "invalid_org_name",
            Rule(RuleBroken::InvalidLegalRepName) => "invalid_name",
            Rule(RuleBroken::InvalidLegalRepId(_)) => "invalid_id_number",
            Rule(RuleBroken::InvalidLegalRepMobile(_)) => "invalid_mobile",
            IdentityNotChecked => "identity_not_checked",
            LicenceMissing => "licence_missing",
            NotAChange => "not_a_change",
            Inconsistent(_) => "internal",
            Issuance(e) => e.code(),
            Product(e) => e.code(),
            Application(e) => e.code(),
            Identity(e) => e.code(),
            Step(e) => e.code(),
            Refused(e) => e.code(),
            Store(e) => e.code(),
        }
    }
}

impl From<crate::issuance::KeyUnfit> for ChangeError {
    fn from(unfit: crate::issuance::KeyUnfit) -> Self {
        use crate::issuance::KeyUnfit;
        match unfit {
            KeyUnfit::Unknown(serial) => ChangeError::UnknownKey(serial),
            KeyUnfit::Revoked => ChangeError::KeyRevoked,
            KeyUnfit::Renewed => ChangeError::KeyRenewed,
            KeyUnfit::HeldKeys => ChangeError::HeldKeys,
        }
    }
}
