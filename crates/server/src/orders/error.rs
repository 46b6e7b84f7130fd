//! What the order list, the order page and the downloads can fail with.

use crate::applications::ApplicationError;
use crate::issuance::IssuanceError;
use crate::payments::PaymentError;
use crate::pipeline::StepError;
use crate::products::ProductError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{0}")]
    InvalidStatus(String),
    #[error("{0}")]
    InvalidKind(String),
    #[error("该订单的证书尚未签发")]
    NotIssued,
    /// A download the order does not have (an encryption certificate of a single one, say).
    #[error("请求的文件不存在")]
    FileNotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Application(#[from] ApplicationError),
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Unlock(#[from] crate::unlocks::UnlockError),
    #[error(transparent)]
    Revocation(#[from] crate::revocations::RevocationError),
    #[error(transparent)]
    Renewal(#[from] crate::renewals::RenewalError),
    #[error(transparent)]
    Replacement(#[from] crate::replacements::ReplacementError),
    #[error(transparent)]
    Change(#[from] crate::changes::ChangeError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for OrdersError {
    fn failure(&self) -> Failure {
        use OrdersError::*;
        match self {
            InvalidStatus(_) | InvalidKind(_) => Failure::Invalid,
            NotIssued => Failure::Conflict,
            FileNotFound => Failure::NotFound,
            Refused(err) => err.failure(),
            Step(err) => err.failure(),
            Application(err) => err.failure(),
            Issuance(err) => err.failure(),
            Payment(err) => err.failure(),
            Unlock(err) => err.failure(),
            Revocation(err) => err.failure(),
            Renewal(err) => err.failure(),
            Replacement(err) => err.failure(),
            Change(err) => err.failure(),
            Product(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use OrdersError::*;
        match self {
            InvalidStatus(_) => "invalid_status",
            InvalidKind(_) => "invalid_kind",
            NotIssued => "not_issued",
            FileNotFound => "not_found",
            Refused(err) => err.code(),
            Step(err) => err.code(),
            Application(err) => err.code(),
            Issuance(err) => err.code(),
            Payment(err) => err.code(),
            Unlock(err) => err.code(),
            Revocation(err) => err.code(),
            Renewal(err) => err.code(),
            Replacement(err) => err.code(),
            Change(err) => err.code(),
            Product(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
