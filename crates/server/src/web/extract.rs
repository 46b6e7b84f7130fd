//! Path and query extractors whose rejections answer as the route does: an API route in the
//! one error shape (`{"error":{…}}`), a page route with the Chinese error page, never axum's
//! plain-text English ("Failed to deserialize query string", "Cannot parse `abc`").

use crate::web::error::{ApiError, Failure, FeatureError};
use crate::web::pages::PageFailure;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Why the address itself was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AddressError {
    /// A number or name in the path that cannot be one (`/api/v1/tokens/abc`).
    #[error("地址无效：其中的编号或名称格式不正确")]
    Path,
    /// A query parameter that cannot be read (`?page=abc`).
    #[error("查询参数无效：请检查页码、日期、编号等条件的格式")]
    Query,
    /// A form sent without its fields (not from our page, or from an outdated one).
    #[error("表单内容不完整或已过期，请返回上一页刷新后重新填写提交")]
    Form,
}

impl FeatureError for AddressError {
    fn failure(&self) -> Failure {
        Failure::Malformed
    }
    fn code(&self) -> &'static str {
        match self {
            AddressError::Path => "invalid_path",
            AddressError::Query => "invalid_query",
            AddressError::Form => "invalid_form",
        }
    }
}

/// The refusal as the route answers: the API's error shape, or a page (an unreadable path is a
/// page that does not exist; an unreadable query the error page with a way back).
fn refusal(parts: &Parts, err: AddressError, detail: &dyn std::fmt::Display) -> Response {
    tracing::debug!(uri = %parts.uri, %detail, "address refused");
    if crate::web::routes::is_api(parts.uri.path()) {
        return ApiError::from(err).into_response();
    }
    match err {
        AddressError::Path => PageFailure::from_kind(Failure::NotFound).into_page(),
        AddressError::Query | AddressError::Form => PageFailure::from(err).into_page(),
    }
}

/// `axum::extract::Path`, refusing in our shapes.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(refusal(parts, AddressError::Path, &rejection)),
        }
    }
}

/// `axum::extract::Query`, refusing in our shapes.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(refusal(parts, AddressError::Query, &rejection)),
        }
    }
}

/// `axum::Form` for page forms, refusing with the Chinese error page.
pub struct Form<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let request = axum::extract::Request::from_parts(parts.clone(), body);
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Form(value)),
            Err(rejection) => Err(refusal(&parts, AddressError::Form, &rejection)),
        }
    }
}
