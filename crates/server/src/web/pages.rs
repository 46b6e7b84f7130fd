//! Server-rendered pages in Chinese, shaped like the seeds' workbench: a left menu and a top bar.

use crate::web::auth::AccountView;
use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, Failure, FeatureError};
use crate::web::routes::Registry;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use certdesk_domain::Action;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/", ViewWorkbench, overview)
        .get("/invoices", ViewWorkbench, |u| {
            section(u, Section::Invoices)
        })
        .get("/static/app.css", StaticAsset, stylesheet)
        .get("/static/agent.js", StaticAsset, agent_script)
}

/// A signed-in user for a page; without one the browser is sent to the login page.
pub struct PageUser(pub CurrentUser);

impl<S: Send + Sync> FromRequestParts<S> for PageUser {
    type Rejection = Redirect;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        CurrentUser::from_request_parts(parts, state)
            .await
            .map(PageUser)
            .map_err(|_| Redirect::to("/login"))
    }
}

/// The platform's name in page titles, headers and SMS signatures, set once from the
/// configuration at start (`platform_name`); 「CA证书服务台」 until then.
static PLATFORM_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The name of this platform as users read it.
pub fn platform_name() -> &'static str {
    PLATFORM_NAME
        .get()
        .map(String::as_str)
        .unwrap_or(DEFAULT_PLATFORM_NAME)
}

/// Where pages reach the key holder's agent on their PC: set from the configuration at start.
static AGENT_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The agent's address as pages use it (`http://127.0.0.1:24680` unless configured).
pub fn agent_url() -> &'static str {
    AGENT_URL
        .get()
        .map(String::as_str)
        .unwrap_or("http://127.0.0.1:24680")
}

pub fn set_agent_url(url: &str) {
    let _ = AGENT_URL.set(url.to_string());
}

pub const DEFAULT_PLATFORM_NAME: &str = "CA证书服务台";

/// Sets the platform's name for this process (the first call wins: one name per process).
pub fn set_platform_name(name: &str) {
    let _ = PLATFORM_NAME.set(name.to_string());
}

/// What every workbench page shows around its content.
pub struct Chrome {
    pub account: AccountView,
    pub csrf: String,
    pub active: &'static str,
    /// Menu entries shown only to roles the permission table lets in.
    pub can_manage_accounts: bool,
    pub can_bind: bool,
    pub can_search_audit: bool,
    pub can_apply: bool,
    pub can_list_orders: bool,
    pub can_list_certificates: bool,
    /// 初审 is the platform operator's, 复审 the CA officer's.
    pub reviews_initial: bool,
    pub reviews_second: bool,
    pub can_confirm_transfers: bool,
    pub can_manage_products: bool,
    pub can_review_claims: bool,
    pub can_request_unlock: bool,
    /// The CA's 制证 station.
    pub can_produce: bool,
    /// The outbox's dead letters.
    pub can_manage_outbox: bool,
}

impl Chrome {
    pub(crate) fn new(user: &CurrentUser, active: &'static str) -> Self {
        let may = |action| certdesk_domain::permissions::reach(user.role(), action).is_some();
        Chrome {
            account: AccountView::from(user.account()),
            csrf: user.csrf_token().to_string(),
            active,
            can_manage_accounts: may(Action::ListAccounts),
            can_bind: may(Action::ListBindings),
            can_search_audit: may(Action::SearchAudit),
            can_apply: may(Action::ApplyForCertificate),
            can_list_orders: may(Action::ListOrders),
            can_list_certificates: may(Action::ListOrgCertificates),
            reviews_initial: user.role() == certdesk_domain::Role::PlatformOperator,
            reviews_second: user.role() == certdesk_domain::Role::CaOfficer,
            can_confirm_transfers: may(Action::ConfirmOfflinePayment),
            can_manage_products: may(Action::ManageProducts),
            can_review_claims: may(Action::ReviewOrganisationClaim),
            can_request_unlock: may(Action::RequestUnlock),
            can_produce: may(Action::ProduceKey),
            can_manage_outbox: may(Action::ManageOutbox),
        }
    }
}

/// A page form's fields, read only after the handler has checked who may post it (so another
/// organisation's object answers 404 whatever was sent). Missing or unreadable fields are
/// empty, and the handler says what is missing.
/// The CSRF token (checked by the web plumbing before any handler) is not one of the fields, so
/// a form may share the API's request type, unknown fields refused.
pub(crate) fn form_fields<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> T {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
        return T::default();
    };
    let fields: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(name, _)| name != crate::web::auth::CSRF_FIELD)
        .collect();
    serde_urlencoded::to_string(&fields)
        .ok()
        .and_then(|encoded| serde_urlencoded::from_str(&encoded).ok())
        .unwrap_or_default()
}

pub(crate) fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, [(CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "页面渲染失败，请稍后重试",
            )
                .into_response()
        }
    }
}

/// The pages' client of the key holder's agent (`certdesk agent`).
async fn agent_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../../web/static/agent.js"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
}

async fn overview(PageUser(user): PageUser) -> Response {
    render(
        &OverviewPage {
            chrome: Chrome::new(&user, "overview"),
        },
        StatusCode::OK,
    )
}

/// The workbench sections whose pages arrive with later features.
#[derive(Clone, Copy)]
enum Section {
    Invoices,
}

#[derive(Template)]
#[template(path = "section.html")]
struct SectionPage {
    chrome: Chrome,
    title: &'static str,
    summary: &'static str,
}

async fn section(PageUser(user): PageUser, which: Section) -> Response {
    let (active, title, summary) = match which {
        Section::Invoices => (
            "invoices",
            "发票",
            "支付完成后可申请电子增值税发票，并管理最多5个发票抬头。",
        ),
    };
    render(
        &SectionPage {
            chrome: Chrome::new(&user, active),
            title,
            summary,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage;

pub(crate) async fn not_found_page() -> Response {
    render(&NotFoundPage, StatusCode::NOT_FOUND)
}

async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../../web/static/app.css"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "forbidden.html")]
struct ForbiddenPage;

/// The page for a refusal by the permission table.
pub(crate) fn forbidden_page() -> String {
    ForbiddenPage
        .render()
        .unwrap_or_else(|_| "您没有权限访问此页面".to_string())
}

/// An error as a page shows it: a rule broken, a step that is not the user's or an order moved on
/// is told on the page it came from; not found gets the 404 page (and a page handler's refusal
/// the 403 page); a failure of ours a notice that names no detail. The one mapping of errors to
/// pages.
#[derive(Debug)]
pub(crate) struct PageFailure {
    pub failure: Failure,
    pub message: String,
}

impl<E: FeatureError> From<E> for PageFailure {
    fn from(err: E) -> Self {
        let failure = err.failure();
        if failure == Failure::Internal {
            // Logged with its details, as the API does.
            let generic = ApiError::internal(&err);
            return PageFailure {
                failure,
                message: generic.message,
            };
        }
        PageFailure {
            failure,
            message: err.to_string(),
        }
    }
}

/// For features whose services still answer [`ApiError`]: the kind its status stands for.
impl From<ApiError> for PageFailure {
    fn from(err: ApiError) -> Self {
        PageFailure {
            failure: Failure::of_status(err.status),
            message: err.message,
        }
    }
}

impl PageFailure {
    /// A failure of this kind, to ask where it is shown before the error is turned into one.
    pub fn from_kind(failure: Failure) -> PageFailure {
        PageFailure {
            failure,
            message: String::new(),
        }
    }

    /// Whether the page it came from should show it as a banner: what the user sent or may do
    /// there (a rule broken, a step not theirs, an order moved on). What is not there for them
    /// (not found) and failures of ours get a page of their own.
    pub fn belongs_on_the_page(&self) -> bool {
        matches!(
            self.failure,
            Failure::Malformed
                | Failure::Invalid
                | Failure::TooLarge
                | Failure::TooMany
                | Failure::Unauthenticated
                | Failure::Forbidden
                | Failure::Conflict
        )
    }

    /// A page of its own, for what cannot be shown where it came from.
    pub fn into_page(self) -> Response {
        match self.failure {
            Failure::NotFound => render(&NotFoundPage, StatusCode::NOT_FOUND),
            Failure::Forbidden => (StatusCode::FORBIDDEN, Html(forbidden_page())).into_response(),
            failure => render(
                &FailurePage {
                    message: self.message,
                },
                failure.status(),
            ),
        }
    }
}

/// A page handler's failure answers as a page, never as the API's JSON.
impl IntoResponse for PageFailure {
    fn into_response(self) -> Response {
        self.into_page()
    }
}

#[derive(Template)]
#[template(path = "failure.html")]
struct FailurePage {
    message: String,
}

/// An API error as the route answers: the error shape under `/api/`, else the Chinese error
/// page with its message (for the web plumbing that refuses before any handler, e.g. CSRF).
pub(crate) fn answer_for(path: &str, err: ApiError) -> Response {
    if crate::web::routes::is_api(path) {
        return err.into_response();
    }
    render(
        &FailurePage {
            message: err.message,
        },
        err.status,
    )
}

/// The ribbon every page carries while a sandbox stands in for a real service.
const DEMO_RIBBON: &str = "<div class=\"demo-ribbon\" role=\"note\" data-testid=\"demo-ribbon\">\
演示环境：支付与身份核验由沙箱模拟，不产生真实扣款或核验，请勿用于真实业务</div>";

/// Largest page the ribbon is put into (pages are far smaller; anything larger passes as is).
const RIBBON_PAGE_LIMIT: usize = 4 * 1024 * 1024;

/// Puts the 演示环境 ribbon at the top of every HTML page (used only in demo mode), so that no
/// page of a demonstration can be taken for the real service.
pub(crate) async fn demo_ribbon(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, RIBBON_PAGE_LIMIT).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "page too large").into_response();
    };
    let page = String::from_utf8_lossy(&bytes);
    let with_ribbon = match page
        .find("<body")
        .and_then(|at| page[at..].find('>').map(|end| at + end + 1))
    {
        Some(at) => format!("{}{DEMO_RIBBON}{}", &page[..at], &page[at..]),
        None => page.into_owned(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(with_ribbon))
}
