//! The JSON API under `/api/v1/`. Every failure answers the one error shape of [`ApiError`].

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::extract::{FromRequest, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use certdesk_store::Account;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// `Json<T>` whose rejections answer in our error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "certdesk API",
        description = "CA证书自助服务台接口。所有错误的形状为 {\"error\":{\"code\":…,\"message\":…}}。"
    ),
    paths(login, logout, me),
    components(schemas(LoginRequest, LoginResponse, AccountView, ErrorBody))
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", axum::routing::post(login).delete(logout))
        .route("/me", get(me))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该接口不支持此请求方法",
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// An account as the API shows it: never its password hash.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// One of org_admin, employee, platform_operator, ca_officer, system_admin.
    pub role: String,
    pub role_label: String,
    pub org_id: Option<i64>,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id,
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: a.role.as_str().to_string(),
            role_label: a.role.label_zh().to_string(),
            org_id: a.org_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub account: AccountView,
    /// Send it back as the `X-CSRF-Token` header on every state-changing request of this session.
    pub csrf_token: String,
    /// When the session ends, Unix seconds.
    pub expires_at: i64,
}

/// Checks a user name and password; answers the account, or `None` for any mismatch.
pub(crate) async fn authenticate(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<Option<Account>, ApiError> {
    let account = state.store.account_by_username(username.trim()).await?;
    let usable = account.filter(|a| !a.disabled);
    let hash = usable.as_ref().map(|a| a.password_hash.clone());
    if auth::verify_password(password, hash).await {
        Ok(usable)
    } else {
        Ok(None)
    }
}

pub(crate) fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "用户名或密码错误",
    )
}

/// Log in with a user name and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody, description = "用户名或密码错误")))]
async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let Some(account) = authenticate(&state, &req.username, req.password).await? else {
        tracing::info!("password login refused");
        return Err(invalid_credentials());
    };
    let (token, session) = auth::start_session(&state, &account).await?;
    tracing::info!(account = account.id, "password login");
    let body = LoginResponse {
        account: AccountView::from(&account),
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
    };
    Ok((
        [(SET_COOKIE, auth::session_cookie(&state, Some(&token)))],
        Json(body),
    )
        .into_response())
}

/// End the current session.
#[utoipa::path(delete, path = "/api/v1/session",
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    state
        .store
        .delete_session(&user.0.session.token_hash)
        .await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, auth::session_cookie(&state, None))],
    )
        .into_response())
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me",
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody)))]
async fn me(user: CurrentUser) -> Json<AccountView> {
    Json(AccountView::from(user.account()))
}
