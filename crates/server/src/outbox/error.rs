//! What the outbox's delivery can fail with.

use crate::web::error::{Failure, FeatureError};
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The mail settings cannot be used (told at start, before anything is queued for them).
    #[error("invalid mail settings: {0}")]
    Settings(String),
    /// One message could not be sent this time (kept for another try).
    #[error("{0}")]
    Delivery(String),
    #[error("该消息不在发送失败列表中（可能已被他人重发）")]
    NotDead,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for OutboxError {
    fn failure(&self) -> Failure {
        match self {
            OutboxError::Settings(_) | OutboxError::Delivery(_) => Failure::Internal,
            OutboxError::NotDead => Failure::Conflict,
            OutboxError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            OutboxError::Settings(_) => "mail_settings",
            OutboxError::Delivery(_) => "delivery",
            OutboxError::NotDead => "not_a_dead_letter",
            OutboxError::Store(err) => err.code(),
        }
    }
}
