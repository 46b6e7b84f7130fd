//! What the audit search can fail with.

use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    InvalidAction(String),
    #[error("单位编号应为数字")]
    InvalidOrgId,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for AuditError {
    fn failure(&self) -> Failure {
        match self {
            AuditError::InvalidAction(_) | AuditError::InvalidOrgId => Failure::Malformed,
            AuditError::Refused(refusal) => refusal.failure(),
            AuditError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AuditError::InvalidAction(_) => "invalid_action",
            AuditError::InvalidOrgId => "invalid_org_id",
            AuditError::Refused(refusal) => refusal.code(),
            AuditError::Store(err) => err.code(),
        }
    }
}
