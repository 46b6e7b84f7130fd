//! The one error shape of the JSON API: `{"error":{"code":"stable_code","message":"中文说明"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// What kind of failure an error is, whichever feature it comes from. A feature's error enum
/// says which kind each of its variants is ([`FeatureError`]); the API answer's status and what a
/// page shows are decided from the kind, each in one place ([`Failure::status`] and
/// `web::pages::PageFailure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// What was sent cannot be read at all (not the format asked for, a bad signature): 400.
    Malformed,
    /// What was sent breaks a rule (a field, a file, a request): 422, shown beside the form.
    Invalid,
    /// A file beyond the size allowed: 413.
    TooLarge,
    /// Too many tries in too short a time: 429.
    TooMany,
    /// Who is asking is not known (a login that failed): 401.
    Unauthenticated,
    /// The object is not in a state that allows this (it moved on, it was done before): 409.
    Conflict,
    /// Not there, or another organisation's: 404.
    NotFound,
    /// The role may not do this here: 403.
    Forbidden,
    /// A service certdesk needs is away for now: 503.
    Unavailable,
    /// Ours: 500; the details go to the log, the user reads a generic message.
    Internal,
}

impl Failure {
    /// The HTTP status the API answers this kind with.
    pub fn status(self) -> StatusCode {
        match self {
            Failure::Malformed => StatusCode::BAD_REQUEST,
            Failure::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Failure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Failure::Unauthenticated => StatusCode::UNAUTHORIZED,
            Failure::Conflict => StatusCode::CONFLICT,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::Forbidden => StatusCode::FORBIDDEN,
            Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind an HTTP status stands for: for errors that still arrive as an [`ApiError`].
    pub fn of_status(status: StatusCode) -> Failure {
        match status {
            StatusCode::NOT_FOUND => Failure::NotFound,
            StatusCode::FORBIDDEN => Failure::Forbidden,
            StatusCode::UNAUTHORIZED => Failure::Unauthenticated,
            StatusCode::BAD_REQUEST => Failure::Malformed,
            StatusCode::PAYLOAD_TOO_LARGE => Failure::TooLarge,
            StatusCode::TOO_MANY_REQUESTS => Failure::TooMany,
            StatusCode::CONFLICT => Failure::Conflict,
            StatusCode::SERVICE_UNAVAILABLE => Failure::Unavailable,
            s if s.is_client_error() => Failure::Invalid,
            _ => Failure::Internal,
        }
    }
}

/// A feature's error enum: each variant's kind, and a stable code for programs. Its `Display`
/// is the message users read (Chinese). Converted to the API answer by `From` (below), and to a
/// page by `web::pages::PageFailure`.
pub trait FeatureError: std::error::Error {
    fn failure(&self) -> Failure;
    fn code(&self) -> &'static str;
}

/// How a store error reads in any feature's error: the database away, or ours.
fn store_failure(err: &certdesk_store::StoreError) -> (Failure, &'static str) {
    match err {
        certdesk_store::StoreError::Connect { .. } => {
            (Failure::Unavailable, "database_unavailable")
        }
        _ => (Failure::Internal, "internal_error"),
    }
}

/// The one mapping of a feature's error to the API answer.
impl<E: FeatureError> From<E> for ApiError {
    fn from(err: E) -> Self {
        match err.failure() {
            Failure::Internal => ApiError::internal(&err),
            failure => ApiError::new(failure.status(), err.code(), err.to_string()),
        }
    }
}

/// An API failure: an HTTP status, a stable machine-readable code, and a message for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// For logs: the code and the message (an internal error's message is already generic).
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code for programs, e.g. `invalid_credentials`.
    pub code: String,
    /// What went wrong, in Chinese, for people.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "请先登录")
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "您没有权限进行此操作")
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: the request is well formed but its content breaks a rule; the message says which.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "请求的资源不存在")
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "页面已过期或请求来源无法验证，请刷新页面后重试",
        )
    }

    /// A failure of ours. The details go to the log (with the request id), not to the client.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "服务器内部错误，请稍后重试；如问题持续，请联系客服并提供请求编号",
        )
    }
}

/// The store fails as the database being away (503) or as ours.
impl FeatureError for certdesk_store::StoreError {
    fn failure(&self) -> Failure {
        store_failure(self).0
    }

    fn code(&self) -> &'static str {
        store_failure(self).1
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as R;
        match rejection {
            R::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请求体须为 JSON（Content-Type: application/json）",
            ),
            R::JsonSyntaxError(e) => Self::bad_request(
                "invalid_json",
                format!("请求体不是有效的 JSON：{}", e.body_text()),
            ),
            R::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_fields",
                format!("请求字段有误：{}", e.body_text()),
            ),
            other => Self::bad_request(
                "invalid_body",
                format!("无法读取请求体：{}", other.body_text()),
            ),
        }
    }
}
