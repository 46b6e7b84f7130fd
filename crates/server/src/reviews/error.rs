//! What a review can fail with.

use crate::issuance::IssuanceError;
use crate::payments::PaymentError;
use crate::pipeline::StepError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("审核结论应为 approve（通过）或 reject（驳回）")]
    InvalidDecision,
    #[error("驳回时请填写原因，申请人将看到这一原因")]
    ReasonRequired,
    /// Separation of duties: the operator who made a 代办 order does not review it.
    #[error("这是您代办创建的业务单，须由其他审核员审核")]
    OwnOrder,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Step(#[from] StepError),
    /// The held keys of a mobile product could not be issued at 复审.
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    /// Paying back an order sent back after payment failed.
    #[error(transparent)]
    Refund(#[from] PaymentError),
    /// Approving an unlock (its code written with the step) failed.
    #[error(transparent)]
    Unlock(crate::unlocks::UnlockError),
    /// Approving a revocation (the CA revokes, then the step) failed.
    #[error(transparent)]
    Revocation(crate::revocations::RevocationError),
    #[error(transparent)]
    Change(crate::changes::ChangeError),
    /// Renewing keys the CA holds, after the approval, failed (the approval stands).
    #[error(transparent)]
    Renewal(crate::renewals::RenewalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for ReviewError {
    fn failure(&self) -> Failure {
        match self {
            ReviewError::InvalidDecision | ReviewError::ReasonRequired => Failure::Invalid,
            ReviewError::OwnOrder => Failure::Forbidden,
            ReviewError::Refused(err) => err.failure(),
            ReviewError::Step(err) => err.failure(),
            ReviewError::Issuance(err) => err.failure(),
            ReviewError::Refund(err) => err.failure(),
            ReviewError::Unlock(err) => err.failure(),
            ReviewError::Revocation(err) => err.failure(),
            ReviewError::Change(err) => err.failure(),
            ReviewError::Renewal(err) => err.failure(),
            ReviewError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ReviewError::InvalidDecision => "invalid_decision",
            ReviewError::ReasonRequired => "reason_required",
            ReviewError::OwnOrder => "own_order",
            ReviewError::Refused(err) => err.code(),
            ReviewError::Step(err) => err.code(),
            ReviewError::Issuance(err) => err.code(),
            ReviewError::Refund(err) => err.code(),
            ReviewError::Unlock(err) => err.code(),
            ReviewError::Revocation(err) => err.code(),
            ReviewError::Change(err) => err.code(),
            ReviewError::Renewal(err) => err.code(),
            ReviewError::Store(err) => err.code(),
        }
    }
}
