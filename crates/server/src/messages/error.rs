//! What messages and reminders can fail with.

use crate::web::error::{Failure, FeatureError};
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for MessageError {
    fn failure(&self) -> Failure {
        match self {
            MessageError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            MessageError::Store(err) => err.code(),
        }
    }
}
