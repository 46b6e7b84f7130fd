//! What 制证 can fail with.

use crate::issuance::IssuanceError;
use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProductionError {
    #[error("CA锁ID不正确：应为1至64位字母、数字、“-”或“_”")]
    InvalidKeySerial,
    #[error("证书助手发来的数据有误：{0}")]
    Malformed(String),
    #[error("移动版证书的密钥由CA托管，无需制证")]
    HeldKeys,
    #[error("该订单不在制证中（当前状态：{0}），不能制证")]
    NotIssuing(&'static str),
    #[error("该订单已选用CA锁 {0} 制证，请插入这把CA锁继续")]
    OtherKey(String),
    #[error("该订单的证书已由申请人提交证书请求签发，无需制证")]
    IssuedElsewhere,
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ProductionError {
    fn failure(&self) -> Failure {
        use ProductionError::*;
        match self {
            InvalidKeySerial | Malformed(_) => Failure::Invalid,
            HeldKeys | NotIssuing(_) | OtherKey(_) | IssuedElsewhere => Failure::Conflict,
            Inconsistent(_) => Failure::Internal,
            Issuance(err) => err.failure(),
            Product(err) => err.failure(),
            Step(err) => err.failure(),
            Refused(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use ProductionError::*;
        match self {
            InvalidKeySerial => "invalid_key_serial",
            Malformed(_) => "malformed",
            HeldKeys => "held_keys",
            NotIssuing(_) => "not_issuing",
            OtherKey(_) => "other_key",
            IssuedElsewhere => "issued_elsewhere",
            Inconsistent(_) => "internal",
            Issuance(err) => err.code(),
            Product(err) => err.code(),
            Step(err) => err.code(),
            Refused(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
