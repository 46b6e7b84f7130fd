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
use certdesk_store::{Account, NewAuditEvent, RateLimit, Slot};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::web::extract::Form;
use askama::Template;
use axum::http::HeaderMap;
use axum::response::Redirect;

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

/// Failed password logins allowed for one account from one client address in the window: the
/// lock is per (account, client), so that nobody can keep another's account (`admin`) locked
/// from their own address.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;

/// A client address may try more accounts than one account may be tried (offices share
/// addresses), but not without limit.
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;

pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;

/// Failures of one account, from all addresses, in the window before every further try of it
/// is slowed down (not locked: its owner still gets in).
pub const SLOW_DOWN_AFTER: i64 = 10;

/// The slow-down's step and its ceiling.
const SLOW_DOWN_STEP_MS: u64 = 200;
const SLOW_DOWN_MAX_MS: u64 = 5_000;

fn per_pair() -> RateLimit {
    RateLimit {
        max: MAX_FAILURES_PER_ACCOUNT,
        window_secs: FAILURE_WINDOW_SECONDS,
    }
}

fn per_client() -> RateLimit {
    RateLimit {
        max: MAX_FAILURES_PER_CLIENT,
        window_secs: FAILURE_WINDOW_SECONDS,
    }
}

/// Counted only, never full.
fn per_account() -> RateLimit {
    RateLimit {
        max: i64::MAX,
        window_secs: FAILURE_WINDOW_SECONDS,
    }
}

/// The throttle's keys for a client address (as the trusted proxy names it).
pub fn client_key(client: &str) -> String {
    format!("login:client:{client}")
}

pub fn pair_key(username: &str, client: &str) -> String {
    format!("login:pair:{username}|{client}")
}

pub fn account_key(username: &str) -> String {
    format!("login:account:{username}")
}

/// How long a try of an account that failed `failures` times (all addresses) waits first.
fn slow_down(failures: i64) -> std::time::Duration {
    let over = u64::try_from(failures - SLOW_DOWN_AFTER).unwrap_or(0);
    std::time::Duration::from_millis((over * SLOW_DOWN_STEP_MS).min(SLOW_DOWN_MAX_MS))
}

/// Checks a user name and password, throttled. Each try takes its slot as a failure before the
/// password is checked (one atomic step in the store), so that of many tries arriving together
/// only as many as the limit are checked; a try that succeeds gives its slots back. After too
/// many failures the (account, client) pair or the client must wait, whatever password it
/// brings; the account itself is only slowed down. The password is never logged.
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
    let client_key = client_key(client);
    let pair_key = pair_key(username, client);
    // The pair first: tries refused for it never count against the address's other accounts.
    if let Slot::Full { until } = state
        .store
        .take_rate_slot(&pair_key, per_pair(), now)
        .await?
    {
        return Err(refused_while_locked(state, &pair_key, username, client, until - now).await);
    }
    if let Slot::Full { until } = state
        .store
        .take_rate_slot(&client_key, per_client(), now)
        .await?
    {
        state.store.give_back_rate_slot(&pair_key).await?;
        return Err(refused_while_locked(state, &client_key, username, client, until - now).await);
    }
    // A password check runs: counted for the account's slow-down.
    let account_key = account_key(username);
    if let Slot::Taken(failures) = state
        .store
        .take_rate_slot(&account_key, per_account(), now)
        .await?
    {
        let wait = slow_down(failures);
        if !wait.is_zero() {
            tracing::info!(
                username,
                failures,
                wait_ms = wait.as_millis() as u64,
                "password login slowed down"
            );
            tokio::time::sleep(wait).await;
        }
    }
    let account = state.store.account_by_username(username).await?;
    let usable = account.filter(|a| !a.disabled);
    let hash = usable.as_ref().map(|a| a.password_hash.clone());
    // Without an account the check runs against a stand-in hash: answers take as long whether
    // or not the name exists.
    let verified = auth::verify_password(password, hash).await;
    match usable {
        Some(account) if verified => {
            state.store.reset_rate_key(&pair_key).await?;
            state.store.give_back_rate_slot(&client_key).await?;
            state.store.give_back_rate_slot(&account_key).await?;
            Ok(account)
        }
        maybe => {
            // The failure was counted when its slot was taken; this records who and whence.
            tracing::info!(username, client, "password login refused");
            crate::web::audit_trail::record(
                state,
                maybe.as_ref(),
                maybe.as_ref().and_then(|a| a.org_id),
                AuditAction::LoginFailed,
                &format!("account:{username}"),
                &format!("来源地址 {client}"),
            )
            .await;
            Err(AccountError::InvalidCredentials)
        }
    }
}

/// The answer to a try while `key` is locked; the lock itself is audited once, not every try.
async fn refused_while_locked(
    state: &AppState,
    key: &str,
    username: &str,
    client: &str,
    wait_seconds: i64,
) -> AccountError {
    tracing::warn!(
        username,
        client,
        "password login refused: too many failures"
    );
    let object = format!("account:{username}");
    let detail = format!("来源地址 {client}");
    let audit = NewAuditEvent {
        at: state.now(),
        actor_account_id: None,
        actor_label: "-",
        org_id: None,
        action: AuditAction::LoginLocked,
        object: &object,
        detail: &detail,
    };
    if let Err(err) = state.store.audit_rate_lock_once(key, &audit).await {
        tracing::error!(error = %err, "the login lock could not be audited");
    }
    locked(wait_seconds)
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
