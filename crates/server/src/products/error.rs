//! What the product catalogue can fail with.

use crate::web::error::{Failure, FeatureError};
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// A field of a product, voucher or quote breaks its rule; `code` names the rule.
    #[error("{message}")]
    InvalidField { code: &'static str, message: String },
    #[error("请求的资源不存在")]
    NotFound,
    #[error("抵扣券券码 {0} 已存在")]
    VoucherExists(String),
    #[error(transparent)]
    Refused(#[from] certdesk_domain::permissions::Refusal),
    /// An order or application names a product the catalogue does not have: records that do
    /// not fit, ours.
    #[error("产品 {0} 不存在")]
    Missing(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ProductError {
    fn failure(&self) -> Failure {
        match self {
            ProductError::InvalidField { .. } => Failure::Invalid,
            ProductError::NotFound => Failure::NotFound,
            ProductError::VoucherExists(_) => Failure::Conflict,
            ProductError::Refused(refusal) => refusal.failure(),
            ProductError::Missing(_) => Failure::Internal,
            ProductError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ProductError::InvalidField { code, .. } => code,
            ProductError::NotFound => "not_found",
            ProductError::VoucherExists(_) => "voucher_exists",
            ProductError::Refused(refusal) => refusal.code(),
            ProductError::Missing(_) => "internal_error",
            ProductError::Store(err) => err.code(),
        }
    }
}
