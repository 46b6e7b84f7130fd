//! What delivery can fail with.

use crate::pipeline::StepError;
use crate::web::error::{Failure, FeatureError};
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("请填写快递公司（不超过30个字）")]
    CourierInvalid,
    #[error("快递单号应为6–40位字母或数字")]
    TrackingNoInvalid,
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for DeliveryError {
    fn failure(&self) -> Failure {
        match self {
            DeliveryError::CourierInvalid | DeliveryError::TrackingNoInvalid => Failure::Invalid,
            DeliveryError::Step(err) => err.failure(),
            DeliveryError::Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            DeliveryError::CourierInvalid => "courier_invalid",
            DeliveryError::TrackingNoInvalid => "tracking_no_invalid",
            DeliveryError::Step(err) => err.code(),
            DeliveryError::Store(err) => err.code(),
        }
    }
}
