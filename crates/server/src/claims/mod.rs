//! 单位认领: taking back a credit code that someone else registered.
//!
//! The claimant files, without an account, the organisation's business licence and a claim
//! letter under its seal, with the admin account they want; they get a claim number and a
//! query code (shown once) to follow it. A platform operator compares the documents with the
//! registration and decides: approval hands the organisation to the claimant (see
//! `Store::approve_organisation_claim`), rejection tells the claimant why.

mod error;

pub(crate) use error::ClaimError;

use crate::web::auth::{self, ClientAddr, CurrentUser};
use crate::web::authz::require;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Form, Path};
use crate::web::flash::Slot;
use crate::web::pages::{render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::web::upload::{read_page_upload, SentForm};
use crate::AppState;
use askama::Template;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use certdesk_domain::claim::{claim_number, ClaimDecidedAlready, ClaimDecision};
use certdesk_domain::{Action, AuditAction, Relation};
use certdesk_store::{NewOrganisationClaim, OrganisationClaim, StoreError, UploadError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/claim", ClaimOrganisation, claim_form_page)
        .post(
            "/claim",
            ClaimOrganisation,
            Handler::layer(
                claim_submit,
                DefaultBodyLimit::max(crate::UPLOAD_PAGE_BODY_LIMIT),
            ),
        )
        .get("/claim/status", ClaimOrganisation, status_form_page)
        .post("/claim/status", ClaimOrganisation, status_submit)
        .get("/admin/claims", ReviewOrganisationClaim, claims_page)
        .get(
            "/admin/claims/{claim_id}",
            ReviewOrganisationClaim,
            claim_page,
        )
        .get(
            "/admin/claims/{claim_id}/documents/{kind}",
            ReviewOrganisationClaim,
            claim_document,
        )
        .post(
            "/admin/claims/{claim_id}/decision",
            ReviewOrganisationClaim,
            decision_page,
        )
        .get(
            "/api/v1/organisation-claims",
            ReviewOrganisationClaim,
            claims_api,
        )
        .post(
            "/api/v1/organisation-claims/{claim_id}/decision",
            ReviewOrganisationClaim,
            decision_api,
        )
}

/// The two documents of a claim: the form field, the URL segment and the name people read.
const LICENCE: (&str, &str, &str) = ("licence", "business_licence", "营业执照");
const LETTER: (&str, &str, &str) = ("letter", "claim_letter", "单位认领函（加盖公章）");

/// Claims an operator lists at once.
const CLAIMS_LISTED: i64 = 200;

// --- filing ---------------------------------------------------------------------------------

/// What a claimant sends, as typed.
#[derive(Default, Clone)]
struct ClaimForm {
    credit_code: String,
    organisation_name: String,
    claimant_name: String,
    claimant_mobile: String,
    statement: String,
    admin_username: String,
    password: String,
    password_again: String,
}

impl ClaimForm {
    fn from_sent(sent: &SentForm) -> Self {
        ClaimForm {
            credit_code: sent.field("credit_code").to_string(),
            organisation_name: sent.field("organisation_name").to_string(),
            claimant_name: sent.field("claimant_name").to_string(),
            claimant_mobile: sent.field("claimant_mobile").to_string(),
            statement: sent.field("statement").to_string(),
            admin_username: sent.field("admin_username").to_string(),
            password: sent.field("password").to_string(),
            password_again: sent.field("password_again").to_string(),
        }
    }
}

/// A filed claim and the query code its claimant follows it with (shown once, kept hashed).
struct Filed {
    claim: OrganisationClaim,
    query_code: String,
}

/// Checks a claim, keeps its two documents and files it, all or nothing: a refused claim
/// leaves no file behind and no row.
async fn file_claim(
    state: &AppState,
    form: &ClaimForm,
    mut sent: SentForm,
    client: &str,
) -> Result<Filed, ClaimError> {
    let credit_code = certdesk_domain::validate_credit_code(&form.credit_code)
        .map_err(|e| ClaimError::InvalidCreditCode(e.to_string()))?;
    let organisation = state
        .store
        .organisation_by_credit_code(&credit_code)
        .await?
        .ok_or(ClaimError::NotRegistered)?;
    let organisation_name = form.organisation_name.trim();
    certdesk_domain::limits::check_subject_name(organisation_name)
        .map_err(ClaimError::InvalidOrganisationName)?;
    let claimant_name = form.claimant_name.trim();
    if claimant_name.is_empty() || claimant_name.chars().count() > 50 {
        return Err(ClaimError::InvalidClaimantName);
    }
    let mobile = certdesk_domain::application::validate_mobile(&form.claimant_mobile)
        .map_err(ClaimError::InvalidMobile)?;
    let statement = certdesk_domain::claim::check_statement(&form.statement)
        .map_err(ClaimError::InvalidStatement)?;
    let (username, _) =
        crate::accounts::check_new_account(&form.admin_username, claimant_name, &form.password)
            .map_err(ClaimError::Account)?;
    if form.password != form.password_again {
        return Err(ClaimError::PasswordsDiffer);
    }
    let mut files = Vec::new();
    for (field, _, which) in [LICENCE, LETTER] {
        let file = sent
            .take_file(&[field])
            .map_err(|reason| ClaimError::Document { which, reason })?;
        files.push((which, file));
    }
    // Counted with registrations, before the password is hashed and the files are checked.
    let now = state.now();
    if let certdesk_store::Slot::Full { until } = state
        .store
        .take_rate_slot(
            &format!("register:client:{client}"),
            certdesk_store::RateLimit {
                max: crate::accounts::REGISTRATIONS_PER_CLIENT,
                window_secs: crate::accounts::REGISTRATION_WINDOW_SECS,
            },
            now,
        )
        .await?
    {
        return Err(ClaimError::TooMany {
            minutes: ((until - now).max(1) + 59) / 60,
        });
    }
    let mut kept = Vec::new();
    for (which, file) in files {
        match crate::web::upload::keep_image(state, &file.name, file.bytes).await {
            Ok(stored) => kept.push(stored.id.as_str().to_string()),
            Err(err) => {
                forget_all(state, &kept).await;
                return Err(match err {
                    UploadError::Refused(refusal) => ClaimError::Document {
                        which,
                        reason: refusal.to_string(),
                    },
                    UploadError::Store(err) => ClaimError::Store(err),
                });
            }
        }
    }
    let filed = seal_and_file(
        state,
        &organisation,
        FiledFacts {
            organisation_name,
            claimant_name,
            mobile: &mobile,
            statement,
            username: &username,
            password: &form.password,
            blobs: &kept,
        },
    )
    .await;
    if filed.is_err() {
        forget_all(state, &kept).await;
    }
    filed
}

struct FiledFacts<'a> {
    organisation_name: &'a str,
    claimant_name: &'a str,
    mobile: &'a str,
    statement: &'a str,
    username: &'a str,
    password: &'a str,
    blobs: &'a [String],
}

async fn seal_and_file(
    state: &AppState,
    organisation: &certdesk_store::Organisation,
    facts: FiledFacts<'_>,
) -> Result<Filed, ClaimError> {
    let [licence_blob, letter_blob] = facts.blobs else {
        return Err(ClaimError::Inconsistent(
            "a claim needs two documents".into(),
        ));
    };
    let password_hash = auth::hash_password(facts.password.to_string())
        .await
        .map_err(|e| ClaimError::Inconsistent(e.message))?;
    let sealed_mobile = state
        .config
        .personal_data
        .seal(facts.mobile)
        .map_err(|e| ClaimError::Inconsistent(format!("sealing a mobile: {e}")))?;
    let query_code = auth::random_token();
    let detail = format!(
        "认领人 {}，手机 {}",
        facts.claimant_name,
        certdesk_domain::mask_mobile(facts.mobile)
    );
    let claim = state
        .store
        .file_organisation_claim(
            &NewOrganisationClaim {
                org_id: organisation.id,
                organisation_name: facts.organisation_name,
                claimant_name: facts.claimant_name,
                claimant_mobile_sealed: &sealed_mobile,
                statement: facts.statement,
                username: facts.username,
                password_hash: &password_hash,
                licence_blob,
                letter_blob,
                query_code_hash: &auth::token_hash(&query_code),
                created_at: state.now(),
            },
            &certdesk_store::AuditNote {
                at: state.now(),
                actor_account_id: None,
                actor_label: "认领人",
                org_id: Some(organisation.id),
                detail: &detail,
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict("pending_claim") => ClaimError::AlreadyPending,
            StoreError::Conflict("username") => ClaimError::UsernameTaken,
            other => ClaimError::Store(other),
        })?;
    Ok(Filed { claim, query_code })
}

async fn forget_all(state: &AppState, blobs: &[String]) {
    for blob in blobs {
        crate::web::upload::forget_blob_if_unused(state, blob).await;
    }
}

// --- deciding -------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve` or `reject`.
    #[serde(default)]
    pub decision: String,
    /// Required when rejecting; the claimant reads it.
    #[serde(default)]
    pub reason: String,
}

/// An operator's decision on a claim.
async fn decide(
    state: &AppState,
    user: &CurrentUser,
    claim_id: i64,
    req: &DecisionRequest,
) -> Result<OrganisationClaim, ClaimError> {
    require(user, Action::ReviewOrganisationClaim, Relation::Platform)?;
    let claim = state
        .store
        .organisation_claim(claim_id)
        .await?
        .ok_or(ClaimError::NotFound)?;
    let decision = match req.decision.as_str() {
        "approve" => ClaimDecision::Approve,
        "reject" => ClaimDecision::Reject,
        _ => return Err(ClaimError::InvalidDecision),
    };
    claim.status.decide(decision)?;
    let note = crate::web::audit_trail::note_by(state, user.account(), "");
    let changed = match decision {
        ClaimDecision::Approve => state
            .store
            .approve_organisation_claim(claim.id, state.now(), &note)
            .await
            .map_err(|e| match e {
                StoreError::Conflict("username") => ClaimError::UsernameTakenSinceFiling,
                other => ClaimError::Store(other),
            })?
            .is_some(),
        ClaimDecision::Reject => {
            let reason = certdesk_domain::claim::check_rejection_reason(&req.reason)
                .map_err(ClaimError::InvalidReason)?;
            state
                .store
                .reject_organisation_claim(claim.id, reason, state.now(), &note)
                .await?
        }
    };
    let now = state
        .store
        .organisation_claim(claim.id)
        .await?
        .ok_or(ClaimError::NotFound)?;
    if !changed {
        // Decided by someone else between the read and the write.
        return Err(ClaimDecidedAlready(now.status).into());
    }
    Ok(now)
}

// --- views ----------------------------------------------------------------------------------

/// A claim as staff see it.
#[derive(Serialize, ToSchema, Clone)]
pub struct ClaimView {
    pub id: i64,
    /// 认领编号, e.g. `RL00000042`.
    pub claim_no: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub status_label: String,
    pub organisation_id: i64,
    /// The name the credit code is registered under now (申请单位 as registered).
    pub registered_name: String,
    pub credit_code: String,
    /// The name on the claimant's business licence.
    pub claimed_name: String,
    pub claimant_name: String,
    /// Masked, except on the claim's own page for the operator deciding it.
    pub claimant_mobile: String,
    pub statement: String,
    /// The admin account the claimant gets on approval.
    pub username: String,
    pub reject_reason: String,
    /// Beijing time.
    pub filed_at: String,
    pub decided_at: Option<String>,
}

async fn claim_views(
    state: &AppState,
    claims: &[OrganisationClaim],
    full_mobile: bool,
) -> Result<Vec<ClaimView>, ClaimError> {
    let mut views = Vec::with_capacity(claims.len());
    for claim in claims {
        let organisation = state
            .store
            .organisation_by_id(claim.org_id)
            .await?
            .ok_or_else(|| {
                ClaimError::Inconsistent(format!("claim {} without organisation", claim.id))
            })?;
        let mobile = state
            .config
            .personal_data
            .open(&claim.claimant_mobile)
            .map_err(|e| ClaimError::Inconsistent(format!("a claimant's mobile: {e}")))?;
        views.push(ClaimView {
            id: claim.id,
            claim_no: claim_number(claim.id),
            status: claim.status.as_str().to_string(),
            status_label: claim.status.label_zh().to_string(),
            organisation_id: organisation.id,
            registered_name: organisation.name,
            credit_code: organisation.credit_code,
            claimed_name: claim.organisation_name.clone(),
            claimant_name: claim.claimant_name.clone(),
            claimant_mobile: if full_mobile {
                mobile
            } else {
                certdesk_domain::mask_mobile(&mobile)
            },
            statement: claim.statement.clone(),
            username: claim.username.clone(),
            reject_reason: claim.reject_reason.clone(),
            filed_at: crate::format_beijing(claim.created_at),
            decided_at: claim.decided_at.map(crate::format_beijing),
        });
    }
    Ok(views)
}

// --- API ------------------------------------------------------------------------------------

/// 单位认领: the claims, open ones first (mobiles masked).
#[utoipa::path(get, path = "/api/v1/organisation-claims",
    responses((status = 200, body = [ClaimView]), (status = 403, body = ErrorBody)))]
async fn claims_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ClaimView>>, ApiError> {
    require(&user, Action::ReviewOrganisationClaim, Relation::Platform)
        .map_err(ClaimError::from)?;
    let claims = state.store.organisation_claims(CLAIMS_LISTED).await?;
    Ok(Json(claim_views(&state, &claims, false).await?))
}

/// Approve a claim (the organisation is handed to the claimant) or reject it with a reason.
#[utoipa::path(post, path = "/api/v1/organisation-claims/{claim_id}/decision",
    params(("claim_id" = i64, Path)), request_body = DecisionRequest,
    responses((status = 200, body = ClaimView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decision_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(claim_id): Path<i64>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<DecisionRequest>,
) -> Result<Json<ClaimView>, ApiError> {
    let claim = decide(&state, &user, claim_id, &req).await?;
    let mut views = claim_views(&state, std::slice::from_ref(&claim), false).await?;
    views
        .pop()
        .map(Json)
        .ok_or_else(|| ClaimError::NotFound.into())
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(claims_api, decision_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

// --- pages: the claimant ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "claim_new.html")]
struct ClaimFormPage {
    csrf: String,
    error: Option<String>,
    credit_code: String,
    organisation_name: String,
    claimant_name: String,
    claimant_mobile: String,
    statement: String,
    admin_username: String,
    max_statement: usize,
}

/// The claim form, with a fresh pre-login CSRF token (in its action URL: an upload form's body
/// is not read before the token is checked).
fn claim_form(
    state: &AppState,
    form: &ClaimForm,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = auth::random_token();
    let page = ClaimFormPage {
        csrf: csrf.clone(),
        error,
        credit_code: form.credit_code.clone(),
        organisation_name: form.organisation_name.clone(),
        claimant_name: form.claimant_name.clone(),
        claimant_mobile: form.claimant_mobile.clone(),
        statement: form.statement.clone(),
        admin_username: form.admin_username.clone(),
        max_statement: certdesk_domain::claim::MAX_STATEMENT_CHARS,
    };
    let mut response = render(&page, status);
    response.headers_mut().append(
        axum::http::header::SET_COOKIE,
        auth::prelogin_csrf_cookie(state, &csrf),
    );
    response
}

async fn claim_form_page(State(state): State<AppState>) -> Response {
    claim_form(&state, &ClaimForm::default(), None, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "claim_filed.html")]
struct ClaimFiledPage {
    claim_no: String,
    query_code: String,
    organisation_name: String,
}

async fn claim_submit(
    State(state): State<AppState>,
    client: ClientAddr,
    request: Request,
) -> Response {
    let multipart = match crate::web::upload::open_page_upload(request, &state).await {
        Ok(multipart) => multipart,
        Err(message) => {
            return claim_form(
                &state,
                &ClaimForm::default(),
                Some(message),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let sent = read_page_upload(multipart, &[LICENCE.0, LETTER.0]).await;
    let form = ClaimForm::from_sent(&sent);
    match file_claim(&state, &form, sent, &client.0).await {
        Ok(filed) => render(
            &ClaimFiledPage {
                claim_no: claim_number(filed.claim.id),
                query_code: filed.query_code,
                organisation_name: filed.claim.organisation_name,
            },
            StatusCode::OK,
        ),
        Err(err) => {
            let failure = PageFailure::from(err);
            if failure.belongs_on_the_page() {
                // Files cannot be given back to a browser: the message asks for them again.
                let message = format!("{}（请重新选择两份文件）", failure.message);
                claim_form(&state, &form, Some(message), failure.failure.status())
            } else {
                failure.into_page()
            }
        }
    }
}

#[derive(Template)]
#[template(path = "claim_status.html")]
struct ClaimStatusPage {
    csrf: String,
    error: Option<String>,
    claim: Option<PublicClaimView>,
}

/// What a claimant sees of their claim.
struct PublicClaimView {
    claim_no: String,
    status: String,
    pending: bool,
    approved: bool,
    organisation_name: String,
    username: String,
    reject_reason: String,
    filed_at: String,
    decided_at: Option<String>,
}

fn status_view(
    state: &AppState,
    error: Option<String>,
    claim: Option<PublicClaimView>,
    status: StatusCode,
) -> Response {
    let csrf = auth::random_token();
    let mut response = render(
        &ClaimStatusPage {
            csrf: csrf.clone(),
            error,
            claim,
        },
        status,
    );
    response.headers_mut().append(
        axum::http::header::SET_COOKIE,
        auth::prelogin_csrf_cookie(state, &csrf),
    );
    response
}

async fn status_form_page(State(state): State<AppState>) -> Response {
    status_view(&state, None, None, StatusCode::OK)
}

#[derive(Deserialize, Default)]
struct StatusForm {
    #[serde(default)]
    query_code: String,
}

/// A claim by its query code: 128 bits and more of randomness, so guessing needs no throttle.
async fn status_submit(State(state): State<AppState>, Form(form): Form<StatusForm>) -> Response {
    let code = form.query_code.trim().to_ascii_lowercase();
    let found = match state
        .store
        .organisation_claim_by_query_code(&auth::token_hash(&code))
        .await
    {
        Ok(found) => found,
        Err(err) => return PageFailure::from(ClaimError::from(err)).into_page(),
    };
    match found {
        Some(claim) => {
            let view = PublicClaimView {
                claim_no: claim_number(claim.id),
                status: claim.status.label_zh().to_string(),
                pending: claim.status == certdesk_domain::ClaimStatus::Pending,
                approved: claim.status == certdesk_domain::ClaimStatus::Approved,
                organisation_name: claim.organisation_name,
                username: claim.username,
                reject_reason: claim.reject_reason,
                filed_at: crate::format_beijing(claim.created_at),
                decided_at: claim.decided_at.map(crate::format_beijing),
            };
            status_view(&state, None, Some(view), StatusCode::OK)
        }
        None => status_view(
            &state,
            Some(ClaimError::UnknownQueryCode.to_string()),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

// --- pages: the operator ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "claims.html")]
struct ClaimsPage {
    chrome: Chrome,
    claims: Vec<ClaimView>,
    notice: Option<String>,
    error: Option<String>,
}

async fn claims_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
) -> Result<Response, PageFailure> {
    require(&user, Action::ReviewOrganisationClaim, Relation::Platform)
        .map_err(ClaimError::from)?;
    let claims = state.store.organisation_claims(CLAIMS_LISTED).await?;
    let claims = claim_views(&state, &claims, false).await?;
    let flash = crate::web::flash::take(&state, &user).await;
    Ok(render(
        &ClaimsPage {
            chrome: Chrome::new(&user, "claims"),
            claims,
            notice: flash.notice,
            error: flash.error,
        },
        StatusCode::OK,
    ))
}

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage {
    chrome: Chrome,
    claim: ClaimView,
    pending: bool,
    /// The accounts of the organisation as registered now: they are disabled on approval.
    accounts: Vec<(String, String, String)>,
    registered_at: String,
    documents: Vec<(String, String)>,
    notice: Option<String>,
    error: Option<String>,
}

/// One claim with its documents and the claimant's full mobile (to call back); the viewing is
/// recorded in the audit log.
async fn claim_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(claim_id): Path<i64>,
) -> Result<Response, PageFailure> {
    require(&user, Action::ReviewOrganisationClaim, Relation::Platform)
        .map_err(ClaimError::from)?;
    let claim = state
        .store
        .organisation_claim(claim_id)
        .await?
        .ok_or(ClaimError::NotFound)?;
    let mut views = claim_views(&state, std::slice::from_ref(&claim), true).await?;
    let view = views.pop().ok_or(ClaimError::NotFound)?;
    let organisation = state
        .store
        .organisation_by_id(claim.org_id)
        .await?
        .ok_or(ClaimError::NotFound)?;
    let accounts = state
        .store
        .accounts_of(Some(claim.org_id))
        .await?
        .iter()
        .map(|a| {
            (
                a.username.clone(),
                a.display_name.clone(),
                if a.disabled { "已停用" } else { "正常" }.to_string(),
            )
        })
        .collect();
    crate::web::audit_trail::record(
        &state,
        Some(user.account()),
        Some(claim.org_id),
        AuditAction::PersonalDataViewed,
        &format!("organisation_claim:{}", claim.id),
        "查看单位认领申请（认领人完整手机号）",
    )
    .await;
    let flash = crate::web::flash::take(&state, &user).await;
    let documents = [LICENCE, LETTER]
        .iter()
        .map(|(_, kind, label)| {
            (
                label.to_string(),
                format!("/admin/claims/{}/documents/{kind}", claim.id),
            )
        })
        .collect();
    Ok(render(
        &ClaimPage {
            chrome: Chrome::new(&user, "claims"),
            pending: claim.status == certdesk_domain::ClaimStatus::Pending,
            claim: view,
            accounts,
            registered_at: crate::format_beijing(organisation.created_at),
            documents,
            notice: flash.notice,
            error: flash.error,
        },
        StatusCode::OK,
    ))
}

async fn claim_document(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((claim_id, kind)): Path<(i64, String)>,
) -> Result<Response, PageFailure> {
    require(&user, Action::ReviewOrganisationClaim, Relation::Platform)
        .map_err(ClaimError::from)?;
    let claim = state
        .store
        .organisation_claim(claim_id)
        .await?
        .ok_or(ClaimError::NotFound)?;
    let blob = match kind.as_str() {
        k if k == LICENCE.1 => &claim.licence_blob,
        k if k == LETTER.1 => &claim.letter_blob,
        _ => return Err(ClaimError::NotFound.into()),
    };
    Ok(crate::web::upload::stored_image(&state, blob)
        .await?
        .ok_or(ClaimError::NotFound)?)
}

async fn decision_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(claim_id): Path<i64>,
    Form(form): Form<PageDecision>,
) -> Response {
    let req = DecisionRequest {
        decision: form.decision,
        reason: form.reason,
    };
    let told = decide(&state, &user, claim_id, &req)
        .await
        .map(|claim| match claim.status {
            certdesk_domain::ClaimStatus::Approved => format!(
                "{} 已通过：单位已交由认领人管理（管理员 {}），原有账户已停用",
                claim_number(claim.id),
                claim.username
            ),
            _ => format!(
                "{} 已驳回，认领人可凭查询码看到原因",
                claim_number(claim.id)
            ),
        })
        .map_err(PageFailure::from);
    let to = format!("/admin/claims/{claim_id}");
    crate::web::flash::back_with(&state, &user, &to, told, Slot::Error).await
}

#[derive(Deserialize, Default)]
struct PageDecision {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}
