//! The JSON API under `/api/v1/`. Every failure answers the one error shape of [`ApiError`].

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ErrorBody};
use crate::routes::Registry;
use crate::AppState;
use axum::extract::{FromRequest, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use certdesk_domain::Action;
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
    paths(
        login,
        logout,
        me,
        crate::accounts::register_api,
        crate::accounts::list_accounts_api,
        crate::accounts::create_account_api,
        crate::accounts::change_password_api,
        crate::accounts::list_tokens_api,
        crate::accounts::create_token_api,
        crate::accounts::revoke_token_api,
        crate::bindings::login_challenge_api,
        crate::bindings::certificate_login_api,
        crate::bindings::providers_api,
        crate::bindings::import_ca_api,
        crate::bindings::list_bindings_api,
        crate::bindings::binding_challenge_api,
        crate::bindings::bind_api,
        crate::bindings::unbind_api,
        crate::audit::search_api,
        crate::payments::sandbox_notify,
        crate::orders::list_orders_api,
        crate::orders::order_detail_api,
        crate::orders::initial_queue_api,
        crate::orders::second_queue_api,
        crate::orders::review_api,
        crate::applications::create_api,
        crate::applications::application_api,
        crate::applications::update_api,
        crate::applications::submit_api,
        crate::applications::upload_api,
        crate::order_pages::csr_api,
        crate::order_pages::ship_api,
        crate::order_pages::pickup_api,
        crate::order_pages::receipt_api,
        crate::payments::withdraw_api,
        crate::payments::refund_unissuable_api,
        crate::payments::confirm_offline_refund_api,
        crate::payments::retry_refund_api,
        crate::payments::submit_offline_transfer_api,
        crate::payments::pending_transfers_api,
        crate::payments::transfer_decision_api,
        crate::products::list_products_api,
        crate::products::product_api,
        crate::products::create_product_api,
        crate::products::update_product_api,
        crate::products::quote_api,
        crate::products::list_vouchers_api,
        crate::products::create_voucher_api,
        crate::identity::identity_api,
        crate::identity::sandbox_api,
        crate::identity::start_api,
        crate::identity::verify_api,
    ),
    components(schemas(LoginRequest, LoginResponse, AccountView, ErrorBody))
)]
pub struct ApiDoc;

pub(crate) fn register(registry: Registry) -> Registry {
    registry
        .post("/api/v1/session", Action::LogIn, login)
        .delete("/api/v1/session", Action::LogOut, logout)
        .get("/api/v1/me", Action::ViewOwnAccount, me)
        .get("/api/v1/openapi.json", Action::ReadApiDescription, openapi)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
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

/// Failed password logins allowed per account, and per client address, in [`FAILURE_WINDOW`].
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// A client address may try more accounts than one account may be tried (offices share
/// addresses), but not without limit.
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;

/// Checks a user name and password, throttled: after too many failures in the window the
/// account (or the client address) must wait, whatever password it brings. The password is
/// never logged.
pub(crate) async fn authenticate(
    state: &AppState,
    username: &str,
    password: String,
    client: &str,
) -> Result<Account, ApiError> {
    let username = username.trim();
    // No account has a name like this: refuse before anything is counted, logged or audited,
    // so that arbitrary text (megabytes of it) never reaches the log or the audit chain.
    if certdesk_domain::validate_username(username).is_err() {
        return Err(invalid_credentials());
    }
    let now = state.now();
    let since = now - FAILURE_WINDOW_SECONDS;
    let by_account = state
        .store
        .login_failures_for_username(username, since)
        .await?;
    let by_client = state.store.login_failures_for_client(client, since).await?;
    let locked_until = [
        (by_account, MAX_FAILURES_PER_ACCOUNT),
        (by_client, MAX_FAILURES_PER_CLIENT),
    ]
    .into_iter()
    .filter(|(window, max)| window.count >= *max)
    .filter_map(|(window, _)| {
        window
            .oldest_at
            .map(|oldest| oldest + FAILURE_WINDOW_SECONDS)
    })
    .max();
    if let Some(until) = locked_until {
        tracing::warn!(
            username,
            client,
            "password login refused: too many failures"
        );
        crate::audit::record(
            state,
            None,
            None,
            certdesk_domain::AuditAction::LoginLocked,
            &format!("account:{username}"),
            &format!("client={client}"),
        )
        .await;
        return Err(locked(until - now));
    }
    let account = state.store.account_by_username(username).await?;
    let usable = account.filter(|a| !a.disabled);
    let hash = usable.as_ref().map(|a| a.password_hash.clone());
    // Without an account the check runs against a stand-in hash: answers take as long whether
    // or not the name exists.
    let verified = auth::verify_password(password, hash).await;
    match usable {
        Some(account) if verified => {
            state.store.clear_login_failures(username, since).await?;
            Ok(account)
        }
        maybe => {
            state
                .store
                .record_login_failure(username, client, now)
                .await?;
            tracing::info!(username, client, "password login refused");
            crate::audit::record(
                state,
                maybe.as_ref(),
                maybe.as_ref().and_then(|a| a.org_id),
                certdesk_domain::AuditAction::LoginFailed,
                &format!("account:{username}"),
                &format!("client={client}"),
            )
            .await;
            Err(invalid_credentials())
        }
    }
}

fn locked(wait_seconds: i64) -> ApiError {
    let minutes = (wait_seconds.max(1) + 59) / 60;
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "login_locked",
        format!("登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试"),
    )
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
    client: auth::ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let account = authenticate(&state, &req.username, req.password, &client.0).await?;
    let (token, session) = auth::start_session(&state, &account).await?;
    tracing::info!(account = account.id, "password login");
    crate::audit::record(
        &state,
        Some(&account),
        account.org_id,
        certdesk_domain::AuditAction::LoginSucceeded,
        &format!("account:{}", account.username),
        "method=password",
    )
    .await;
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
    if let Some(session) = &user.session {
        state.store.delete_session(&session.token_hash).await?;
    }
    crate::audit::record(
        &state,
        Some(user.account()),
        user.account().org_id,
        certdesk_domain::AuditAction::Logout,
        &format!("account:{}", user.account().username),
        "",
    )
    .await;
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
