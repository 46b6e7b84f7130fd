//! Passwords, sessions and CSRF protection.
//!
//! A session is a random token in an HttpOnly, SameSite=Lax cookie; the database keeps only its
//! SHA-256. Every state-changing request made with a live session must echo the session's CSRF
//! token (form field `csrf` or header `X-CSRF-Token`); a form sent before login must echo the
//! pre-login token of its own cookie (double submit). One middleware enforces both, so no
//! handler can forget it.

use crate::web::blocking::PASSWORD_HASHING;
use crate::web::error::ApiError;
use crate::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use certdesk_store::{Account, Session, SessionWithAccount};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "certdesk_session";
pub const PRELOGIN_CSRF_COOKIE: &str = "certdesk_csrf";
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Forms are small; a larger body is refused before it is parsed for the token.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Hashes a password with argon2id (the crate's defaults: m=19 MiB, t=2, p=1) on a blocking
/// thread, so that a burst of logins does not stall the async workers.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    PASSWORD_HASHING
        .run(hashing_started, move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(ApiError::internal)
        })
        .await
        .ok_or_else(|| ApiError::internal("password hashing stopped"))?
}

/// Argon2id takes 19 MiB and a core for a while: at most one per core runs at once, the others
/// wait their turn (`web::blocking`). How many run is logged (debug) for the load tests.
fn hashing_started(in_flight: usize) {
    tracing::debug!(in_flight, "password hashing started");
}

/// Checks a password against a stored hash. With no account the check still runs against a
/// fixed hash, so the answer takes as long whether or not the user name exists.
pub async fn verify_password(password: String, stored_hash: Option<String>) -> bool {
    const UNKNOWN_USER_HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$dW5rbm93bnVzZXJzYWx0$0Ywq2Ld9wH8y1LkLQ4tCk9yTRRIm8Zc1cEKnQ0YPMxg";
    let exists = stored_hash.is_some();
    let hash = stored_hash.unwrap_or_else(|| UNKNOWN_USER_HASH.to_string());
    PASSWORD_HASHING
        .run(hashing_started, move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && exists
        })
        .await
        .unwrap_or(false)
}

/// 32 random bytes, hex: session tokens, CSRF tokens, one-time passwords.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session for an account; answers the cookie value and the stored session.
pub async fn start_session(
    state: &AppState,
    account: &Account,
    audit: &certdesk_store::NewAuditEvent<'_>,
) -> Result<(String, Session), ApiError> {
    let token = random_token();
    let now = state.now();
    let session = Session {
        token_hash: token_hash(&token),
        account_id: account.id,
        csrf_token: random_token(),
        created_at: now,
        expires_at: now + state.config.session_ttl_seconds,
    };
    state.store.create_session(&session, audit).await?;
    Ok((token, session))
}

/// The `Set-Cookie` value for a session token (or for removing it, with `None`).
pub fn session_cookie(state: &AppState, token: Option<&str>) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let value = match token {
        Some(token) => format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            state.config.session_ttl_seconds
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value for the pre-login CSRF token of the login form.
pub fn prelogin_csrf_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{PRELOGIN_CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of one cookie, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The signed-in account of a request, put there by [`session_and_csrf`]: through a session
/// cookie (browsers) or an API token (`Authorization: Bearer …`, scripts).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub account: Account,
    /// `None` when the request came with an API token.
    pub session: Option<Session>,
}

impl CurrentUser {
    pub fn account(&self) -> &Account {
        &self.account
    }
    pub fn role(&self) -> certdesk_domain::Role {
        self.account.role
    }
    /// The CSRF token pages embed in their forms (empty for API-token requests, which need none).
    pub fn csrf_token(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.csrf_token.as_str())
            .unwrap_or("")
    }
}

/// Prefix of API tokens, so that a leaked one is easy to recognise in logs and scanners.
pub const API_TOKEN_PREFIX: &str = "cdk_";

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(ApiError::unauthenticated)
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<CurrentUser>().cloned())
    }
}

/// Loads the session of the request's cookie, and refuses a state-changing request whose CSRF
/// token does not match.
pub async fn session_and_csrf(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    // Scripts authenticate with an API token. No cookie is involved, so no CSRF check either.
    if let Some(token) = bearer_token(&parts.headers) {
        return match state
            .store
            .account_by_api_token(&token_hash(token), state.now())
            .await
        {
            Ok(Some(account)) => {
                parts.extensions.insert(CurrentUser {
                    account,
                    session: None,
                });
                next.run(Request::from_parts(parts, body)).await
            }
            Ok(None) => ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                "API令牌无效或已吊销",
            )
            .into_response(),
            Err(err) => ApiError::from(err).into_response(),
        };
    }
    let session = match cookie(&parts.headers, SESSION_COOKIE) {
        Some(token) => match state
            .store
            .live_session(&token_hash(token), state.now())
            .await
        {
            Ok(found) => found,
            Err(err) => {
                return crate::web::pages::answer_for(parts.uri.path(), ApiError::from(err))
            }
        },
        None => None,
    };
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let is_upload_form = content_type.starts_with("multipart/form-data");

    let body = if unsafe_method && (is_form || is_upload_form || session.is_some()) {
        // Forms always carry a token: the session's, or before login the pre-login cookie's.
        let expected = match &session {
            Some(s) => Some(s.session.csrf_token.clone()),
            None => cookie(&parts.headers, PRELOGIN_CSRF_COOKIE).map(str::to_string),
        };
        let (presented, body) = if let Some(header) = parts.headers.get(CSRF_HEADER) {
            (header.to_str().ok().map(str::to_string), body)
        } else if is_form {
            let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    return crate::web::pages::answer_for(
                        parts.uri.path(),
                        ApiError::new(
                            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                            "payload_too_large",
                            "提交的内容过大",
                        ),
                    )
                }
            };
            let token = form_field(&bytes, CSRF_FIELD);
            (token, Body::from(bytes))
        } else if is_upload_form {
            // A file upload form cannot be read here without buffering the file: its page puts
            // the token in the form's action URL (query strings are never logged).
            let token = parts
                .uri
                .query()
                .and_then(|q| form_field(q.as_bytes(), CSRF_FIELD));
            (token, body)
        } else {
            (None, body)
        };
        match (expected, presented) {
            (Some(expected), Some(presented)) if constant_time_eq(&expected, &presented) => body,
            _ => {
                tracing::warn!(method = %parts.method, path = %parts.uri.path(), "CSRF token missing or wrong");
                return crate::web::pages::answer_for(parts.uri.path(), ApiError::csrf());
            }
        }
    } else {
        body
    };
    if let Some(SessionWithAccount { session, account }) = session {
        parts.extensions.insert(CurrentUser {
            account,
            session: Some(session),
        });
    }
    next.run(Request::from_parts(parts, body)).await
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The client's address: the connection's peer, or — when the peer is one of the configured
/// trusted reverse proxies — the address the proxies say they received the request from
/// (`X-Forwarded-For`). "unknown" where there is no connection, as in tests that call the
/// router directly. Login throttling counts failures per this address.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
        else {
            return Ok(ClientAddr("unknown".to_string()));
        };
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddr(
            client_ip(peer, &forwarded, &state.config.trusted_proxies).to_string(),
        ))
    }
}

/// The client behind a chain of proxies: walking `X-Forwarded-For` from the nearest hop back,
/// the first address that is not a trusted proxy. Only trusted proxies are believed, so a
/// client cannot choose the address it is counted under by sending the header itself. A
/// malformed entry stops the walk at the last address known good.
pub fn client_ip(
    peer: std::net::IpAddr,
    forwarded_for: &[&str],
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    let hops = forwarded_for
        .iter()
        .flat_map(|header| header.split(','))
        .rev();
    for hop in hops {
        if !is_trusted(&client) {
            break;
        }
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => client = ip,
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::client_ip;
    use std::net::IpAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_behind_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let cases: &[(&str, &[&str], &str)] = &[
            // No proxy configured in front: the peer, whatever the header says.
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // Behind the local proxy.
            ("127.0.0.1", &["198.51.100.7"], "198.51.100.7"),
            // Two trusted hops; the client's own forged entry on the far left is not believed.
            (
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.7, 10.1.2.3"],
                "198.51.100.7",
            ),
            // The same, the proxies having written separate header lines.
            ("10.0.0.5", &["6.6.6.6", "198.51.100.7"], "198.51.100.7"),
            // No header, or a malformed one: the last address known good.
            ("127.0.0.1", &[], "127.0.0.1"),
            ("127.0.0.1", &["unknown"], "127.0.0.1"),
            ("127.0.0.1", &["198.51.100.7, garbage"], "127.0.0.1"),
            ("::1", &["2001:db8::7"], "2001:db8::7"),
        ];
        for (peer, header, expected) in cases {
            assert_eq!(
                client_ip(ip(peer), header, &trusted),
                ip(expected),
                "{peer} {header:?}"
            );
        }
        assert_eq!(
            client_ip(ip("127.0.0.1"), &["198.51.100.7"], &[]),
            ip("127.0.0.1")
        );
    }
}

/// An account as the API shows it: never its password hash.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// One of org_admin, employee, platform_operator, ca_officer, system_admin.
    pub role: String,
    pub role_label: String,
    pub org_id: Option<i64>,
    /// Disabled by an admin: it can neither log in nor use its tokens.
    pub disabled: bool,
    /// An admin reset the password: the user sets their own at the next login.
    pub must_change_password: bool,
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
            disabled: a.disabled,
            must_change_password: a.must_change_password,
        }
    }
}
