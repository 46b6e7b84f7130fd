//! What the product catalogue can fail with.

use crate::web::error::{store_failure, Failure, FeatureError};
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
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
            ProductError::Missing(_) => Failure::Internal,
            ProductError::Store(err) => store_failure(err).0,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ProductError::Missing(_) => "internal_error",
            ProductError::Store(err) => store_failure(err).1,
        }
    }
}
