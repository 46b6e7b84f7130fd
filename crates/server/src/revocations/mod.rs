//! 吊销 on request (DOMAIN.md, business type 6): the organisation admin asks to revoke one of
//! its certificates with a reason; the legal representative confirms with the SMS code of the
//! mobile identity check on the order; a CA officer reviews it (复审 queue) — except for a key
//! reported lost or compromised (keyCompromise), revoked as soon as it is confirmed. The CA
//! revokes first (idempotently) and the step follows (`RevokeCertificate`), so the CRL and
//! OCSP say "revoked" as the order says 已完成.

mod error;

pub use error::RevocationError;

use crate::pipeline::{checked_step, order_for, CheckedStep, OrderView, StepActor, StepError};
use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::extract::Query;
use crate::web::flash::Slot;
use crate::web::json::ApiJson;
use crate::web::pages::{form_fields, render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::revocation::RequestedReason;
use certdesk_domain::{Action, BusinessType, OrderAction, OrderStatus};
use certdesk_store::{NewOrder, NewRevocationRequest, Order, RevocationRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/ca/revoke", RequestRevocation, revoke_page)
        .post("/ca/revoke", RequestRevocation, create_page)
        .post(
            "/ca/revoke/{order_no}/identity",
            RunIdentityCheck,
            identity_page,
        )
        .post("/ca/revoke/{order_no}/submit", EditApplication, submit_page)
        .post("/api/v1/revocations", RequestRevocation, create_api)
        .get("/api/v1/revocations/{order_no}", ViewOrder, view_api)
        .post(
            "/api/v1/revocations/{order_no}/submit",
            EditApplication,
            submit_api,
        )
}

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequestBody {
    /// The certificate serial (证书序列号), hex.
    #[serde(default)]
    pub key_serial: String,
    /// `keyCompromise` (revoked at once), `affiliationChanged`, `superseded` or
    /// `cessationOfOperation`.
    #[serde(default)]
    pub reason: String,
    /// 补充说明, at most 200 characters.
    #[serde(default)]
    pub note: String,
    /// The legal representative, who confirms by SMS.
    #[serde(default)]
    pub legal_rep_name: String,
    #[serde(default)]
    pub legal_rep_id_number: String,
    #[serde(default)]
    pub legal_rep_mobile: String,
}

async fn create_revocation(
    state: &AppState,
    user: &CurrentUser,
    req: &RevocationRequestBody,
) -> Result<Order, RevocationError> {
    let org_id = user
        .account()
        .org_id
        .ok_or(certdesk_domain::Refusal::Forbidden)?;
    let held = crate::issuance::held_key(state, org_id, &req.key_serial)
        .await?
        .ok_or_else(|| RevocationError::UnknownKey(req.key_serial.trim().to_string()))?;
    if held.revoked_at.is_some() {
        return Err(RevocationError::AlreadyRevoked);
    }
    let reason = RequestedReason::parse(&req.reason).ok_or(RevocationError::InvalidReason)?;
    let note = req.note.trim();
    if note.chars().count() > 200 {
        return Err(RevocationError::InvalidNote);
    }
    let name = req.legal_rep_name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(RevocationError::InvalidName);
    }
    let id_number = certdesk_domain::validate_resident_id(&req.legal_rep_id_number)
        .map_err(|e| RevocationError::InvalidId(e.to_string()))?;
    let mobile = certdesk_domain::application::validate_mobile(&req.legal_rep_mobile)
        .map_err(RevocationError::InvalidMobile)?;
    // The person who confirms must be the legal representative the certificate was issued
    // under (the 新办 form's), not whoever the admin names.
    if let Some(registered) = registered_legal_rep(state, &held.order_no).await? {
        if !registered.eq_ignore_ascii_case(&id_number) {
            return Err(RevocationError::NotTheLegalRep);
        }
    }
    let seal = |text: &str| {
        state
            .config
            .personal_data
            .seal(text)
            .map_err(|e| RevocationError::Inconsistent(format!("sealing: {e}")))
    };
    let now = state.now();
    let detail = format!(
        "申请吊销证书 {}（{}）",
        held.serial_hex.to_uppercase(),
        reason.label_zh()
    );
    let (legal_rep_id, legal_rep_mobile) = (seal(&id_number)?, seal(&mobile)?);
    let (detail, held, legal_rep_id, legal_rep_mobile) =
        (&detail, &held, &legal_rep_id, &legal_rep_mobile);
    Ok(
        crate::pipeline::with_fresh_order_number(now, |order_no| async move {
            state
                .store
                .create_revocation_order(
                    &NewOrder {
                        order_no: &order_no,
                        org_id,
                        kind: BusinessType::Revocation,
                        amount_fen: 0,
                        created_by: user.account().id,
                        on_behalf: false,
                        created_at: now,
                    },
                    &NewRevocationRequest {
                        certificate_id: held.certificate_id,
                        key_serial: &held.serial_hex,
                        reason: reason.as_str(),
                        note,
                        legal_rep_name: name,
                        legal_rep_id_sealed: legal_rep_id,
                        legal_rep_mobile_sealed: legal_rep_mobile,
                    },
                    &crate::web::audit_trail::note_by(state, user.account(), detail),
                )
                .await
        })
        .await?,
    )
}

/// The legal representative's ID number on the application the key was issued for, if the
/// order has one.
async fn registered_legal_rep(
    state: &AppState,
    order_no: &str,
) -> Result<Option<String>, RevocationError> {
    let Some(order) = state.store.order_by_no(order_no).await? else {
        return Ok(None);
    };
    let Some(application) = state.store.application(order.id).await? else {
        return Ok(None);
    };
    let form = crate::applications::form_of(state, &application)
        .map_err(|e| RevocationError::Inconsistent(e.to_string()))?;
    Ok(Some(form.legal_rep.id_number).filter(|id| !id.is_empty()))
}

async fn revocation_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<(Order, RevocationRequest), RevocationError> {
    let order = order_for(state, user, order_no, action).await?;
    if order.kind != BusinessType::Revocation {
        return Err(RevocationError::NotARevocation);
    }
    let request = state
        .store
        .revocation_request(order.id)
        .await?
        .ok_or(RevocationError::NotFound)?;
    Ok((order, request))
}

fn open(state: &AppState, sealed: &str) -> Result<String, RevocationError> {
    state
        .config
        .personal_data
        .open(sealed)
        .map_err(|e| RevocationError::Inconsistent(format!("opening: {e}")))
}

/// 提交 once the legal representative confirmed: a compromised key is revoked at once, any
/// other reason waits for the CA officer.
async fn submit(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<Order, RevocationError> {
    let (order, request) = revocation_for(state, user, order_no, Action::EditApplication).await?;
    let id_number = open(state, &request.legal_rep_id)?;
    if crate::identity::passed_identity_check(state, order.id, &id_number)
        .await?
        .is_none()
    {
        return Err(RevocationError::NotConfirmed);
    }
    let at_once = RequestedReason::parse(&request.reason)
        .is_some_and(RequestedReason::revokes_at_once)
        && order.status == OrderStatus::Draft;
    if at_once {
        return revoke(
            state,
            Some(user),
            &order,
            &request,
            OrderAction::RevokeAtOnce,
            "",
        )
        .await;
    }
    let action = if order.status == OrderStatus::Rejected {
        OrderAction::EditAndResubmit
    } else {
        OrderAction::Submit
    };
    let (after, _) = crate::pipeline::act_on_order(state, Some(user), &order, action, "").await?;
    Ok(after)
}

/// 复审通过 of a revocation: the CA revokes, then the step. Called by the review.
pub(crate) async fn approve(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    note: &str,
) -> Result<Order, RevocationError> {
    let request = state
        .store
        .revocation_request(order.id)
        .await?
        .ok_or(RevocationError::NotFound)?;
    revoke(
        state,
        Some(user),
        order,
        &request,
        OrderAction::ApproveSecond,
        note,
    )
    .await
}

/// The step `action` (checked first), the key's certificates revoked at the CA, then the step
/// recorded. Revoking is idempotent at the CA: after a crash between the two, doing it again
/// finishes it.
async fn revoke(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    request: &RevocationRequest,
    action: OrderAction,
    note: &str,
) -> Result<Order, RevocationError> {
    let CheckedStep { step, .. } = checked_step(state, user, order, action).await?;
    let reason = certdesk_ca::crl_reason_from_name(&request.reason)
        .ok_or_else(|| RevocationError::Inconsistent(format!("reason {}", request.reason)))?;
    let revoked_at =
        crate::issuance::revoke_key(state, request.certificate_id, &request.key_serial, reason)
            .await?
            .unwrap_or_else(|| state.now());
    let who = StepActor::of(user, &step);
    if !state
        .store
        .complete_revocation(&who.record(state.now(), order, step, note), revoked_at)
        .await?
    {
        return Err(StepError::OrderChanged.into());
    }
    Ok(order.after(&step))
}

/// Revokes (cessationOfOperation) every held certificate whose renewal window closed (3 months
/// after it expired): it can no longer be renewed, and a new one is applied for (新办).
/// Revoking is idempotent; the organisation is told and the audit entry written once, whatever
/// reruns or processes (`Store::record_lapsed_certificate`). Answers how many keys this run
/// recorded.
pub async fn revoke_lapsed(state: &AppState) -> Result<u64, RevocationError> {
    use certdesk_domain::renewal::{renewal_check, RenewalCheck};
    let now = state.now();
    let mut revoked = 0;
    for certificate in state.store.expired_held_certificates(now).await? {
        if !matches!(
            renewal_check(certificate.not_after, now),
            RenewalCheck::Closed { .. }
        ) {
            continue;
        }
        crate::issuance::revoke_key(
            state,
            certificate.certificate_id,
            &certificate.serial_hex,
            certdesk_ca::CrlReason::CessationOfOperation,
        )
        .await?;
        let body = format!(
            "证书（序列号 {}，业务单 {}）到期已超过3个月，无法再续费，已吊销。如需继续使用，请重新申领（新办）。",
            certificate.serial_hex.to_uppercase(),
            certificate.order_no
        );
        let recorded = state
            .store
            .record_lapsed_certificate(
                &certificate,
                &certdesk_store::NewMessage {
                    kind: "certificate_lapsed",
                    title: "CA证书已超过续费期限，已吊销",
                    body: &body,
                    link: "/ca/apply",
                },
                &certdesk_store::AuditNote::system(
                    now,
                    "超过续费期限（到期后3个月），自动吊销（cessationOfOperation）",
                ),
            )
            .await?;
        if !recorded {
            continue;
        }
        revoked += 1;
    }
    Ok(revoked)
}

#[derive(Serialize, ToSchema)]
pub struct RevocationView {
    pub order: OrderView,
    pub key_serial: String,
    /// The RFC 5280 name.
    pub reason: String,
    pub reason_label: String,
    pub note: String,
    pub legal_rep_name: String,
    /// Beijing time, once revoked.
    pub revoked_at: Option<String>,
    /// Whether the legal representative confirmed by SMS (the order may be submitted).
    pub confirmed: bool,
}

async fn revocation_view(
    state: &AppState,
    order: &Order,
    request: &RevocationRequest,
) -> Result<RevocationView, RevocationError> {
    let id_number = open(state, &request.legal_rep_id)?;
    let confirmed = crate::identity::passed_identity_check(state, order.id, &id_number)
        .await?
        .is_some();
    Ok(RevocationView {
        confirmed,
        order: OrderView::from(order),
        key_serial: request.key_serial.to_uppercase(),
        reason: request.reason.clone(),
        reason_label: RequestedReason::parse(&request.reason)
            .map(|r| r.label_zh().to_string())
            .unwrap_or_default(),
        note: request.note.clone(),
        legal_rep_name: request.legal_rep_name.clone(),
        revoked_at: request.revoked_at.map(crate::format_beijing),
    })
}

/// The request behind a revocation order, for the order page.
pub(crate) async fn summary(
    state: &AppState,
    order: &Order,
) -> Result<Vec<(&'static str, String)>, RevocationError> {
    let Some(request) = state.store.revocation_request(order.id).await? else {
        return Ok(Vec::new());
    };
    let view = revocation_view(state, order, &request).await?;
    let mut rows = vec![
        ("证书序列号", view.key_serial),
        ("吊销原因", view.reason_label),
        ("法定代表人", view.legal_rep_name),
    ];
    if !view.note.is_empty() {
        rows.push(("补充说明", view.note));
    }
    if let Some(at) = view.revoked_at {
        rows.push(("吊销时间", at));
    }
    Ok(rows)
}

/// 申请吊销: a revocation order (草稿); then the legal representative's mobile check on the
/// order (`/api/v1/orders/{order_no}/identity/mobile/…`) and submit.
#[utoipa::path(post, path = "/api/v1/revocations", request_body = RevocationRequestBody,
    responses((status = 201, body = RevocationView), (status = 422, body = ErrorBody)))]
async fn create_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<RevocationRequestBody>,
) -> Result<(StatusCode, Json<RevocationView>), ApiError> {
    let order = create_revocation(&state, &user, &req).await?;
    let (order, request) =
        revocation_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok((
        StatusCode::CREATED,
        Json(revocation_view(&state, &order, &request).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/revocations/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = RevocationView), (status = 404, body = ErrorBody)))]
async fn view_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<RevocationView>, ApiError> {
    let (order, request) = revocation_for(&state, &user, &order_no, Action::ViewOrder).await?;
    Ok(Json(revocation_view(&state, &order, &request).await?))
}

/// 提交 (or 重新提交) once the legal representative confirmed; keyCompromise revokes at once.
#[utoipa::path(post, path = "/api/v1/revocations/{order_no}/submit", params(("order_no" = String, Path)),
    responses((status = 200, body = RevocationView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<RevocationView>, ApiError> {
    let order = submit(&state, &user, &order_no).await?;
    let (order, request) =
        revocation_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok(Json(revocation_view(&state, &order, &request).await?))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_api, view_api, submit_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

// --- pages ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "revoke.html")]
struct RevokePage {
    chrome: Chrome,
    keys: Vec<(String, String)>,
    /// (RFC name, label) of every reason a supplier may give.
    reasons: Vec<(&'static str, &'static str)>,
    requests: Vec<RevocationView>,
    sandbox: Vec<crate::identity::SandboxNotice>,
    form: RevocationRequestBody,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct KeyQuery {
    /// A certificate to preselect (from 我的证书).
    #[serde(default)]
    key: String,
}

async fn revoke_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<KeyQuery>,
) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    let form = RevocationRequestBody {
        key_serial: query.key,
        ..RevocationRequestBody::default()
    };
    page_with(
        &state,
        &user,
        form,
        flash.notice,
        flash.error,
        StatusCode::OK,
    )
    .await
}

async fn page_with(
    state: &AppState,
    user: &CurrentUser,
    form: RevocationRequestBody,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let page = async {
        let org_id = user
            .account()
            .org_id
            .ok_or(certdesk_domain::Refusal::Forbidden)?;
        let orders = state
            .store
            .orders(&certdesk_store::OrderFilter {
                org_id: Some(org_id),
                kind: Some(BusinessType::Revocation),
                limit: 50,
                ..Default::default()
            })
            .await?;
        let mut requests = Vec::new();
        for order in &orders {
            if let Some(request) = state.store.revocation_request(order.id).await? {
                requests.push(revocation_view(state, order, &request).await?);
            }
        }
        Ok::<_, RevocationError>(RevokePage {
            chrome: Chrome::new(user, "ca_revoke"),
            keys: crate::issuance::key_choices(state, org_id).await?,
            reasons: RequestedReason::ALL
                .iter()
                .map(|r| (r.as_str(), r.label_zh()))
                .collect(),
            requests,
            sandbox: crate::identity::sandbox_notices_of(state, &orders),
            form,
            notice,
            error,
        })
    };
    match page.await {
        Ok(page) => render(&page, status),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

async fn create_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    body: Bytes,
) -> Response {
    let form: RevocationRequestBody = form_fields(&body);
    match create_revocation(&state, &user, &form).await {
        Ok(order) => {
            let told = format!(
                "已创建吊销申请 {}：请法定代表人用短信验证码确认后提交",
                order.order_no
            );
            crate::web::flash::put(&state, &user, Slot::Notice, &told).await;
            Redirect::to("/ca/revoke").into_response()
        }
        Err(err) => {
            let failure = PageFailure::from(err);
            if failure.belongs_on_the_page() {
                let status = failure.failure.status();
                page_with(&state, &user, form, None, Some(failure.message), status).await
            } else {
                failure.into_page()
            }
        }
    }
}

/// 法定代表人短信确认 from the page.
async fn identity_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let fields: crate::identity::MobileCheckForm = form_fields(&body);
    let result = async {
        let (_, request) =
            revocation_for(&state, &user, &order_no, Action::RunIdentityCheck).await?;
        let person = crate::identity::SealedPerson {
            name: &request.legal_rep_name,
            id_number: &request.legal_rep_id,
            mobile: &request.legal_rep_mobile,
        };
        Ok::<_, RevocationError>(
            crate::identity::mobile_check_from_page(&state, &user, &order_no, person, &fields)
                .await?,
        )
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/revoke", result, Slot::Error).await
}

async fn submit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let told = submit(&state, &user, &order_no)
        .await
        .map(|o| match o.status {
            OrderStatus::Completed => format!("证书已吊销（业务单 {}）", o.order_no),
            _ => format!("吊销申请 {} 已提交，等待CA审核（1个工作日）", o.order_no),
        })
        .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/revoke", told, Slot::Error).await
}
