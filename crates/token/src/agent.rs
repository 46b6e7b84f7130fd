//! `certdesk agent`, first part: the loopback HTTP service certdesk's pages talk to (as BJCA's
//! client does on 127.0.0.1), over the software UKeys in a directory.
//!
//! - It answers only pages of the configured certdesk site: a request whose `Origin` is not
//!   that site's (or has none) is refused with 403 and no CORS headers, so the browser hides
//!   any answer from another site's page. Preflights get the CORS headers and, when asked,
//!   `Access-Control-Allow-Private-Network: true` (Chrome's Private Network Access: a public
//!   page may then reach 127.0.0.1).
//! - It signs only certdesk challenges that name that site (`certdesk:{site}:{purpose}:{id}`,
//!   the server's `challenge_message`): a page of another site cannot have it sign a login
//!   for it, even through a compromised page.
//! - It asks for the PIN itself ([`PinPrompt`]); a request that carries a PIN is refused — the
//!   page never sees it.
//!
//! Still to come (issue 14): WebSocket, making key pairs and installing from the pages, PIN
//! change and 解锁授权码 unlock, the 检测并修复 answer's remaining checks, PKCS#11 keys.

use crate::{SoftwareUKey, TokenError};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The port the agent listens on by default (127.0.0.1 only).
pub const DEFAULT_PORT: u16 = 24680;

/// Asks the key holder for a key's PIN, outside the web page (a terminal prompt, or the
/// agent's own local page).
pub trait PinPrompt: Send + Sync {
    /// The PIN for the key with `serial`, or `None` when the holder declined.
    fn pin_for(&self, serial: &str, purpose: &str) -> Option<zeroize::Zeroizing<String>>;
}

pub struct AgentConfig {
    /// The certdesk site the agent serves, e.g. `https://certdesk.example.com`.
    pub site_url: String,
    /// Where the software UKeys are (`*.json`).
    pub keys_dir: PathBuf,
    pub prompt: Arc<dyn PinPrompt>,
}

struct Agent {
    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    origin: String,
    /// The site as challenges name it: the URL without its scheme and trailing `/`.
    site: String,
    keys_dir: PathBuf,
    prompt: Arc<dyn PinPrompt>,
}

/// The agent's routes, answering only `config.site_url`'s pages.
pub fn agent_router(config: AgentConfig) -> Router {
    let url = config.site_url.trim_end_matches('/');
    let site = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .to_string();
    let origin = match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)),
        None => url.to_string(),
    };
    let agent = Arc::new(Agent {
        origin,
        site,
        keys_dir: config.keys_dir,
        prompt: config.prompt,
    });
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/keys", get(keys))
        .route("/v1/sign-challenge", post(sign_challenge))
        .layer(middleware::from_fn_with_state(agent.clone(), only_the_site))
        .with_state(agent)
}

#[derive(Debug, thiserror::Error)]
enum AgentError {
    #[error("证书助手只为 {0} 的页面服务")]
    OtherSite(String),
    #[error("只能签署本站（{0}）的登录或绑定挑战")]
    ForeignChallenge(String),
    #[error("PIN码只能在证书助手中输入，页面不能提供PIN码")]
    PinFromPage,
    #[error("没有找到CA锁 {0}，请插入后重试")]
    NoKey(String),
    #[error("请求格式有误：{0}")]
    Malformed(String),
    #[error("已取消输入PIN码")]
    Declined,
    #[error("{0}")]
    Token(#[from] TokenError),
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AgentError::OtherSite(_) => (StatusCode::FORBIDDEN, "other_site"),
            AgentError::ForeignChallenge(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "foreign_challenge")
            }
            AgentError::PinFromPage => (StatusCode::BAD_REQUEST, "pin_from_page"),
            AgentError::NoKey(_) => (StatusCode::NOT_FOUND, "no_key"),
            AgentError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            AgentError::Declined => (StatusCode::CONFLICT, "declined"),
            AgentError::Token(TokenError::WrongPin { .. }) => {
                (StatusCode::UNAUTHORIZED, "wrong_pin")
            }
            AgentError::Token(TokenError::Locked) => (StatusCode::LOCKED, "locked"),
            AgentError::Token(_) => (StatusCode::INTERNAL_SERVER_ERROR, "token_error"),
        };
        (
            status,
            Json(serde_json::json!({"error": {"code": code, "message": self.to_string()}})),
        )
            .into_response()
    }
}

/// Refuses every request not from the site's pages; answers preflights; adds CORS headers.
async fn only_the_site(State(agent): State<Arc<Agent>>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    if origin.as_deref() != Some(agent.origin.as_str()) {
        return AgentError::OtherSite(agent.origin.clone()).into_response();
    }
    let preflight = request.method() == Method::OPTIONS;
    let private_network = request
        .headers()
        .get("access-control-request-private-network")
        .is_some_and(|v| v == "true");
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    cors(
        response.headers_mut(),
        &agent.origin,
        preflight,
        private_network,
    );
    response
}

fn cors(headers: &mut HeaderMap, origin: &str, preflight: bool, private_network: bool) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        if private_network {
            headers.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
    }
}

#[derive(Serialize)]
struct Health {
    agent_version: &'static str,
    site: String,
    keys: usize,
}

async fn health(State(agent): State<Arc<Agent>>) -> Json<Health> {
    Json(Health {
        agent_version: env!("CARGO_PKG_VERSION"),
        site: agent.site.clone(),
        keys: key_files(&agent).len(),
    })
}

#[derive(Serialize)]
struct KeyView {
    /// CA锁ID.
    serial: String,
    pin_tries_left: u32,
    containers: Vec<ContainerView>,
}

#[derive(Serialize)]
struct ContainerView {
    name: String,
    /// DER, base64.
    signing_certificate: Option<String>,
    encryption_certificate: Option<String>,
}

async fn keys(State(agent): State<Arc<Agent>>) -> Result<Json<Vec<KeyView>>, AgentError> {
    let mut views = Vec::new();
    for path in key_files(&agent) {
        let Ok(ukey) = SoftwareUKey::open(&path) else {
            continue;
        };
        views.push(KeyView {
            serial: ukey.serial()?,
            pin_tries_left: ukey.pin_tries_left()?,
            containers: ukey
                .containers()?
                .into_iter()
                .map(|c| ContainerView {
                    name: c.name,
                    signing_certificate: c.signing_certificate.map(|d| B64.encode(d)),
                    encryption_certificate: c.encryption_certificate.map(|d| B64.encode(d)),
                })
                .collect(),
        });
    }
    Ok(Json(views))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignChallenge {
    serial: String,
    #[serde(default = "default_container")]
    container: String,
    /// The server's challenge message, signed as it is.
    challenge: String,
}

fn default_container() -> String {
    "default".into()
}

#[derive(Serialize)]
struct Signed {
    /// DER signature, base64.
    signature: String,
    /// The signing certificate, DER base64.
    certificate: Option<String>,
}

async fn sign_challenge(
    State(agent): State<Arc<Agent>>,
    body: axum::body::Bytes,
) -> Result<Json<Signed>, AgentError> {
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| AgentError::Malformed(e.to_string()))?;
    if value.get("pin").is_some() {
        return Err(AgentError::PinFromPage);
    }
    let request: SignChallenge =
        serde_json::from_value(value).map_err(|e| AgentError::Malformed(e.to_string()))?;
    if !request
        .challenge
        .starts_with(&format!("certdesk:{}:", agent.site))
    {
        return Err(AgentError::ForeignChallenge(agent.site.clone()));
    }
    let ukey = key_files(&agent)
        .into_iter()
        .filter_map(|p| SoftwareUKey::open(&p).ok())
        .find(|k| k.serial().is_ok_and(|s| s == request.serial))
        .ok_or_else(|| AgentError::NoKey(request.serial.clone()))?;
    let pin = agent
        .prompt
        .pin_for(&request.serial, "签名登录")
        .ok_or(AgentError::Declined)?;
    let container = request.container.clone();
    let message = request.challenge.into_bytes();
    // Argon2 and signing are CPU work: off the async threads.
    let (signature, certificate) = tokio::task::spawn_blocking(move || {
        let signature = ukey.sign(&pin, &container, &message)?;
        let certificate = ukey
            .containers()?
            .into_iter()
            .find(|c| c.name == container)
            .and_then(|c| c.signing_certificate);
        Ok::<_, TokenError>((signature, certificate))
    })
    .await
    .map_err(|e| AgentError::Malformed(e.to_string()))??;
    Ok(Json(Signed {
        signature: B64.encode(signature),
        certificate: certificate.map(|d| B64.encode(d)),
    }))
}

fn key_files(agent: &Agent) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(&agent.keys_dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use certdesk_pki::Algorithm;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const SITE: &str = "https://certdesk.example.com";
    const PIN: &str = "246810";

    struct Holder;
    impl PinPrompt for Holder {
        fn pin_for(&self, _serial: &str, _purpose: &str) -> Option<zeroize::Zeroizing<String>> {
            Some(zeroize::Zeroizing::new(PIN.to_string()))
        }
    }

    async fn send(
        router: &Router,
        request: axum::http::Request<Body>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn only_the_sites_pages_are_answered_and_only_its_challenges_signed() {
        let dir = tempfile::tempdir().unwrap();
        let ukey =
            SoftwareUKey::init(&dir.path().join("a.json"), "CA锁", PIN, "so-pin-0000").unwrap();
        ukey.generate_key_pair(PIN, "default", Algorithm::Sm2Sm3)
            .unwrap();
        let serial = ukey.serial().unwrap();
        let router = agent_router(AgentConfig {
            site_url: format!("{SITE}/"),
            keys_dir: dir.path().to_path_buf(),
            prompt: Arc::new(Holder),
        });
        let get = |origin: Option<&str>| {
            let mut request = axum::http::Request::get("/v1/keys");
            if let Some(origin) = origin {
                request = request.header(header::ORIGIN, origin);
            }
            request.body(Body::empty()).unwrap()
        };
        // Another site's page, or no page at all: refused, with no CORS headers to read by.
        for origin in [
            Some("https://evil.example"),
            Some("http://certdesk.example.com"),
            None,
        ] {
            let (status, headers, body) = send(&router, get(origin)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?}");
            assert_eq!(body["error"]["code"], "other_site");
            assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        }
        let (status, headers, body) = send(&router, get(Some(SITE))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);
        assert_eq!(body[0]["serial"], serial);
        // The preflight of a public page reaching 127.0.0.1 (Private Network Access).
        let preflight = axum::http::Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/sign-challenge")
            .header(header::ORIGIN, SITE)
            .header("access-control-request-method", "POST")
            .header("access-control-request-private-network", "true")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&router, preflight).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(headers["access-control-allow-private-network"], "true");
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);

        let sign = |body: serde_json::Value| {
            axum::http::Request::post("/v1/sign-challenge")
                .header(header::ORIGIN, SITE)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        // A challenge naming another site is not signed; a PIN from the page is refused.
        let (status, _, body) = send(
            &router,
            sign(serde_json::json!({"serial": serial, "challenge": "certdesk:evil.example:login:abc"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "foreign_challenge");
        let (status, _, body) = send(
            &router,
            sign(serde_json::json!({"serial": serial, "challenge": "certdesk:certdesk.example.com:login:abc", "pin": PIN})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "pin_from_page");
        // This site's challenge is signed with the PIN the holder gave the agent.
        let challenge = "certdesk:certdesk.example.com:login:abc";
        let (status, _, body) = send(
            &router,
            sign(serde_json::json!({"serial": serial, "challenge": challenge})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let signature = B64.decode(body["signature"].as_str().unwrap()).unwrap();
        let spki = certdesk_pki::parse_and_verify_csr(
            &ukey.certificate_request(PIN, "default", "CN=x").unwrap(),
        )
        .unwrap()
        .public_key;
        Algorithm::Sm2Sm3
            .verify(
                &spki,
                &Algorithm::Sm2Sm3.signature_algorithm_identifier(),
                challenge.as_bytes(),
                &signature,
            )
            .unwrap();
    }
}
