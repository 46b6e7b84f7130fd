//! Why a step could not be taken, as the pipeline says it.

use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_domain::TransitionError;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// No such order, or another organisation's (the permission table answers "not found").
    #[error("请求的业务单不存在")]
    OrderNotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The workflow table does not let this actor take the step.
    #[error("{0}")]
    NotYourStep(TransitionError),
    /// The order is not in a status (or state) that allows the step.
    #[error("{0}")]
    NotNow(TransitionError),
    /// Someone else moved the order between reading and writing.
    #[error("订单状态已被他人更新，请刷新后再处理")]
    OrderChanged,
    /// A step applied the wrong way, or records that do not fit: ours.
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TransitionError> for StepError {
    fn from(err: TransitionError) -> Self {
        match err {
            TransitionError::NotAllowedForActor { .. } => StepError::NotYourStep(err),
            other => StepError::NotNow(other),
        }
    }
}

impl FeatureError for StepError {
    fn failure(&self) -> Failure {
        match self {
            StepError::OrderNotFound => Failure::NotFound,
            StepError::Refused(refusal) => refusal.failure(),
            StepError::NotYourStep(_) => Failure::Forbidden,
            StepError::NotNow(_) | StepError::OrderChanged => Failure::Conflict,
            StepError::Inconsistent(_) => Failure::Internal,
            StepError::Product(err) => err.failure(),
            StepError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            StepError::OrderNotFound => "not_found",
            StepError::Refused(refusal) => refusal.code(),
            StepError::NotYourStep(_) => "not_your_step",
            StepError::NotNow(_) => "transition_refused",
            StepError::OrderChanged => "order_changed",
            StepError::Inconsistent(_) => "internal_error",
            StepError::Product(err) => err.code(),
            StepError::Store(err) => err.code(),
        }
    }
}
