//! What 补办 can fail with.

use crate::applications::ApplicationError;
use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_domain::FieldError;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReplacementError {
    #[error("本单位没有证书序列号为 {0} 的CA锁，请在“我的证书”中核对证书序列号")]
    UnknownKey(String),
    #[error("该CA锁的证书已吊销或已被替换，无需补办；如需证书请重新申领（新办）")]
    KeyRevoked,
    #[error("该证书已续费，请选择续费后的新证书办理补办")]
    KeyRenewed,
    #[error("请选择补办原因：原CA锁丢失、CA锁损坏或CA证书升级")]
    InvalidReason,
    #[error("原CA锁没有加密证书，无法恢复加密密钥")]
    NothingToRestore,
    #[error("该CA锁已在办理中的补办业务单里，请勿重复申请")]
    AlreadyReplacing,
    #[error("移动版证书无需补办CA锁，请在手机上重新下载")]
    HeldKeys,
    #[error("{}", .0.first().map(|e| e.message.as_str()).unwrap_or("领取方式有误"))]
    Delivery(Vec<FieldError>),
    #[error("该业务单不是补办申请")]
    NotAReplacement,
    #[error("{0}")]
    VoucherRefused(String),
    #[error(transparent)]
    Issuance(#[from] crate::issuance::IssuanceError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Application(#[from] ApplicationError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ReplacementError {
    fn failure(&self) -> Failure {
        use ReplacementError::*;
        match self {
            UnknownKey(_) | InvalidReason | NothingToRestore | Delivery(_) | VoucherRefused(_) => {
                Failure::Invalid
            }
            KeyRevoked | KeyRenewed | AlreadyReplacing | HeldKeys | NotAReplacement => {
                Failure::Conflict
            }
            Issuance(e) => e.failure(),
            Product(e) => e.failure(),
            Application(e) => e.failure(),
            Step(e) => e.failure(),
            Refused(e) => e.failure(),
            Store(e) => e.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use ReplacementError::*;
        match self {
            UnknownKey(_) => "unknown_key",
            KeyRevoked => "key_revoked",
            KeyRenewed => "key_renewed",
            InvalidReason => "invalid_reason",
            NothingToRestore => "nothing_to_restore",
            AlreadyReplacing => "already_replacing",
            HeldKeys => "held_keys",
            Delivery(_) => "invalid_delivery",
            NotAReplacement => "not_a_replacement",
            VoucherRefused(_) => "invalid_voucher",
            Issuance(e) => e.code(),
            Product(e) => e.code(),
            Application(e) => e.code(),
            Step(e) => e.code(),
            Refused(e) => e.code(),
            Store(e) => e.code(),
        }
    }
}

impl From<crate::issuance::KeyUnfit> for ReplacementError {
    fn from(unfit: crate::issuance::KeyUnfit) -> Self {
        use crate::issuance::KeyUnfit;
        match unfit {
            KeyUnfit::Unknown(serial) => ReplacementError::UnknownKey(serial),
            KeyUnfit::Revoked => ReplacementError::KeyRevoked,
            KeyUnfit::Renewed => ReplacementError::KeyRenewed,
            KeyUnfit::HeldKeys => ReplacementError::HeldKeys,
        }
    }
}
