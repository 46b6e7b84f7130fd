//! certdesk's web side: the JSON API under `/api/v1/`, the server-rendered pages (zh-CN) and
//! `/healthz`. The router is built by [`router`]; `certdesk serve` binds and runs it.

// Shared plumbing first, then the order pipeline every order feature moves orders through, then
// one folder per feature (its routes, service and pages). A feature uses another only through
// what that feature's mod.rs exports; tests/architecture.rs checks the layering.
pub mod pipeline;
pub mod web;

mod accounts;
mod applications;
mod audit;
mod bindings;
pub mod changes;
mod claims;
mod delivery;
pub mod identity;
pub mod issuance;
pub mod messages;
mod orders;
pub mod outbox;
pub mod payments;
mod pki;
mod production;
pub mod products;
pub mod renewals;
pub mod replacements;
mod reviews;
pub mod revocations;
mod unlocks;

pub use applications::{terms_setting_name, TERMS};
use axum::http::HeaderValue;
use axum::http::{HeaderName, Request};
use axum::Router;
use certdesk_ca::CaService;
use certdesk_domain::Role;
use certdesk_store::{BlobStore, NewAccount, Store};
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
pub use web::pages::{set_agent_url, set_platform_name, DEFAULT_PLATFORM_NAME};
pub use web::{auth, error, routes};

/// What the web side needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address users and relying parties reach this server at, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    pub session_ttl_seconds: i64,
    /// Mark cookies `Secure`; on when the public URL is https.
    pub secure_cookies: bool,
    /// The secret the sandbox payment gateway signs its notifications with.
    pub sandbox_payment_secret: Vec<u8>,
    /// Seals the saved application forms and keys the identity-subject hashes.
    pub personal_data: Arc<certdesk_pki::PersonalDataKey>,
    /// Who is paid (收款单位), and the account offline bank transfers go to.
    pub payee: Payee,
    /// Where the sandbox gateway sends its notifications (plain http), when not the public URL:
    /// `certdesk serve` sets its own listening address.
    pub sandbox_notify_base: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`auth::ClientAddr`); none by default.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The built-in sandbox payment gateway is in use (its payer pages and notify route exist);
    /// without it the cashier offers offline transfer only. On by default (the demo).
    pub sandbox_payments: bool,
    /// The built-in sandbox identity provider is in use (and its outbox route); without it no
    /// identity provider is configured. On by default (the demo).
    pub sandbox_identity: bool,
}

/// The payee the cashier shows, with its bank account for offline transfers (对公转账).
#[derive(Debug, Clone)]
pub struct Payee {
    /// 收款单位
    pub name: String,
    /// 开户银行
    pub bank: String,
    /// 银行账号
    pub account_no: String,
}

impl Default for Payee {
    /// The platform, with a sample account: a deployment sets its own.
    fn default() -> Self {
        Payee {
            name: "certdesk CA证书服务平台".into(),
            bank: "示例银行福州分行（演示账户，请勿转账）".into(),
            account_no: "6222 0000 0000 0000 000".into(),
        }
    }
}

impl ServerConfig {
    pub fn new(public_url: String, session_ttl_seconds: i64) -> Self {
        let secure_cookies = public_url.starts_with("https://");
        ServerConfig {
            public_url,
            session_ttl_seconds,
            secure_cookies,
            // Random per process unless the deployment sets one it shares with the gateway.
            sandbox_payment_secret: auth::random_token().into_bytes(),
            // Random per process unless the deployment keeps one (`certdesk serve` does): data
            // sealed under it could not be read after a restart.
            personal_data: Arc::new(certdesk_pki::PersonalDataKey::generate()),
            payee: Payee::default(),
            sandbox_notify_base: None,
            trusted_proxies: Vec::new(),
            sandbox_payments: true,
            sandbox_identity: true,
        }
    }

    /// Which sandboxes are in use.
    pub fn with_sandboxes(mut self, payments: bool, identity: bool) -> Self {
        self.sandbox_payments = payments;
        self.sandbox_identity = identity;
        self
    }

    /// A demonstration: some sandbox stands in for a real service (every page says so).
    pub fn is_demo(&self) -> bool {
        self.sandbox_payments || self.sandbox_identity
    }

    pub fn with_trusted_proxies(mut self, proxies: Vec<ipnet::IpNet>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    pub fn with_sandbox_notify_base(mut self, base: String) -> Self {
        self.sandbox_notify_base = Some(base);
        self
    }

    pub fn with_payee(mut self, payee: Payee) -> Self {
        self.payee = payee;
        self
    }

    /// The data key that seals personal data at rest (kept in the secrets, like the others).
    pub fn with_personal_data_key(mut self, key: certdesk_pki::PersonalDataKey) -> Self {
        self.personal_data = Arc::new(key);
        self
    }

    pub fn with_sandbox_payment_secret(mut self, secret: Vec<u8>) -> Self {
        self.sandbox_payment_secret = secret;
        self
    }
}

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The CA side, behind its boundary: the web layer asks it to check, sign and publish; it
    /// holds the keys and never hands one out.
    pub ca: Arc<dyn CaService>,
    pub config: Arc<ServerConfig>,
    /// Uploaded files (bank-transfer receipts), checked before they are stored.
    pub blobs: BlobStore,
    /// The payment gateway in use: the built-in sandbox when configured, another plugged in
    /// with [`AppState::with_gateway`], or none (offline transfers only).
    pub gateway: Option<Arc<dyn payments::PaymentGateway>>,
    /// Who checks identities (face, mobile real name, SMS, micro-deposit, bank card): the
    /// built-in sandbox unless a real provider is plugged in with
    /// [`AppState::with_identity_provider`].
    pub identity: Arc<dyn identity::IdentityProvider>,
    /// A settable clock for tests and demos; `None` reads the system clock.
    clock: Option<Arc<std::sync::atomic::AtomicI64>>,
}

impl AppState {
    /// The state with the sandbox payment gateway, which signs with the configured secret and
    /// notifies this server at its public URL.
    pub fn new(
        store: Store,
        ca: Arc<dyn CaService>,
        config: ServerConfig,
        blobs: BlobStore,
    ) -> Self {
        let gateway: Option<Arc<dyn payments::PaymentGateway>> =
            config.sandbox_payments.then(|| {
                Arc::new(payments::SandboxGateway::from_config(
                    store.clone(),
                    &config,
                )) as Arc<dyn payments::PaymentGateway>
            });
        let identity: Arc<dyn identity::IdentityProvider> = if config.sandbox_identity {
            Arc::new(identity::SandboxIdentityProvider::default())
        } else {
            Arc::new(identity::NoIdentityProvider)
        };
        AppState {
            store,
            ca,
            config: Arc::new(config),
            blobs,
            gateway,
            identity,
            clock: None,
        }
    }

    /// Plugs in a payment gateway other than the sandbox.
    pub fn with_gateway(mut self, gateway: Arc<dyn payments::PaymentGateway>) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// Plugs in the identity provider (a real one instead of the sandbox).
    pub fn with_identity_provider(mut self, provider: Arc<dyn identity::IdentityProvider>) -> Self {
        self.identity = provider;
        self
    }

    /// Reads time from `clock` (Unix seconds) instead of the system clock: for tests and demos
    /// that need codes to expire or days to pass.
    pub fn with_clock(mut self, clock: Arc<std::sync::atomic::AtomicI64>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Now, as Unix seconds.
    pub fn now(&self) -> i64 {
        match &self.clock {
            Some(clock) => clock.load(std::sync::atomic::Ordering::SeqCst),
            None => jiff::Timestamp::now().as_second(),
        }
    }
}

/// The body limit of upload routes: uploads may be 5 MB, and the limit leaves room for the
/// upload checks to answer a slightly larger file with their own message.
pub(crate) const UPLOAD_BODY_LIMIT: usize = 6 * 1024 * 1024;

/// The most an upload page reads before it answers: a file over the 5 MB limit is read to its
/// end and refused with the form shown again (a browser cut off mid-send shows only
/// "connection reset"); beyond this the connection is closed.
pub(crate) const UPLOAD_PAGE_BODY_LIMIT: usize = 32 * 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the application with its action: the pages, the API, health, and the public
/// PKI endpoints. The authorization test walks this list.
pub fn route_table() -> Vec<routes::RouteSpec> {
    let (_, mut specs) = app_routes(&ServerConfig::new(String::new(), 0)).into_parts();
    specs.extend(pki::register(routes::Registry::new()).into_parts().1);
    specs
}

/// The routes of a configuration: the sandboxes' only when they are in use.
fn app_routes(config: &ServerConfig) -> routes::Registry {
    let registry =
        routes::Registry::new().get("/healthz", certdesk_domain::Action::Health, healthz);
    let registry = web::pages::register(registry);
    let registry = accounts::register(registry);
    let registry = claims::register(registry);
    let registry = messages::register(registry);
    let registry = unlocks::register(registry);
    let registry = production::register(registry);
    let registry = outbox::register(registry);
    let registry = revocations::register(registry);
    let registry = renewals::register(registry);
    let registry = replacements::register(registry);
    let registry = changes::register(registry);
    let registry = bindings::register(registry);
    let registry = audit::register(registry);
    let registry = payments::register(registry, config.sandbox_payments);
    let registry = orders::register(registry);
    let registry = reviews::register(registry);
    let registry = applications::register(registry);
    let registry = issuance::register(registry);
    let registry = delivery::register(registry);
    let registry = products::register(registry);
    let registry = identity::register(registry, config.sandbox_identity);
    registry.get(
        "/api/v1/openapi.json",
        certdesk_domain::Action::ReadApiDescription,
        openapi,
    )
}

/// The API's description: each feature contributes its own paths and schemas.
pub struct ApiDoc;

impl ApiDoc {
    pub fn openapi() -> utoipa::openapi::OpenApi {
        use utoipa::OpenApi;
        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "certdesk API",
                description = "CA证书自助服务台接口。所有错误的形状为 {\"error\":{\"code\":…,\"message\":…}}。"
            ),
            components(schemas(web::error::ErrorBody))
        )]
        struct Base;
        let mut doc = Base::openapi();
        for fragment in [
            accounts::openapi(),
            bindings::openapi(),
            audit::openapi(),
            payments::openapi(),
            orders::openapi(),
            reviews::openapi(),
            applications::openapi(),
            issuance::openapi(),
            delivery::openapi(),
            products::openapi(),
            identity::openapi(),
            claims::openapi(),
            messages::openapi(),
            unlocks::openapi(),
            production::openapi(),
            outbox::openapi(),
            revocations::openapi(),
            renewals::openapi(),
            replacements::openapi(),
            changes::openapi(),
        ] {
            doc.merge(fragment);
        }
        doc
    }
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The whole application: pages, API, health, with request ids, request logs and CSRF checks.
pub fn router(state: AppState) -> Router {
    let (app, _) = app_routes(&state.config).into_parts();
    let (pki, _) = pki::register(routes::Registry::new()).into_parts();
    let demo = state.config.is_demo();
    let app = app
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::session_and_csrf,
        ))
        // Public PKI endpoints: outside the session layer, so that OCSP pays no session lookup.
        .merge(pki)
        .with_state(state)
        // Outermost: every log line of a request, and its response, carry the request id.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path())
                })
                // One line per answered request; the path is in the span, the query string never is.
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Every answer: uploaded documents are never sniffed into something else, pages are not
        // framed by other sites (review and payment buttons), and no URL of ours (an upload
        // form's action carries its CSRF token) leaves in a Referer to another site.
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    // A demonstration says so on every page, the 404 page included.
    if demo {
        app.layer(axum::middleware::from_fn(web::pages::demo_ribbon))
    } else {
        app
    }
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if routes::is_api(uri.path()) {
        error::ApiError::not_found().into_response()
    } else {
        web::pages::not_found_page().await
    }
}

async fn method_not_allowed(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if routes::is_api(uri.path()) {
        error::ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "该接口不支持此请求方法",
        )
        .into_response()
    } else {
        (
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "不支持此请求方法",
        )
            .into_response()
    }
}

/// 200 when the database answers a query, 503 when it does not.
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (axum::http::StatusCode::OK, "ok\n"),
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unreachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable\n",
            )
        }
    }
}

/// The system admin made on first start.
pub struct BootstrappedAdmin {
    pub username: String,
    /// The generated one-time password; `None` when it came from the environment.
    pub generated_password: Option<String>,
}

pub const BOOTSTRAP_ADMIN_USERNAME: &str = "admin";

/// Set while the system admin's generated one-time password has not been changed: the login
/// page then says where it was printed.
pub(crate) const ONE_TIME_PASSWORD_SETTING: &str = "admin_one_time_password_pending";

/// Creates the first system admin when there is none. The password is `preset` (from
/// `CERTDESK_ADMIN_PASSWORD`) or a new random one that the caller prints once.
pub async fn bootstrap_admin(
    store: &Store,
    preset: Option<String>,
) -> Result<Option<BootstrappedAdmin>, error::ApiError> {
    if store.count_accounts_with_role(Role::SystemAdmin).await? > 0 {
        return Ok(None);
    }
    let generated = preset.is_none();
    let password = preset.unwrap_or_else(|| auth::random_token()[..20].to_string());
    let hash = auth::hash_password(password.clone()).await?;
    let admin = store
        .create_account(
            &NewAccount {
                username: BOOTSTRAP_ADMIN_USERNAME,
                display_name: "系统管理员",
                role: Role::SystemAdmin,
                org_id: None,
                password_hash: &hash,
                created_at: jiff::Timestamp::now().as_second(),
            },
            &certdesk_store::AuditNote::system(
                jiff::Timestamp::now().as_second(),
                "role=system_admin (first start)",
            ),
        )
        .await?;
    if generated {
        store
            .set_setting(ONE_TIME_PASSWORD_SETTING, &admin.id.to_string())
            .await?;
    }
    Ok(Some(BootstrappedAdmin {
        username: BOOTSTRAP_ADMIN_USERNAME.to_string(),
        generated_password: generated.then_some(password),
    }))
}

/// Unix seconds as Beijing time, the way users read dates.
pub(crate) fn format_beijing(unix: i64) -> String {
    certdesk_ca::trust::format_time(unix)
}

/// Unix seconds as a Beijing civil date and time (for deadlines in working days).
pub(crate) fn beijing(unix: i64) -> jiff::civil::DateTime {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .datetime()
}
