//! Certificates and accounts: one-time challenges, certificate login, binding and unbinding
//! (CA绑定与解绑), and the CA providers whose certificates are recognised.

mod error;
mod foreign_crls;

pub(crate) use error::BindingError;

use crate::accounts::LoginResponse;
use crate::web::auth::AccountView;
use crate::web::auth::{self, CurrentUser};
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Form, Path, Query};
use crate::web::json::ApiJson;
use crate::web::pages::PageFailure;
use crate::web::pages::{render, Chrome, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use base64::Engine;
use certdesk_ca::trust::{
    challenge_message, format_time, verify_challenge_signature, PresentedCertificate, Recognition,
};
use certdesk_ca::unix_seconds;
use certdesk_domain::{Action, Relation, Role};
use certdesk_store::AuditNote;
use certdesk_store::{Binding, BindingFilter, Challenge, NewBinding, StoreError};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;
use utoipa::ToSchema;

/// How long a key holder has to sign a challenge.
const CHALLENGE_SECONDS: i64 = 5 * 60;
const LOGIN: &str = "login";
const BIND: &str = "bind";

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .post(
            "/api/v1/session/challenge",
            RequestLoginChallenge,
            login_challenge_api,
        )
        .post(
            "/api/v1/session/certificate",
            LogInWithCertificate,
            certificate_login_api,
        )
        .get("/api/v1/ca-providers", ListCaProviders, providers_api)
        .post(
            "/api/v1/ca-providers/{provider_id}/cas",
            ImportProviderCa,
            import_ca_api,
        )
        .get("/api/v1/bindings", ListBindings, list_bindings_api)
        .post(
            "/api/v1/bindings/challenge",
            RequestBindingChallenge,
            binding_challenge_api,
        )
        .post("/api/v1/bindings", BindCertificate, bind_api)
        .delete(
            "/api/v1/bindings/{binding_id}",
            UnbindCertificate,
            unbind_api,
        )
        .get("/ca/bindings", ListBindings, bindings_page)
        .post("/ca/bindings", BindCertificate, bind_submit)
        .post(
            "/ca/bindings/{binding_id}/unbind",
            UnbindCertificate,
            unbind_submit,
        )
}

// --- challenges -------------------------------------------------------------------------------

#[derive(Serialize, ToSchema, Clone)]
pub struct ChallengeView {
    pub challenge_id: String,
    /// Sign exactly these UTF-8 bytes with the certificate's key (SM2 with SM3 and the ID
    /// 1234567812345678, or ECDSA P-256 with SHA-256); send the DER signature, base64.
    pub message: String,
    pub expires_at: i64,
}

/// A new challenge for `purpose`, held by `holder` (see [`login_holder`], [`binding_holder`]).
async fn new_challenge(
    state: &AppState,
    purpose: &str,
    account_id: Option<i64>,
    holder: &str,
) -> Result<ChallengeView, BindingError> {
    let now = state.now();
    let challenge = Challenge {
        id: auth::random_token(),
        purpose: purpose.to_string(),
        account_id,
        holder_hash: auth::token_hash(holder),
        created_at: now,
        expires_at: now + CHALLENGE_SECONDS,
    };
    state.store.create_challenge(&challenge).await?;
    Ok(ChallengeView {
        message: challenge_message(site(state), purpose, &challenge.id),
        challenge_id: challenge.id,
        expires_at: challenge.expires_at,
    })
}

/// The site a challenge names: the host (and port) of the public URL.
fn site(state: &AppState) -> &str {
    let url = state.config.public_url.as_str();
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// Who holds a certificate-login challenge: the browser, by its pre-login cookie (made for it
/// when it has none; the caller sets it). Answers the cookie's token and whether it is new.
fn login_holder(headers: &HeaderMap) -> (String, bool) {
    match auth::cookie(headers, auth::PRELOGIN_CSRF_COOKIE) {
        Some(token) if !token.is_empty() => (token.to_string(), false),
        _ => (auth::random_token(), true),
    }
}

/// Who holds a binding challenge: the session that asked (or, for an API token, the account).
fn binding_holder(user: &CurrentUser) -> String {
    match &user.session {
        Some(session) => format!("session:{}", session.token_hash),
        None => format!("account:{}", user.account().id),
    }
}

/// Uses up a challenge of `holder`, or says why it cannot be used.
async fn consume(
    state: &AppState,
    id: &str,
    purpose: &str,
    holder: &str,
) -> Result<Challenge, BindingError> {
    let holder_hash = auth::token_hash(holder);
    match state
        .store
        .consume_challenge(id, purpose, &holder_hash, state.now())
        .await?
    {
        Some(challenge) => Ok(challenge),
        // Used or expired; another holder's is as if it did not exist.
        None if state.store.challenge_held_by(id, &holder_hash).await? => {
            Err(BindingError::ChallengeUsed)
        }
        None => Err(BindingError::ChallengeInvalid),
    }
}

/// A certificate as PEM text or base64 DER.
fn certificate_bytes(text: &str) -> Vec<u8> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return text.as_bytes().to_vec();
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap_or_default()
}

fn signature_bytes(text: &str) -> Result<Vec<u8>, BindingError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| BindingError::SignatureNotBase64)
}

/// Checks a presented certificate (recognised CA, validity, revocation — for another
/// provider's certificate, by its CA's CRL) and that its key signed the challenge's message
/// for `purpose`.
async fn prove_key(
    state: &AppState,
    purpose: &str,
    challenge_id: &str,
    certificate: &str,
    signature: &str,
) -> Result<(PresentedCertificate, Recognition), BindingError> {
    let now = SystemTime::now();
    let (presented, recognition) = state
        .ca
        .check_presented_certificate(&certificate_bytes(certificate), now)
        .await?;
    let message = challenge_message(site(state), purpose, challenge_id);
    verify_challenge_signature(&presented, message.as_bytes(), &signature_bytes(signature)?)
        .map_err(BindingError::Certificate)?;
    // Only a key holder gets as far as making us fetch another CA's CRL.
    if let Some(foreign_ca) = &recognition.foreign_ca {
        crate::bindings::foreign_crls::check_not_revoked(
            state,
            &presented,
            foreign_ca,
            unix_seconds(now),
        )
        .await?;
    }
    Ok((presented, recognition))
}

// --- certificate login ------------------------------------------------------------------------

/// A one-time challenge for certificate login.
#[utoipa::path(post, path = "/api/v1/session/challenge", responses((status = 200, body = ChallengeView)))]
async fn login_challenge_api(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (holder, new_cookie) = login_holder(&headers);
    let challenge = Json(new_challenge(&state, LOGIN, None, &holder).await?);
    // The challenge belongs to this browser: it sends the cookie back with the signature.
    Ok(if new_cookie {
        (
            [(SET_COOKIE, auth::prelogin_csrf_cookie(&state, &holder))],
            challenge,
        )
            .into_response()
    } else {
        challenge.into_response()
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateLoginRequest {
    pub challenge_id: String,
    /// The certificate, PEM or base64 DER.
    pub certificate: String,
    /// The DER signature over the challenge message, base64.
    pub signature: String,
}

/// Log in with a bound certificate: the key signs a challenge.
#[utoipa::path(post, path = "/api/v1/session/certificate", request_body = CertificateLoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn certificate_login_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CertificateLoginRequest>,
) -> Result<Response, ApiError> {
    // Only the browser the challenge was made for may use it.
    let holder = auth::cookie(&headers, auth::PRELOGIN_CSRF_COOKIE)
        .filter(|token| !token.is_empty())
        .ok_or(BindingError::ChallengeInvalid)?;
    consume(&state, &req.challenge_id, LOGIN, holder).await?;
    let (presented, _) = prove_key(
        &state,
        LOGIN,
        &req.challenge_id,
        &req.certificate,
        &req.signature,
    )
    .await?;
    let binding = state
        .store
        .binding_by_fingerprint(&presented.fingerprint)
        .await?
        .ok_or(BindingError::CertificateUnbound)?;
    let account = state
        .store
        .account_by_id(binding.account_id)
        .await?
        .filter(|a| !a.disabled)
        .ok_or(BindingError::AccountDisabled)?;
    let object = format!("certificate:{}", presented.serial_hex);
    let detail = format!("CA锁ID {}", presented.key_id);
    let (token, session) = auth::start_session(
        &state,
        &account,
        &crate::web::audit_trail::note_by(&state, &account, &detail)
            .event(certdesk_domain::AuditAction::CertificateLogin, &object),
    )
    .await?;
    tracing::info!(account = account.id, "certificate login");
    Ok(crate::accounts::signed_in(
        &state, &account, &token, session,
    ))
}

// --- CA providers -----------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    pub id: i64,
    pub name: String,
    pub hotline: String,
    pub online_apply: bool,
    pub binding_needs_pin: bool,
    pub media: Vec<String>,
    pub operated_here: bool,
}

/// The CA providers (CA服务商) and their hotlines.
#[utoipa::path(get, path = "/api/v1/ca-providers", responses((status = 200, body = [ProviderView])))]
async fn providers_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ProviderView>>, ApiError> {
    require(&user, Action::ListCaProviders, Relation::Platform)?;
    Ok(Json(
        state
            .store
            .ca_providers()
            .await?
            .into_iter()
            .map(|p| ProviderView {
                id: p.id,
                name: p.name,
                hotline: p.hotline,
                online_apply: p.online_apply,
                binding_needs_pin: p.binding_needs_pin,
                media: p.media,
                operated_here: p.operated_here,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCaRequest {
    /// The provider's CA certificate, PEM or base64 DER.
    pub certificate: String,
}

/// Recognise a provider's CA certificate (CA mutual recognition).
#[utoipa::path(post, path = "/api/v1/ca-providers/{provider_id}/cas", params(("provider_id" = i64, Path)), request_body = ImportCaRequest,
    responses((status = 201), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_ca_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(provider_id): Path<i64>,
    ApiJson(req): ApiJson<ImportCaRequest>,
) -> Result<StatusCode, ApiError> {
    require(&user, Action::ImportProviderCa, Relation::Platform)?;
    let provider = state
        .store
        .ca_providers()
        .await?
        .into_iter()
        .find(|p| p.id == provider_id)
        .ok_or(BindingError::NotFound)?;
    certdesk_ca::import_provider_ca(
        &state.store,
        provider.id,
        &certificate_bytes(&req.certificate),
        state.now(),
        &crate::web::audit_trail::note_by(&state, user.account(), ""),
    )
    .await
    .map_err(|e| match e {
        certdesk_ca::CaError::Store(StoreError::Conflict(_)) => BindingError::CaAlreadyImported,
        e if e.is_input_error() => BindingError::NotACaCertificate(e),
        e => BindingError::Ca(e),
    })?;
    Ok(StatusCode::CREATED)
}

// --- bindings ---------------------------------------------------------------------------------

#[derive(Serialize, ToSchema, Clone)]
pub struct BindingView {
    pub id: i64,
    pub account_id: i64,
    pub account_username: String,
    pub account_name: String,
    pub provider: String,
    /// CA锁ID
    pub key_id: String,
    pub serial: String,
    pub subject_name: String,
    /// 到期时间, Beijing time
    pub expires_at: String,
    pub bound_by: String,
    pub bound_at: String,
}

impl From<&Binding> for BindingView {
    fn from(b: &Binding) -> Self {
        BindingView {
            id: b.id,
            account_id: b.account_id,
            account_username: b.account_username.clone(),
            account_name: b.account_name.clone(),
            provider: b.provider_name.clone(),
            key_id: b.key_id.clone(),
            serial: b.serial_hex.clone(),
            subject_name: b.subject_name.clone(),
            expires_at: format_time(b.not_after),
            bound_by: b.bound_by_name.clone(),
            bound_at: format_time(b.bound_at),
        }
    }
}

#[derive(Deserialize, Default)]
struct BindingQuery {
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// An admin sees its organisation's bindings, an employee its own.
async fn list_bindings(
    state: &AppState,
    user: &CurrentUser,
    query: &BindingQuery,
) -> Result<Vec<BindingView>, BindingError> {
    let own_org = relation_to(user, None, user.account().org_id);
    let whole_org = certdesk_domain::permits(user.role(), Action::ListBindings, own_org)
        && user.account().org_id.is_some();
    if !whole_org {
        require(user, Action::ListBindings, Relation::OwnAccount)?;
    }
    let filter = BindingFilter {
        org_id: user.account().org_id,
        account_id: (!whole_org).then_some(user.account().id),
        username_contains: query
            .account
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
        name_contains: query
            .name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    };
    Ok(state
        .store
        .bindings(&filter)
        .await?
        .iter()
        .map(BindingView::from)
        .collect())
}

/// Certificates bound to accounts of the caller's organisation (an employee: its own).
#[utoipa::path(get, path = "/api/v1/bindings", params(("account" = Option<String>, Query, description = "账户（用户名）包含"), ("name" = Option<String>, Query, description = "姓名包含")),
    responses((status = 200, body = [BindingView])))]
async fn list_bindings_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<BindingQuery>,
) -> Result<Json<Vec<BindingView>>, ApiError> {
    Ok(Json(list_bindings(&state, &user, &query).await?))
}

/// A one-time challenge for binding; only the caller can use it.
#[utoipa::path(post, path = "/api/v1/bindings/challenge", responses((status = 200, body = ChallengeView)))]
async fn binding_challenge_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<ChallengeView>, ApiError> {
    require(&user, Action::RequestBindingChallenge, Relation::OwnAccount)?;
    Ok(Json(
        new_challenge(
            &state,
            BIND,
            Some(user.account().id),
            &binding_holder(&user),
        )
        .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// The account to bind to: the caller itself, or (an organisation admin) any account of
    /// its organisation.
    pub account_id: i64,
    pub challenge_id: String,
    /// The certificate, PEM or base64 DER.
    pub certificate: String,
    /// The DER signature over the challenge message, base64.
    pub signature: String,
}

async fn bind(
    state: &AppState,
    user: &CurrentUser,
    req: BindRequest,
) -> Result<BindingView, BindingError> {
    let target = state
        .store
        .account_by_id(req.account_id)
        .await?
        .ok_or(BindingError::NotFound)?;
    require(
        user,
        Action::BindCertificate,
        relation_to(user, Some(target.id), target.org_id),
    )?;
    let org_id = target.org_id.ok_or(BindingError::NotFound)?;
    let organisation = state
        .store
        .organisation_by_id(org_id)
        .await?
        .ok_or(BindingError::NotFound)?;
    let challenge = consume(state, &req.challenge_id, BIND, &binding_holder(user)).await?;
    if challenge.account_id != Some(user.account().id) {
        return Err(BindingError::ChallengeOfAnotherAccount);
    }
    let (presented, recognition) = prove_key(
        state,
        BIND,
        &req.challenge_id,
        &req.certificate,
        &req.signature,
    )
    .await?;
    if presented
        .subject_serial
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
        != Some(organisation.credit_code.as_str())
    {
        return Err(BindingError::NotOfOrganisation);
    }
    if let Some(existing) = state
        .store
        .binding_by_fingerprint(&presented.fingerprint)
        .await?
    {
        let whom = if existing.org_id == org_id {
            format!("账号 {}", existing.account_username)
        } else {
            "其他单位的账号".to_string()
        };
        return Err(BindingError::AlreadyBound { whom });
    }
    let binding = state
        .store
        .create_binding(
            &NewBinding {
                account_id: target.id,
                org_id,
                provider_id: recognition.provider_id,
                fingerprint: &presented.fingerprint,
                serial_hex: &presented.serial_hex,
                key_id: &presented.key_id,
                subject_name: &presented.subject_name,
                not_after: presented.not_after,
                certificate_der: &presented.der,
                bound_by: user.account().id,
                bound_at: state.now(),
            },
            &AuditNote {
                at: state.now(),
                actor_account_id: Some(user.account().id),
                actor_label: &user.account().username,
                org_id: Some(org_id),
                detail: &format!(
                    "account={} serial={} key_id={}",
                    target.id, presented.serial_hex, presented.key_id
                ),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => BindingError::AlreadyBound {
                whom: "其他账号".to_string(),
            },
            other => BindingError::Store(other),
        })?;
    Ok(BindingView::from(&binding))
}

async fn unbind(state: &AppState, user: &CurrentUser, binding_id: i64) -> Result<(), BindingError> {
    let binding = state
        .store
        .binding_by_id(binding_id)
        .await?
        .ok_or(BindingError::NotFound)?;
    require(
        user,
        Action::UnbindCertificate,
        relation_to(user, Some(binding.account_id), Some(binding.org_id)),
    )?;
    state
        .store
        .delete_binding(
            binding_id,
            &AuditNote {
                at: state.now(),
                actor_account_id: Some(user.account().id),
                actor_label: &user.account().username,
                org_id: Some(binding.org_id),
                detail: &format!(
                    "account={} serial={}",
                    binding.account_id, binding.serial_hex
                ),
            },
        )
        .await?;
    Ok(())
}

/// Bind a certificate to an account; the key proves itself by signing a challenge.
#[utoipa::path(post, path = "/api/v1/bindings", request_body = BindRequest,
    responses((status = 201, body = BindingView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn bind_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<BindRequest>,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(bind(&state, &user, req).await?)).into_response())
}

/// Unbind a certificate; it may then bind another account.
#[utoipa::path(delete, path = "/api/v1/bindings/{binding_id}", params(("binding_id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn unbind_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(binding_id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    unbind(&state, &user, binding_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- pages ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "bindings.html")]
struct BindingsPage {
    chrome: Chrome,
    bindings: Vec<BindingView>,
    account_filter: String,
    name_filter: String,
    /// Accounts an admin may bind for (empty for employees: they bind for themselves).
    other_accounts: Vec<AccountView>,
    challenge: ChallengeView,
    providers: Vec<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

async fn bindings_view(
    state: &AppState,
    user: CurrentUser,
    query: BindingQuery,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let result = async {
        let bindings = list_bindings(state, &user, &query).await?;
        let other_accounts = if user.role() == Role::OrgAdmin {
            state
                .store
                .accounts_of(user.account().org_id)
                .await?
                .iter()
                .filter(|a| a.id != user.account().id)
                .map(AccountView::from)
                .collect()
        } else {
            Vec::new()
        };
        let challenge =
            new_challenge(state, BIND, Some(user.account().id), &binding_holder(&user)).await?;
        let providers = state
            .store
            .ca_providers()
            .await?
            .into_iter()
            .map(|p| (p.name, p.hotline))
            .collect();
        Ok::<_, ApiError>(BindingsPage {
            chrome: Chrome::new(&user, "ca_bindings"),
            bindings,
            account_filter: query.account.unwrap_or_default(),
            name_filter: query.name.unwrap_or_default(),
            other_accounts,
            challenge,
            providers,
            error,
            notice,
        })
    }
    .await;
    match result {
        Ok(page) => render(&page, status),
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

async fn bindings_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<BindingQuery>,
) -> Response {
    bindings_view(&state, user, query, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct BindForm {
    /// Empty: the current account.
    #[serde(default)]
    account_id: String,
    challenge_id: String,
    certificate: String,
    signature: String,
}

async fn bind_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Form(form): Form<BindForm>,
) -> Response {
    let account_id = match form.account_id.trim() {
        "" => user.account().id,
        text => match text.parse() {
            Ok(id) => id,
            Err(_) => {
                return bindings_view(
                    &state,
                    user,
                    BindingQuery::default(),
                    Some("请选择要绑定的账号".into()),
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        },
    };
    let req = BindRequest {
        account_id,
        challenge_id: form.challenge_id,
        certificate: form.certificate,
        signature: form.signature,
    };
    match bind(&state, &user, req).await {
        Ok(binding) => {
            let notice = format!(
                "已将证书（CA锁ID {}）绑定到账号 {}（{}）",
                binding.key_id, binding.account_username, binding.account_name
            );
            bindings_view(
                &state,
                user,
                BindingQuery::default(),
                None,
                Some(notice),
                StatusCode::OK,
            )
            .await
        }
        Err(err) => bindings_refused(&state, user, err).await,
    }
}

/// The bindings page again with why a form was refused, or a page of its own for what does not
/// belong there.
async fn bindings_refused(state: &AppState, user: CurrentUser, err: BindingError) -> Response {
    let failure = PageFailure::from(err);
    if !failure.belongs_on_the_page() {
        return failure.into_page();
    }
    let status = failure.failure.status();
    bindings_view(
        state,
        user,
        BindingQuery::default(),
        Some(failure.message),
        None,
        status,
    )
    .await
}

async fn unbind_submit(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(binding_id): Path<i64>,
) -> Response {
    match unbind(&state, &user, binding_id).await {
        Ok(()) => Redirect::to("/ca/bindings").into_response(),
        Err(err) => bindings_refused(&state, user, err).await,
    }
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(
        login_challenge_api,
        certificate_login_api,
        providers_api,
        import_ca_api,
        list_bindings_api,
        binding_challenge_api,
        bind_api,
        unbind_api
    ))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
