//! Signing in and out with a user name and password: the API session and me, the login page,
//! and the throttle that locks an account or a client address after repeated failures.

use super::AccountError;
use crate::web::auth::AccountView;
use crate::web::auth::{self, CurrentUser};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::error::{Failure, FeatureError};
use crate::web::json::ApiJson;
use crate::web::pages::render;
use crate::web::pages::PageFailure;
use crate::web::routes::Registry;
use crate::AppState;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use certdesk_domain::{Action, AuditAction};
use certdesk_store::{Account, NewAuditEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use askama::Template;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::Form;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub account: AccountView,
    /// Send it back as the `X-CSRF-Token` header on every state-changing request of this session.
    pub csrf_token: String,
    /// When the session ends, Unix seconds.
    pub expires_at: i64,
}

pub(super) fn register(registry: Registry) -> Registry {
    registry
        .post("/api/v1/session", Action::LogIn, login)
        .delete("/api/v1/session", Action::LogOut, logout)
        .get("/api/v1/me", Action::ViewOwnAccount, me)
        .get("/login", Action::ViewLoginPage, login_page)
        .post("/login", Action::LogIn, login_submit)
        .post("/logout", Action::LogOut, logout_page)
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
) -> Result<Account, AccountError> {
    let username = username.trim();
    // No account has a name like this: refuse before anything is counted, logged or audited,
    // so that arbitrary text (megabytes of it) never reaches the log or the audit chain.
    if certdesk_domain::validate_username(username).is_err() {
        return Err(AccountError::InvalidCredentials);
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
        crate::web::audit_trail::record(
            state,
            None,
            None,
            AuditAction::LoginLocked,
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
            let object = format!("account:{username}");
            let detail = format!("client={client}");
            state
                .store
                .record_login_failure(
                    username,
                    client,
                    now,
                    &NewAuditEvent {
                        at: now,
                        actor_account_id: maybe.as_ref().map(|a| a.id),
                        actor_label: maybe.as_ref().map_or("-", |a| a.username.as_str()),
                        org_id: maybe.as_ref().and_then(|a| a.org_id),
                        action: AuditAction::LoginFailed,
                        object: &object,
                        detail: &detail,
                    },
                )
                .await?;
            tracing::info!(username, client, "password login refused");
            Err(AccountError::InvalidCredentials)
        }
    }
}

fn locked(wait_seconds: i64) -> AccountError {
    AccountError::Locked {
        minutes: (wait_seconds.max(1) + 59) / 60,
    }
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
    let object = format!("account:{}", account.username);
    let (token, session) =
        auth::start_session(&state, &account, &password_login(&state, &account, &object)).await?;
    tracing::info!(account = account.id, "password login");
    Ok(signed_in(&state, &account, &token, session))
}

/// The audit entry of a password login, written with its session.
fn password_login<'a>(
    state: &AppState,
    account: &'a Account,
    object: &'a str,
) -> NewAuditEvent<'a> {
    crate::web::audit_trail::note_by(state, account, "method=password")
        .event(AuditAction::LoginSucceeded, object)
}

/// The audit entry of a logout, written with the session's end.
fn logout_event<'a>(state: &AppState, account: &'a Account, object: &'a str) -> NewAuditEvent<'a> {
    crate::web::audit_trail::note_by(state, account, "").event(AuditAction::Logout, object)
}

/// The answer to a successful login (password or certificate): the session cookie, and the
/// account with the session's CSRF token.
pub(crate) fn signed_in(
    state: &AppState,
    account: &Account,
    token: &str,
    session: certdesk_store::Session,
) -> Response {
    let body = LoginResponse {
        account: AccountView::from(account),
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
    };
    (
        [(SET_COOKIE, auth::session_cookie(state, Some(token)))],
        Json(body),
    )
        .into_response()
}

/// End the current session.
#[utoipa::path(delete, path = "/api/v1/session",
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    let object = format!("account:{}", user.account().username);
    match &user.session {
        Some(session) => {
            state
                .store
                .delete_session(
                    &session.token_hash,
                    &logout_event(&state, user.account(), &object),
                )
                .await?;
        }
        // An API token has no session to end: only the request is recorded.
        None => {
            crate::web::audit_trail::record(
                &state,
                Some(user.account()),
                user.account().org_id,
                AuditAction::Logout,
                &object,
                "",
            )
            .await
        }
    }
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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<String>,
    /// The system admin's one-time password (printed at first start) has not been changed yet:
    /// the page says where to find it.
    one_time_password_pending: bool,
}

async fn login_page(State(state): State<AppState>, user: Option<CurrentUser>) -> Response {
    if user.is_some() {
        return Redirect::to("/").into_response();
    }
    login_form(&state, String::new(), None, StatusCode::OK).await
}

/// The login form with a fresh pre-login CSRF token in its cookie and hidden field.
async fn login_form(
    state: &AppState,
    username: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = auth::random_token();
    // A database that cannot say keeps the hint away rather than the page.
    let one_time_password_pending = state
        .store
        .setting(crate::ONE_TIME_PASSWORD_SETTING)
        .await
        .ok()
        .flatten()
        .is_some();
    let mut response = render(
        &LoginPage {
            csrf: csrf.clone(),
            username,
            error,
            one_time_password_pending,
        },
        status,
    );
    response
        .headers_mut()
        .append(SET_COOKIE, auth::prelogin_csrf_cookie(state, &csrf));
    response
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login_submit(
    State(state): State<AppState>,
    client: auth::ClientAddr,
    Form(form): Form<LoginForm>,
) -> Response {
    if form.username.trim().is_empty() || form.password.is_empty() {
        return login_form(
            &state,
            form.username,
            Some("请输入用户名和密码".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let account = match authenticate(&state, &form.username, form.password, &client.0).await {
        Ok(account) => account,
        // Wrong password, or locked: the form again, with the reason and the name kept.
        Err(err) => {
            let (failure, message) = (err.failure(), err.to_string());
            return match failure {
                Failure::Unauthenticated | Failure::TooMany => {
                    login_form(&state, form.username, Some(message), failure.status()).await
                }
                _ => PageFailure::from(err).into_page(),
            };
        }
    };
    let object = format!("account:{}", account.username);
    let token =
        match auth::start_session(&state, &account, &password_login(&state, &account, &object))
            .await
        {
            Ok((token, _)) => token,
            Err(err) => return PageFailure::from(err).into_page(),
        };
    tracing::info!(account = account.id, "password login");
    let mut headers = HeaderMap::new();
    headers.append(SET_COOKIE, auth::session_cookie(&state, Some(&token)));
    (headers, Redirect::to("/")).into_response()
}

async fn logout_page(State(state): State<AppState>, user: Option<CurrentUser>) -> Response {
    if let Some(user) = user {
        if let Some(session) = &user.session {
            let object = format!("account:{}", user.account().username);
            let ended = state
                .store
                .delete_session(
                    &session.token_hash,
                    &logout_event(&state, user.account(), &object),
                )
                .await;
            if let Err(err) = ended {
                return PageFailure::from(err).into_page();
            }
        }
    }
    (
        [(SET_COOKIE, auth::session_cookie(&state, None))],
        Redirect::to("/login"),
    )
        .into_response()
}
