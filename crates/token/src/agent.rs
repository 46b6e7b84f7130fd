//! `certdesk agent`: the loopback HTTP service certdesk's pages talk to (as BJCA's client does
//! on 127.0.0.1), over the software UKeys in a directory and the tokens behind PKCS#11 modules.
//!
//! - It answers only pages of the configured certdesk site: a request whose `Origin` is not
//!   that site's (or has none) is refused with 403 and no CORS headers, so the browser hides
//!   any answer from another site's page. Preflights get the CORS headers and, when asked,
//!   `Access-Control-Allow-Private-Network: true` (Chrome's Private Network Access: a public
//!   page may then reach 127.0.0.1).
//! - It signs only certdesk challenges that name that site (`certdesk:{site}:{purpose}:{id}`,
//!   the server's `challenge_message`): a page of another site cannot have it sign a login
//!   for it, even through a compromised page.
//! - It asks for the PIN itself ([`PinPrompt`]: its terminal, or [`PagePrompt`] — a small page
//!   of its own at `/pin` on its own origin that the site's page opens in a window); a request
//!   that carries a PIN is refused — the site's page never sees one.
//! - Every operation is an HTTP route under `/v1/` and, for pages that keep one connection
//!   (guide 003's local service), a message on the WebSocket at `/v1/ws`.
//! - 制证 and 解锁: secrets the server sends to a key (the SO PIN the CA sets, and gives back
//!   for a 解锁授权码) arrive sealed (SM2) to a one-time key the agent made for that key
//!   (`/v1/keys/{serial}/challenge`), held only in the agent's memory for ten minutes and used
//!   once: the page carries them and cannot read them.

use crate::{ContainerInfo, Token, TokenError, TokenKind};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use certdesk_pki::der::{Decode, Encode};
use certdesk_pki::{Algorithm, Signer as _, SoftwareKey};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The port the agent listens on by default (127.0.0.1 only).
pub const DEFAULT_PORT: u16 = 24680;

/// How long a one-time transport key waits for the server's sealed answer.
const CHALLENGE_LIFETIME: Duration = Duration::from_secs(600);

/// Asks the key holder for a key's PIN, outside the web page (a terminal prompt, or the
/// agent's own local page). Called off the async threads: it may wait for the holder.
pub trait PinPrompt: Send + Sync {
    /// The PIN for the key with `serial`, or `None` when the holder declined.
    fn pin_for(&self, serial: &str, purpose: &str) -> Option<Zeroizing<String>>;
    /// A new PIN for the key (typed twice where the holder types it), or `None` when declined.
    fn new_pin_for(&self, serial: &str, purpose: &str) -> Option<Zeroizing<String>>;
    /// `page` when the site's page should open the agent's PIN window, `terminal` otherwise.
    fn kind(&self) -> &'static str;
}

pub struct AgentConfig {
    /// The certdesk site the agent serves, e.g. `https://certdesk.example.com`.
    pub site_url: String,
    /// Where the software UKeys are (`*.json`).
    pub keys_dir: PathBuf,
    /// PKCS#11 modules whose initialised tokens are keys too (a vendor's `.so`, SoftHSM2).
    pub pkcs11_modules: Vec<PathBuf>,
    pub prompt: Arc<dyn PinPrompt>,
    /// With [`PagePrompt`]: its queue, served at `/pin` on the agent's own origin.
    pub page_prompt: Option<Arc<PagePrompt>>,
}

struct Agent {
    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    origin: String,
    /// The site as challenges name it: the URL without its scheme and trailing `/`.
    site: String,
    keys_dir: PathBuf,
    pkcs11_modules: Vec<PathBuf>,
    prompt: Arc<dyn PinPrompt>,
    /// One-time SM2 transport keys by key serial, made by `/challenge`.
    challenges: Mutex<HashMap<String, (SoftwareKey, Instant)>>,
}

/// The agent's routes, answering only `config.site_url`'s pages (and, with a page prompt, its
/// own PIN page).
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
        pkcs11_modules: config.pkcs11_modules,
        prompt: config.prompt,
        challenges: Mutex::new(HashMap::new()),
    });
    let for_the_site = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/keys", get(keys))
        .route("/v1/sign-challenge", post(sign_challenge))
        .route("/v1/keys/{serial}/generate", post(generate))
        .route("/v1/keys/{serial}/challenge", post(challenge))
        .route("/v1/keys/{serial}/install", post(install))
        .route("/v1/keys/{serial}/change-pin", post(change_pin))
        .route("/v1/keys/{serial}/unlock", post(unlock))
        .route("/v1/ws", get(websocket))
        .layer(middleware::from_fn_with_state(agent.clone(), only_the_site))
        .with_state(agent.clone());
    match config.page_prompt {
        Some(prompt) => for_the_site.merge(pin_page_router(prompt, agent.origin.clone())),
        None => for_the_site,
    }
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
    #[error("CA锁中已有证书，不能重新生成密钥")]
    AlreadyCertified,
    #[error("没有有效的一次性解密密钥（10分钟内有效、只能使用一次），请重新操作")]
    NoChallenge,
    #[error("服务器发来的密文无法解开：{0}")]
    Unsealable(String),
    #[error("{0}")]
    Token(#[from] TokenError),
}

impl IntoResponse for AgentError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        (
            status,
            Json(serde_json::json!({"error": {"code": code, "message": self.to_string()}})),
        )
            .into_response()
    }
}

impl AgentError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AgentError::OtherSite(_) => (StatusCode::FORBIDDEN, "other_site"),
            AgentError::ForeignChallenge(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "foreign_challenge")
            }
            AgentError::PinFromPage => (StatusCode::BAD_REQUEST, "pin_from_page"),
            AgentError::NoKey(_) => (StatusCode::NOT_FOUND, "no_key"),
            AgentError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            AgentError::Declined => (StatusCode::CONFLICT, "declined"),
            AgentError::AlreadyCertified => (StatusCode::CONFLICT, "already_certified"),
            AgentError::NoChallenge => (StatusCode::CONFLICT, "no_challenge"),
            AgentError::Unsealable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unsealable"),
            AgentError::Token(TokenError::WrongPin { .. } | TokenError::WrongPinOnToken) => {
                (StatusCode::UNAUTHORIZED, "wrong_pin")
            }
            AgentError::Token(TokenError::WrongSoPin { .. }) => {
                (StatusCode::UNAUTHORIZED, "wrong_so_pin")
            }
            AgentError::Token(TokenError::Locked | TokenError::SoLocked) => {
                (StatusCode::LOCKED, "locked")
            }
            AgentError::Token(TokenError::PinPolicy) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "pin_policy")
            }
            AgentError::Token(TokenError::Unsupported(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unsupported")
            }
            AgentError::Token(TokenError::CertificateMismatch) => {
                (StatusCode::CONFLICT, "certificate_mismatch")
            }
            AgentError::Token(TokenError::AlreadyMade) => (StatusCode::CONFLICT, "already_made"),
            AgentError::Token(_) => (StatusCode::INTERNAL_SERVER_ERROR, "token_error"),
        }
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

// --- keys --------------------------------------------------------------------------------------

/// Every key the agent can reach now.
fn tokens(agent: &Agent) -> Vec<(Box<dyn Token>, TokenKind)> {
    crate::discover(&agent.keys_dir, &agent.pkcs11_modules)
}

fn token_with_serial(agent: &Agent, serial: &str) -> Result<Box<dyn Token>, AgentError> {
    tokens(agent)
        .into_iter()
        .map(|(token, _)| token)
        .find(|t| t.serial().is_ok_and(|s| s == serial))
        .ok_or_else(|| AgentError::NoKey(serial.to_string()))
}

/// Runs a key operation off the async threads (it waits for the holder's PIN, and argon2 and
/// signing are CPU work).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> Result<T, AgentError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AgentError::Malformed(e.to_string()))?
}

/// A JSON body that must not carry a PIN.
fn body_without_pin<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AgentError> {
    let value: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| AgentError::Malformed(e.to_string()))?
    };
    if ["pin", "new_pin", "so_pin"]
        .iter()
        .any(|field| value.get(field).is_some())
    {
        return Err(AgentError::PinFromPage);
    }
    serde_json::from_value(value).map_err(|e| AgentError::Malformed(e.to_string()))
}

/// A certificate as the server sends it: PEM, or DER in base64.
fn certificate_der(field: &str, text: &str) -> Result<Vec<u8>, AgentError> {
    if text.contains("-----BEGIN") {
        let certificate = certdesk_pki::certificate_from_der_or_pem(text.as_bytes())
            .map_err(|e| AgentError::Malformed(format!("{field}: {e}")))?;
        certificate
            .to_der()
            .map_err(|e| AgentError::Malformed(format!("{field}: {e}")))
    } else {
        unbase64(field, text)
    }
}

fn unbase64(field: &str, text: &str) -> Result<Vec<u8>, AgentError> {
    B64.decode(text.trim())
        .map_err(|e| AgentError::Malformed(format!("{field}: {e}")))
}

#[derive(Serialize)]
struct Health {
    agent_version: &'static str,
    site: String,
    /// `page`: open the agent's `/pin` window before a request that needs a PIN.
    prompt: &'static str,
    /// Where keys are looked for: the software UKeys' folder and each PKCS#11 module, and
    /// whether it is there.
    token_libraries: Vec<Library>,
    keys: usize,
    /// The agent's clock (Unix seconds), for the page to compare with the server's.
    now: u64,
}

#[derive(Serialize)]
struct Library {
    kind: &'static str,
    path: String,
    found: bool,
}

async fn health(State(agent): State<Arc<Agent>>) -> Result<Json<Health>, AgentError> {
    let agent2 = agent.clone();
    let keys = blocking(move || Ok(tokens(&agent2).len())).await?;
    let mut token_libraries = vec![Library {
        kind: "software",
        path: agent.keys_dir.display().to_string(),
        found: agent.keys_dir.is_dir(),
    }];
    for module in &agent.pkcs11_modules {
        token_libraries.push(Library {
            kind: "pkcs11",
            path: module.display().to_string(),
            found: module.is_file(),
        });
    }
    Ok(Json(Health {
        agent_version: env!("CARGO_PKG_VERSION"),
        site: agent.site.clone(),
        prompt: agent.prompt.kind(),
        token_libraries,
        keys,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    }))
}

#[derive(Serialize)]
struct KeyView {
    /// CA锁ID.
    serial: String,
    /// `software` or `pkcs11`.
    kind: &'static str,
    pin_tries_left: Option<u32>,
    /// Whether the key takes an SM2 encryption key pair and an SO PIN from the CA (dual
    /// certificates, 解锁授权码).
    sm2_dual: bool,
    containers: Vec<ContainerView>,
}

#[derive(Serialize)]
struct ContainerView {
    name: String,
    algorithm: Option<&'static str>,
    has_signing_key: bool,
    signing_certificate: Option<CertificateView>,
    encryption_certificate: Option<CertificateView>,
}

#[derive(Serialize)]
struct CertificateView {
    /// DER, base64 (for the page to send on; never shown).
    der: String,
    /// Serial, hex upper case.
    serial: String,
    subject: String,
    /// Unix seconds.
    not_after: u64,
}

fn certificate_view(der: Vec<u8>) -> CertificateView {
    let parsed = certdesk_pki::x509_cert::Certificate::from_der(&der).ok();
    CertificateView {
        serial: parsed
            .as_ref()
            .map(|c| hex::encode_upper(c.tbs_certificate().serial_number().as_bytes()))
            .unwrap_or_default(),
        subject: parsed
            .as_ref()
            .map(|c| c.tbs_certificate().subject().to_string())
            .unwrap_or_default(),
        not_after: parsed
            .as_ref()
            .map(|c| {
                c.tbs_certificate()
                    .validity()
                    .not_after
                    .to_unix_duration()
                    .as_secs()
            })
            .unwrap_or_default(),
        der: B64.encode(der),
    }
}

fn container_view(c: ContainerInfo) -> ContainerView {
    ContainerView {
        name: c.name,
        algorithm: c.algorithm.map(|a| a.slug()),
        has_signing_key: c.has_signing_key,
        signing_certificate: c.signing_certificate.map(certificate_view),
        encryption_certificate: c.encryption_certificate.map(certificate_view),
    }
}

async fn keys(State(agent): State<Arc<Agent>>) -> Result<Json<Vec<KeyView>>, AgentError> {
    blocking(move || {
        let mut views = Vec::new();
        for (token, kind) in tokens(&agent) {
            let (Ok(serial), Ok(containers)) = (token.serial(), token.containers()) else {
                continue;
            };
            views.push(KeyView {
                serial,
                kind: kind.as_str(),
                pin_tries_left: token.pin_tries_left().ok().flatten(),
                sm2_dual: kind == TokenKind::Software,
                containers: containers.into_iter().map(container_view).collect(),
            });
        }
        Ok(Json(views))
    })
    .await
}

fn default_container() -> String {
    "default".into()
}

/// The holder's PIN for `token`; a locked key is refused before anyone types into it.
fn ask_pin(
    agent: &Agent,
    token: &dyn Token,
    serial: &str,
    purpose: &str,
) -> Result<Zeroizing<String>, AgentError> {
    if token.pin_tries_left()? == Some(0) {
        return Err(TokenError::Locked.into());
    }
    agent
        .prompt
        .pin_for(serial, purpose)
        .ok_or(AgentError::Declined)
}

// --- signing ------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignChallenge {
    serial: String,
    #[serde(default = "default_container")]
    container: String,
    /// The server's challenge message, signed as it is.
    challenge: String,
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
    let request: SignChallenge = body_without_pin(&body)?;
    if !request
        .challenge
        .starts_with(&format!("certdesk:{}:", agent.site))
    {
        return Err(AgentError::ForeignChallenge(agent.site.clone()));
    }
    blocking(move || {
        let token = token_with_serial(&agent, &request.serial)?;
        let purpose = if request.challenge.contains(":bind:") {
            "绑定证书"
        } else {
            "证书登录"
        };
        let pin = ask_pin(&agent, token.as_ref(), &request.serial, purpose)?;
        let signature = token.sign(&pin, &request.container, request.challenge.as_bytes())?;
        let certificate = token
            .containers()?
            .into_iter()
            .find(|c| c.name == request.container)
            .and_then(|c| c.signing_certificate);
        Ok(Json(Signed {
            signature: B64.encode(signature),
            certificate: certificate.map(|d| B64.encode(d)),
        }))
    })
    .await
}

// --- 制证: key pairs, the transport key, installing ---------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    #[serde(default = "default_container")]
    container: String,
    /// `sm2` or `p256` (the product's algorithm); not needed with `keep_key`.
    #[serde(default)]
    algorithm: Option<String>,
    /// 续费: a request from the container's key pair as it is (certified or not), for the
    /// same key to be certified again.
    #[serde(default)]
    keep_key: bool,
}

#[derive(Serialize)]
struct Generated {
    /// PKCS#10, DER base64: for the page to hand to the server, never to a person.
    csr: String,
}

/// Makes the container's signing key pair on the key (or keeps the one made by an earlier try
/// that got no certificate) and answers its certificate request.
async fn generate(
    State(agent): State<Arc<Agent>>,
    UrlPath(serial): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Generated>, AgentError> {
    let request: Generate = body_without_pin(&body)?;
    let algorithm = match request.algorithm.as_deref() {
        Some(slug) => Some(
            [Algorithm::Sm2Sm3, Algorithm::EcdsaP256Sha256]
                .into_iter()
                .find(|a| a.slug() == slug)
                .ok_or_else(|| AgentError::Malformed(format!("algorithm {slug}")))?,
        ),
        None if request.keep_key => None,
        None => return Err(AgentError::Malformed("algorithm is required".into())),
    };
    blocking(move || {
        let token = token_with_serial(&agent, &serial)?;
        let existing = token
            .containers()?
            .into_iter()
            .find(|c| c.name == request.container);
        if request.keep_key {
            if !existing.as_ref().is_some_and(|c| c.has_signing_key) {
                return Err(TokenError::Empty(request.container.clone(), "签名密钥").into());
            }
        } else if existing
            .as_ref()
            .is_some_and(|c| c.signing_certificate.is_some())
        {
            return Err(AgentError::AlreadyCertified);
        }
        let purpose = if request.keep_key {
            "用原有密钥生成证书请求（续费）"
        } else {
            "在CA锁中生成密钥"
        };
        let pin = ask_pin(&agent, token.as_ref(), &serial, purpose)?;
        let has_key = existing
            .is_some_and(|c| c.has_signing_key && (request.keep_key || c.algorithm == algorithm));
        if let (false, Some(algorithm)) = (has_key, algorithm) {
            token.generate_key_pair(&pin, &request.container, algorithm)?;
        }
        let csr = token.certificate_request(&pin, &request.container, &format!("CN={serial}"))?;
        Ok(Json(Generated {
            csr: B64.encode(csr),
        }))
    })
    .await
}

#[derive(Serialize)]
struct Challenge {
    /// A one-time SM2 public key (DER SubjectPublicKeyInfo, base64) the server seals its answer to.
    challenge: String,
}

async fn challenge(
    State(agent): State<Arc<Agent>>,
    UrlPath(serial): UrlPath<String>,
) -> Result<Json<Challenge>, AgentError> {
    blocking(move || {
        token_with_serial(&agent, &serial)?;
        let key = SoftwareKey::generate(Algorithm::Sm2Sm3).map_err(TokenError::from)?;
        let spki = key
            .public_key_spki()
            .to_der()
            .map_err(|e| AgentError::Malformed(e.to_string()))?;
        let mut challenges = agent
            .challenges
            .lock()
            .map_err(|_| AgentError::Malformed("challenge table poisoned".into()))?;
        challenges.retain(|_, (_, made)| made.elapsed() < CHALLENGE_LIFETIME);
        challenges.insert(serial, (key, Instant::now()));
        Ok(Json(Challenge {
            challenge: B64.encode(spki),
        }))
    })
    .await
}

/// Opens a secret the server sealed to the key's one-time transport key (used up here).
fn unseal(agent: &Agent, serial: &str, sealed: &str) -> Result<Zeroizing<String>, AgentError> {
    let (key, made) = agent
        .challenges
        .lock()
        .map_err(|_| AgentError::Malformed("challenge table poisoned".into()))?
        .remove(serial)
        .ok_or(AgentError::NoChallenge)?;
    if made.elapsed() >= CHALLENGE_LIFETIME {
        return Err(AgentError::NoChallenge);
    }
    let bytes = key
        .sm2_decrypt(&unbase64("sealed", sealed)?)
        .map_err(|e| AgentError::Unsealable(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| AgentError::Unsealable(e.to_string()))?;
    Ok(Zeroizing::new(text.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Install {
    #[serde(default = "default_container")]
    container: String,
    /// As the server gave them: DER in base64, or PEM.
    signing_certificate: String,
    #[serde(default)]
    encryption_certificate: Option<String>,
    /// GM/T 0016 ENVELOPEDKEYBLOB, base64.
    #[serde(default)]
    envelope_skf: Option<String>,
    /// The SO PIN the CA set for this key, sealed to its transport key (制证 only).
    #[serde(default)]
    so_pin_sealed: Option<String>,
}

#[derive(Serialize)]
struct Installed {
    serial: String,
    /// Whether the certificates were already on the key (a repeated request).
    already: bool,
}

/// Writes what the CA issued into the key: the encryption key pair (opened inside the agent),
/// the SO PIN the CA set, the encryption certificate, and the signing certificate last — so a
/// key with its signing certificate has all the rest, and a repeated request is answered
/// `already`.
async fn install(
    State(agent): State<Arc<Agent>>,
    UrlPath(serial): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Installed>, AgentError> {
    let request: Install = body_without_pin(&body)?;
    let signing = certificate_der("signing_certificate", &request.signing_certificate)?;
    let encryption = request
        .encryption_certificate
        .as_deref()
        .map(|c| certificate_der("encryption_certificate", c))
        .transpose()?;
    let envelope = request
        .envelope_skf
        .as_deref()
        .map(|e| unbase64("envelope_skf", e))
        .transpose()?;
    blocking(move || {
        let token = token_with_serial(&agent, &serial)?;
        let already = token
            .containers()?
            .into_iter()
            .find(|c| c.name == request.container)
            .and_then(|c| c.signing_certificate)
            .is_some_and(|installed| installed == signing);
        if already {
            return Ok(Json(Installed {
                serial,
                already: true,
            }));
        }
        let so_pin = request
            .so_pin_sealed
            .as_deref()
            .map(|sealed| unseal(&agent, &serial, sealed))
            .transpose()?;
        let pin = ask_pin(&agent, token.as_ref(), &serial, "将证书写入CA锁")?;
        if let Some(envelope) = &envelope {
            token.import_enveloped_key(&pin, &request.container, envelope)?;
        }
        if let Some(so_pin) = &so_pin {
            token.personalise_so_pin(&pin, so_pin)?;
        }
        if let Some(encryption) = &encryption {
            token.install_certificate(
                &pin,
                &request.container,
                crate::Slot::Encryption,
                encryption,
            )?;
        }
        token.install_certificate(&pin, &request.container, crate::Slot::Signing, &signing)?;
        Ok(Json(Installed {
            serial,
            already: false,
        }))
    })
    .await
}

// --- PINs ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Done {
    serial: String,
}

async fn change_pin(
    State(agent): State<Arc<Agent>>,
    UrlPath(serial): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Done>, AgentError> {
    let _: serde_json::Value = body_without_pin(&body)?;
    blocking(move || {
        let token = token_with_serial(&agent, &serial)?;
        let old = ask_pin(&agent, token.as_ref(), &serial, "修改PIN码：请输入原PIN码")?;
        let new = agent
            .prompt
            .new_pin_for(&serial, "修改PIN码：请设置新PIN码")
            .ok_or(AgentError::Declined)?;
        token.change_pin(&old, &new)?;
        Ok(Json(Done { serial }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unlock {
    /// The server's answer to the 解锁授权码: the key's SO PIN sealed to its transport key.
    response: String,
}

/// 解锁授权码's challenge-response: the server's sealed answer opens here, the holder sets a new
/// PIN in the agent, and the key unlocks with the SO PIN the answer carried.
async fn unlock(
    State(agent): State<Arc<Agent>>,
    UrlPath(serial): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Done>, AgentError> {
    let request: Unlock = body_without_pin(&body)?;
    blocking(move || {
        let token = token_with_serial(&agent, &serial)?;
        let so_pin = unseal(&agent, &serial, &request.response)?;
        let new = agent
            .prompt
            .new_pin_for(&serial, "解锁CA锁：请设置新PIN码")
            .ok_or(AgentError::Declined)?;
        token.unlock_with_so_pin(&so_pin, &new)?;
        Ok(Json(Done { serial }))
    })
    .await
}

// --- WebSocket ------------------------------------------------------------------------------------

/// One request over the WebSocket (guide 003's local service speaks WebSocket): the same
/// operations as the HTTP routes, answered with the same `id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WsRequest {
    id: serde_json::Value,
    /// `health`, `keys`, `sign-challenge`, `generate`, `challenge`, `install`, `change-pin`
    /// or `unlock`.
    method: String,
    /// The key, for the operations on one key.
    #[serde(default)]
    serial: Option<String>,
    /// The HTTP route's JSON body.
    #[serde(default)]
    params: serde_json::Value,
}

/// `/v1/ws`: the upgrade is refused like any request not from the site's pages (the browser
/// sends `Origin` with it); then each text message is one [`WsRequest`], answered in turn.
async fn websocket(
    State(agent): State<Arc<Agent>>,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |mut socket| async move {
        use axum::extract::ws::Message;
        while let Some(Ok(message)) = socket.recv().await {
            let Message::Text(text) = message else {
                continue;
            };
            let answer = ws_answer(agent.clone(), text.as_str()).await;
            if socket
                .send(Message::Text(answer.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    })
}

async fn ws_answer(agent: Arc<Agent>, text: &str) -> serde_json::Value {
    let request: WsRequest = match serde_json::from_str(text) {
        Ok(request) => request,
        Err(e) => {
            return ws_error(
                serde_json::Value::Null,
                &AgentError::Malformed(e.to_string()),
            )
        }
    };
    let id = request.id.clone();
    match ws_call(agent, request).await {
        Ok(result) => serde_json::json!({"id": id, "result": result}),
        Err(err) => ws_error(id, &err),
    }
}

fn ws_error(id: serde_json::Value, err: &AgentError) -> serde_json::Value {
    let (_, code) = err.status_and_code();
    serde_json::json!({"id": id, "error": {"code": code, "message": err.to_string()}})
}

async fn ws_call(agent: Arc<Agent>, request: WsRequest) -> Result<serde_json::Value, AgentError> {
    fn value<T: Serialize>(answer: Json<T>) -> Result<serde_json::Value, AgentError> {
        serde_json::to_value(answer.0).map_err(|e| AgentError::Malformed(e.to_string()))
    }
    let params = if request.params.is_null() {
        serde_json::json!({})
    } else {
        request.params
    };
    let body = axum::body::Bytes::from(params.to_string());
    let serial = || {
        request
            .serial
            .clone()
            .map(UrlPath)
            .ok_or_else(|| AgentError::Malformed("serial is required".into()))
    };
    let state = State(agent.clone());
    match request.method.as_str() {
        "health" => value(health(state).await?),
        "keys" => value(keys(state).await?),
        "sign-challenge" => value(sign_challenge(state, body).await?),
        "generate" => value(generate(state, serial()?, body).await?),
        "challenge" => value(challenge(state, serial()?).await?),
        "install" => value(install(state, serial()?, body).await?),
        "change-pin" => value(change_pin(state, serial()?, body).await?),
        "unlock" => value(unlock(state, serial()?, body).await?),
        other => Err(AgentError::Malformed(format!("unknown method {other}"))),
    }
}

// --- the agent's own PIN page ------------------------------------------------------------------

/// Asks for PINs on a page the agent serves at `/pin` on its own origin: the site's page opens
/// it in a small window; the holder types there, so the site's page never sees the PIN.
/// Requests wait in a queue, the first one shown; one not answered in two minutes is declined.
pub struct PagePrompt {
    queue: Mutex<PromptQueue>,
    answered: Condvar,
    wait: Duration,
}

#[derive(Default)]
struct PromptQueue {
    next_id: u64,
    pending: VecDeque<Pending>,
}

struct Pending {
    id: u64,
    serial: String,
    purpose: String,
    new_pin: bool,
    answer: Option<Option<Zeroizing<String>>>,
}

impl Default for PagePrompt {
    fn default() -> Self {
        Self::new(Duration::from_secs(120))
    }
}

impl PagePrompt {
    pub fn new(wait: Duration) -> Self {
        PagePrompt {
            queue: Mutex::new(PromptQueue::default()),
            answered: Condvar::new(),
            wait,
        }
    }

    fn ask(&self, serial: &str, purpose: &str, new_pin: bool) -> Option<Zeroizing<String>> {
        let mut queue = self.queue.lock().ok()?;
        queue.next_id += 1;
        let id = queue.next_id;
        queue.pending.push_back(Pending {
            id,
            serial: serial.to_string(),
            purpose: purpose.to_string(),
            new_pin,
            answer: None,
        });
        let deadline = Instant::now() + self.wait;
        loop {
            let position = queue.pending.iter().position(|p| p.id == id)?;
            if queue.pending[position].answer.is_some() {
                return queue.pending.remove(position)?.answer.flatten();
            }
            let left = deadline.checked_duration_since(Instant::now());
            let Some(left) = left.filter(|l| !l.is_zero()) else {
                queue.pending.remove(position);
                return None;
            };
            queue = self.answered.wait_timeout(queue, left).ok()?.0;
        }
    }

    fn first(&self) -> Option<serde_json::Value> {
        let queue = self.queue.lock().ok()?;
        queue
            .pending
            .iter()
            .find(|p| p.answer.is_none())
            .map(|p| {
                serde_json::json!({"id": p.id, "serial": p.serial, "purpose": p.purpose, "new_pin": p.new_pin})
            })
    }

    fn answer(&self, id: u64, answer: Option<Zeroizing<String>>) -> bool {
        let Ok(mut queue) = self.queue.lock() else {
            return false;
        };
        let Some(pending) = queue
            .pending
            .iter_mut()
            .find(|p| p.id == id && p.answer.is_none())
        else {
            return false;
        };
        pending.answer = Some(answer);
        self.answered.notify_all();
        true
    }
}

impl PinPrompt for PagePrompt {
    fn pin_for(&self, serial: &str, purpose: &str) -> Option<Zeroizing<String>> {
        self.ask(serial, purpose, false)
    }
    fn new_pin_for(&self, serial: &str, purpose: &str) -> Option<Zeroizing<String>> {
        self.ask(serial, purpose, true)
    }
    fn kind(&self) -> &'static str {
        "page"
    }
}

struct PinPage {
    prompt: Arc<PagePrompt>,
    site_origin: String,
}

fn pin_page_router(prompt: Arc<PagePrompt>, site_origin: String) -> Router {
    let page = Arc::new(PinPage {
        prompt,
        site_origin,
    });
    Router::new()
        .route("/pin", get(pin_page))
        .route("/pin/pending", get(pin_pending))
        .route("/pin/answer", post(pin_answer))
        .layer(middleware::from_fn(only_loopback))
        .with_state(page)
}

/// The PIN page is the agent's own: asked for by the loopback name (no DNS rebinding), and its
/// answers posted only from itself (another page cannot spend the key's tries).
async fn only_loopback(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let loopback = host.rsplit_once(':').is_some_and(|(name, port)| {
        matches!(name, "127.0.0.1" | "localhost") && port.parse::<u16>().is_ok()
    });
    if !loopback {
        return (
            StatusCode::FORBIDDEN,
            "证书助手的PIN码页面只能通过 127.0.0.1 打开",
        )
            .into_response();
    }
    if request.method() == Method::POST {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .unwrap_or_default();
        if origin != format!("http://{host}") {
            return (StatusCode::FORBIDDEN, "PIN码只能在证书助手自己的页面中输入").into_response();
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    response
}

async fn pin_page(State(page): State<Arc<PinPage>>) -> Html<String> {
    Html(PIN_PAGE.replace("{{SITE}}", &page.site_origin))
}

async fn pin_pending(State(page): State<Arc<PinPage>>) -> Json<serde_json::Value> {
    Json(page.prompt.first().unwrap_or(serde_json::Value::Null))
}

#[derive(Deserialize)]
struct PinAnswer {
    id: u64,
    #[serde(default)]
    pin: Option<String>,
    #[serde(default)]
    cancel: bool,
}

async fn pin_answer(State(page): State<Arc<PinPage>>, Json(answer): Json<PinAnswer>) -> Response {
    let pin = if answer.cancel {
        None
    } else {
        answer.pin.map(Zeroizing::new)
    };
    if page.prompt.answer(answer.id, pin) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::GONE, "该请求已结束").into_response()
    }
}

/// The agent's PIN window: polls for the first waiting request and answers it. New PINs are
/// typed twice and checked here (6–16 characters) before they go to the key.
const PIN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>证书助手 · 输入PIN码</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f6fa;color:#1d2733}
main{max-width:380px;margin:24px auto;background:#fff;border-radius:8px;padding:20px 24px;box-shadow:0 1px 4px #0002}
h1{font-size:18px;margin:0 0 8px}label{display:block;margin:12px 0 4px}input{width:100%;box-sizing:border-box;padding:8px;font-size:16px}
button{margin-top:16px;padding:8px 18px;font-size:15px}.primary{background:#1f6fd1;color:#fff;border:0;border-radius:4px}
.hint{color:#5b6776;font-size:13px}.error{color:#b3261e}
</style></head><body><main>
<h1>证书助手</h1>
<p class="hint">请求来自 <b>{{SITE}}</b>。PIN码只在这里输入，网页看不到它。</p>
<div id="waiting"><p>等待网页发起操作……</p></div>
<form id="ask" hidden>
  <p id="what"></p>
  <div id="old"><label for="pin">PIN码</label><input id="pin" type="password" autocomplete="off"></div>
  <div id="fresh" hidden><label for="new-pin">新PIN码（6–16位）</label><input id="new-pin" type="password" autocomplete="off">
  <label for="confirm-pin">再次输入新PIN码</label><input id="confirm-pin" type="password" autocomplete="off"></div>
  <p id="problem" class="error" role="alert"></p>
  <button type="submit" class="primary" id="ok">确定</button> <button type="button" id="cancel">取消</button>
</form>
</main>
<script>
(function () {
  var current = null;
  var form = document.getElementById('ask');
  function show(p) {
    current = p;
    document.getElementById('waiting').hidden = !!p;
    form.hidden = !p;
    if (!p) { return; }
    document.getElementById('what').textContent = 'CA锁 ' + p.serial + '：' + p.purpose;
    document.getElementById('old').hidden = p.new_pin;
    document.getElementById('fresh').hidden = !p.new_pin;
    document.getElementById('problem').textContent = '';
    ['pin', 'new-pin', 'confirm-pin'].forEach(function (id) { document.getElementById(id).value = ''; });
    document.getElementById(p.new_pin ? 'new-pin' : 'pin').focus();
  }
  function poll() {
    fetch('/pin/pending', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (p) {
      if (!current || !p || p.id !== current.id) { show(p); }
    }).catch(function () {}).then(function () { setTimeout(poll, 400); });
  }
  function send(body) {
    return fetch('/pin/answer', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function () { show(null); });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (!current) { return; }
    var pin;
    if (current.new_pin) {
      pin = document.getElementById('new-pin').value;
      if (pin.length < 6 || pin.length > 16) { document.getElementById('problem').textContent = 'PIN码应为6至16位'; return; }
      if (pin !== document.getElementById('confirm-pin').value) { document.getElementById('problem').textContent = '两次输入的新PIN码不一致'; return; }
    } else {
      pin = document.getElementById('pin').value;
      if (!pin) { document.getElementById('problem').textContent = '请输入PIN码'; return; }
    }
    send({ id: current.id, pin: pin });
  });
  document.getElementById('cancel').addEventListener('click', function () { if (current) { send({ id: current.id, cancel: true }); } });
  poll();
})();
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SoftwareUKey;
    use axum::body::Body;
    use certdesk_pki::Algorithm;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const SITE: &str = "https://certdesk.example.com";
    const PIN: &str = "246810";

    /// The holder types the PINs given, in order; the same PIN again when none are left.
    struct Holder(Mutex<VecDeque<&'static str>>);
    impl Holder {
        fn typing(pins: &[&'static str]) -> Arc<Self> {
            Arc::new(Holder(Mutex::new(pins.iter().copied().collect())))
        }
        fn next(&self) -> Option<Zeroizing<String>> {
            let mut pins = self.0.lock().unwrap();
            let pin = if pins.len() > 1 {
                pins.pop_front()
            } else {
                pins.front().copied()
            };
            pin.map(|p| Zeroizing::new(p.to_string()))
        }
    }
    impl PinPrompt for Holder {
        fn pin_for(&self, _serial: &str, _purpose: &str) -> Option<Zeroizing<String>> {
            self.next()
        }
        fn new_pin_for(&self, _serial: &str, _purpose: &str) -> Option<Zeroizing<String>> {
            self.next()
        }
        fn kind(&self) -> &'static str {
            "terminal"
        }
    }

    fn router_for(dir: &std::path::Path, prompt: Arc<dyn PinPrompt>) -> Router {
        agent_router(AgentConfig {
            site_url: format!("{SITE}/"),
            keys_dir: dir.to_path_buf(),
            pkcs11_modules: Vec::new(),
            prompt,
            page_prompt: None,
        })
    }

    fn post(path: &str, body: serde_json::Value) -> axum::http::Request<Body> {
        axum::http::Request::post(path)
            .header(header::ORIGIN, SITE)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
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
        let router = router_for(dir.path(), Holder::typing(&[PIN]));
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
        assert_eq!(body[0]["pin_tries_left"], 10);
        assert_eq!(body[0]["containers"][0]["has_signing_key"], true);
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

    /// 解锁授权码's challenge-response: a locked key is unlocked by the SO PIN the server sealed
    /// to the agent's one-time key, once; the page never carries a PIN.
    #[tokio::test]
    async fn a_sealed_so_pin_unlocks_a_locked_key_once() {
        const SO_PIN: &str = "so-pin-0000";
        const NEW_PIN: &str = "135790";
        let dir = tempfile::tempdir().unwrap();
        let ukey = SoftwareUKey::init(&dir.path().join("a.json"), "CA锁", PIN, SO_PIN).unwrap();
        ukey.generate_key_pair(PIN, "default", Algorithm::Sm2Sm3)
            .unwrap();
        let serial = ukey.serial().unwrap();
        // Ten wrong PINs through the agent lock it.
        let wrong = router_for(dir.path(), Holder::typing(&["000000"]));
        let challenge = "certdesk:certdesk.example.com:login:abc";
        for left in (0..10).rev() {
            let (status, _, body) = send(
                &wrong,
                post(
                    "/v1/sign-challenge",
                    serde_json::json!({"serial": serial, "challenge": challenge}),
                ),
            )
            .await;
            if left == 0 {
                assert_eq!(status, StatusCode::LOCKED, "{body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
                assert!(body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("{left}次")));
            }
        }
        let router = router_for(dir.path(), Holder::typing(&[NEW_PIN]));
        // No transport key yet: nothing to open.
        let (status, _, body) = send(
            &router,
            post(
                &format!("/v1/keys/{serial}/unlock"),
                serde_json::json!({"response": "AAAA"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "no_challenge");
        let (status, _, body) = send(
            &router,
            post(
                &format!("/v1/keys/{serial}/challenge"),
                serde_json::json!({}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let spki = certdesk_pki::spki::SubjectPublicKeyInfoOwned::from_der(
            &B64.decode(body["challenge"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        // What the server does with a good code: the SO PIN it set, sealed to that key.
        let response = B64.encode(certdesk_pki::sm2_encrypt(&spki, SO_PIN.as_bytes()).unwrap());
        // The answer sent twice at the same instant: the one-time key opens it once.
        let unlock = || {
            post(
                &format!("/v1/keys/{serial}/unlock"),
                serde_json::json!({"response": response}),
            )
        };
        let (first, second) = tokio::join!(send(&router, unlock()), send(&router, unlock()));
        let mut statuses = [first.0, second.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{} {}",
            first.2,
            second.2
        );
        let refused = if first.0 == StatusCode::CONFLICT {
            &first.2
        } else {
            &second.2
        };
        assert_eq!(refused["error"]["code"], "no_challenge");
        assert_eq!(ukey.pin_tries_left().unwrap(), 10);
        ukey.sign(NEW_PIN, "default", b"x").unwrap();
        // A page offering a PIN is refused whatever it asks.
        let (status, _, body) = send(
            &router,
            post(
                &format!("/v1/keys/{serial}/change-pin"),
                serde_json::json!({"new_pin": "123456"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "pin_from_page");
    }

    /// The agent's PIN page answers the waiting request; only its own page may post to it, and
    /// only by the loopback name.
    #[tokio::test]
    async fn the_pin_page_answers_only_from_itself() {
        let prompt = Arc::new(PagePrompt::new(Duration::from_secs(10)));
        let dir = tempfile::tempdir().unwrap();
        let router = agent_router(AgentConfig {
            site_url: SITE.into(),
            keys_dir: dir.path().to_path_buf(),
            pkcs11_modules: Vec::new(),
            prompt: prompt.clone(),
            page_prompt: Some(prompt.clone()),
        });
        let asking = prompt.clone();
        let waiting = std::thread::spawn(move || asking.pin_for("SW01", "证书登录"));
        let mut pending = serde_json::Value::Null;
        for _ in 0..100 {
            let request = axum::http::Request::get("/pin/pending")
                .header(header::HOST, "127.0.0.1:24680")
                .body(Body::empty())
                .unwrap();
            pending = send(&router, request).await.2;
            if !pending.is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(pending["serial"], "SW01");
        let answer = |host: &str, origin: &str| {
            axum::http::Request::post("/pin/answer")
                .header(header::HOST, host)
                .header(header::ORIGIN, origin)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"id": pending["id"], "pin": "000000"}).to_string(),
                ))
                .unwrap()
        };
        // Another page (the site's, or anyone's) cannot type into it; nor a rebound name.
        for (host, origin) in [
            ("127.0.0.1:24680", SITE),
            ("127.0.0.1:24680", "https://evil.example"),
            ("evil.example:24680", "http://evil.example:24680"),
        ] {
            let (status, _, _) = send(&router, answer(host, origin)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{host} {origin}");
        }
        let (status, _, _) =
            send(&router, answer("127.0.0.1:24680", "http://127.0.0.1:24680")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            waiting.join().unwrap().as_deref().map(String::as_str),
            Some("000000")
        );
    }

    /// The WebSocket answers only the site's pages too, and carries the same operations with
    /// the same refusals.
    #[tokio::test]
    async fn the_websocket_serves_the_site_with_the_same_rules() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
        let dir = tempfile::tempdir().unwrap();
        let ukey =
            SoftwareUKey::init(&dir.path().join("a.json"), "CA锁", PIN, "so-pin-0000").unwrap();
        ukey.generate_key_pair(PIN, "default", Algorithm::Sm2Sm3)
            .unwrap();
        let serial = ukey.serial().unwrap();
        let router = router_for(dir.path(), Holder::typing(&[PIN]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let request = |origin: &str| {
            let mut request = format!("ws://{address}/v1/ws")
                .into_client_request()
                .unwrap();
            request
                .headers_mut()
                .insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            request
        };
        // Another site's page cannot even open it.
        let refused = tokio_tungstenite::connect_async(request("https://evil.example")).await;
        assert!(refused.is_err(), "another site's page was let in");
        let (mut socket, _) = tokio_tungstenite::connect_async(request(SITE))
            .await
            .unwrap();
        let mut ask = async |message: serde_json::Value| {
            socket
                .send(Message::Text(message.to_string().into()))
                .await
                .unwrap();
            loop {
                if let Message::Text(text) = socket.next().await.unwrap().unwrap() {
                    return serde_json::from_str::<serde_json::Value>(text.as_str()).unwrap();
                }
            }
        };
        let keys = ask(serde_json::json!({"id": 1, "method": "keys"})).await;
        assert_eq!(keys["id"], 1);
        assert_eq!(keys["result"][0]["serial"], serial);
        let foreign = ask(serde_json::json!({"id": 2, "method": "sign-challenge",
            "params": {"serial": serial, "challenge": "certdesk:evil.example:login:abc"}}))
        .await;
        assert_eq!(foreign["error"]["code"], "foreign_challenge", "{foreign}");
        let with_pin = ask(serde_json::json!({"id": 3, "method": "sign-challenge",
            "params": {"serial": serial, "challenge": "certdesk:certdesk.example.com:login:abc", "pin": PIN}}))
        .await;
        assert_eq!(with_pin["error"]["code"], "pin_from_page", "{with_pin}");
        let signed = ask(serde_json::json!({"id": "4", "method": "sign-challenge",
            "params": {"serial": serial, "challenge": "certdesk:certdesk.example.com:login:abc"}}))
        .await;
        assert_eq!(signed["id"], "4");
        assert!(signed["result"]["signature"].is_string(), "{signed}");
        let unknown = ask(serde_json::json!({"id": 5, "method": "format-disk"})).await;
        assert_eq!(unknown["error"]["code"], "malformed");
    }
}
