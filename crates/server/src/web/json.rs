//! The JSON body extractor of the API, whose rejections answer in the one error shape.

use crate::web::error::ApiError;
use axum::extract::FromRequest;

/// `Json<T>` whose rejections answer in our error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);
