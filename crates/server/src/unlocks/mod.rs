//! 解锁 — PIN unlock (DOMAIN.md, business type 5; guides 000 and 001), the server side: the
//! organisation admin asks to unlock one of its keys (by the certificate serial the key shows),
//! the key holder's identity is checked (the identity checks of any order), a platform
//! operator reviews it (初审, in the same queue as every order), and the approval writes a
//! one-time 解锁授权码 bound to that key and valid for 24 hours. The key holder's agent uses it
//! once (`POST /api/v1/unlock-codes/use`); every use is audited. The key side (the UKey's
//! SO-PIN challenge-response) comes with the key holder's tools.

mod error;

pub(crate) use error::UnlockError;

use crate::pipeline::{checked_step, order_for, CheckedStep, OrderView, StepActor, StepError};
use crate::web::auth::CurrentUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
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
use certdesk_domain::unlock::{check_code, format_code, normalise_code, CodeRefusal, IssuedCode};
use certdesk_domain::{Action, BusinessType, OrderAction, OrderStatus, Role};
use certdesk_store::{IssuedUnlockCode, NewOrder, NewUnlockRequest, Order, UnlockRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/ca/unlock", RequestUnlock, unlock_page)
        .post("/ca/unlock", RequestUnlock, create_page)
        .post("/ca/unlock/{order_no}/submit", EditApplication, submit_page)
        .post(
            "/ca/unlock/{order_no}/identity",
            RunIdentityCheck,
            identity_page,
        )
        .post("/api/v1/unlocks", RequestUnlock, create_api)
        .get("/api/v1/unlocks/{order_no}", ViewOrder, view_api)
        .post(
            "/api/v1/unlocks/{order_no}/submit",
            EditApplication,
            submit_api,
        )
        .post("/api/v1/unlock-codes/use", UseUnlockCode, use_code_api)
}

/// Wrong codes one key may be tried with in an hour.
const CODE_TRIES_PER_HOUR: i64 = 5;

// --- asking -----------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequestBody {
    /// The certificate serial (证书序列号) the key shows, hex.
    #[serde(default)]
    pub key_serial: String,
    /// 持锁人: who holds the key and is identity-checked.
    #[serde(default)]
    pub holder_name: String,
    #[serde(default)]
    pub holder_id_number: String,
    #[serde(default)]
    pub holder_mobile: String,
    #[serde(default)]
    pub reason: String,
}

/// Opens an unlock order (草稿) for one of the organisation's keys.
async fn create_unlock(
    state: &AppState,
    user: &CurrentUser,
    req: &UnlockRequestBody,
) -> Result<Order, UnlockError> {
    let org_id = user
        .account()
        .org_id
        .ok_or(certdesk_domain::Refusal::Forbidden)?;
    let held = crate::issuance::held_key(state, org_id, &req.key_serial)
        .await?
        .ok_or_else(|| UnlockError::UnknownKey(req.key_serial.trim().to_string()))?;
    if held.revoked_at.is_some() {
        return Err(UnlockError::KeyRevoked);
    }
    let holder_name = req.holder_name.trim();
    if holder_name.is_empty() || holder_name.chars().count() > 50 {
        return Err(UnlockError::InvalidHolderName);
    }
    let id_number = certdesk_domain::validate_resident_id(&req.holder_id_number)
        .map_err(|e| UnlockError::InvalidHolderId(e.to_string()))?;
    let mobile = certdesk_domain::application::validate_mobile(&req.holder_mobile)
        .map_err(UnlockError::InvalidHolderMobile)?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(UnlockError::InvalidReason);
    }
    let seal = |text: &str| {
        state
            .config
            .personal_data
            .seal(text)
            .map_err(|e| UnlockError::Inconsistent(format!("sealing: {e}")))
    };
    let (holder_id, holder_mobile) = (seal(&id_number)?, seal(&mobile)?);
    let now = state.now();
    let detail = format!("申请解锁CA锁 {}", held.serial_hex.to_uppercase());
    let (detail, held, holder_id, holder_mobile) = (&detail, &held, &holder_id, &holder_mobile);
    Ok(
        crate::pipeline::with_fresh_order_number(now, |order_no| async move {
            state
                .store
                .create_unlock_order(
                    &NewOrder {
                        order_no: &order_no,
                        org_id,
                        kind: BusinessType::Unlock,
                        amount_fen: 0,
                        created_by: user.account().id,
                        on_behalf: false,
                        created_at: now,
                    },
                    &NewUnlockRequest {
                        certificate_id: held.certificate_id,
                        key_serial: &held.serial_hex,
                        holder_name,
                        holder_id_sealed: holder_id,
                        holder_mobile_sealed: holder_mobile,
                        reason,
                    },
                    &crate::web::audit_trail::note_by(state, user.account(), detail),
                )
                .await
        })
        .await?,
    )
}

/// An unlock order and its request, for `user` doing `action`.
async fn unlock_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<(Order, UnlockRequest), UnlockError> {
    let order = order_for(state, user, order_no, action).await?;
    if order.kind != BusinessType::Unlock {
        return Err(UnlockError::NotAnUnlock);
    }
    let request = state
        .store
        .unlock_request(order.id)
        .await?
        .ok_or(UnlockError::NotFound)?;
    Ok((order, request))
}

/// 提交 (or, after a rejection, 重新提交): the holder's identity check must have passed.
async fn submit(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<Order, UnlockError> {
    let (order, request) = unlock_for(state, user, order_no, Action::EditApplication).await?;
    let id_number = open(state, &request.holder_id)?;
    if crate::identity::passed_identity_check(state, order.id, &id_number)
        .await?
        .is_none()
    {
        return Err(UnlockError::IdentityNotChecked);
    }
    let action = if order.status == OrderStatus::Rejected {
        OrderAction::EditAndResubmit
    } else {
        OrderAction::Submit
    };
    let (after, _) = crate::pipeline::act_on_order(state, Some(user), &order, action, "").await?;
    Ok(after)
}

/// 初审通过 of an unlock: the step and its code in one transaction (the step's
/// `IssueUnlockCode`). Called by the review, which checked who may review.
pub(crate) async fn approve(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    note: &str,
) -> Result<Order, UnlockError> {
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::ApproveInitial).await?;
    let code = format_code(&rand::random::<[u8; 10]>());
    let stored = normalise_code(&code)
        .ok_or_else(|| UnlockError::Inconsistent("a code that does not read back".into()))?;
    let sealed = state
        .config
        .personal_data
        .seal(&code)
        .map_err(|e| UnlockError::Inconsistent(format!("sealing: {e}")))?;
    let now = state.now();
    let who = StepActor::of(Some(user), &step);
    let approved = state
        .store
        .approve_unlock(
            &who.record(now, order, step, note),
            &IssuedUnlockCode {
                hash: &code_hash(&stored),
                sealed: &sealed,
                expires_at: now + certdesk_domain::unlock::CODE_VALIDITY_SECS,
            },
            &certdesk_store::NewMessage {
                kind: "unlock_approved",
                title: "解锁申请已通过",
                body: &format!(
                    "解锁申请 {} 已审核通过，解锁授权码已签发，请在24小时内到“CA锁解锁”查看并使用（仅可使用一次）。",
                    order.order_no
                ),
                link: "/ca/unlock",
            },
        )
        .await?;
    if !approved {
        return Err(StepError::OrderChanged.into());
    }
    Ok(order.after(&step))
}

fn code_hash(normalised: &str) -> String {
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

fn open(state: &AppState, sealed: &str) -> Result<String, UnlockError> {
    state
        .config
        .personal_data
        .open(sealed)
        .map_err(|e| UnlockError::Inconsistent(format!("opening: {e}")))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UseCodeRequest {
    /// The serial of the key being unlocked.
    #[serde(default)]
    pub key_serial: String,
    /// The 解锁授权码, with or without dashes.
    #[serde(default)]
    pub code: String,
    /// The key holder's agent's one-time SM2 key for the key (DER SubjectPublicKeyInfo,
    /// base64): the answer carries the key's SO PIN sealed to it (challenge-response).
    #[serde(default)]
    pub challenge: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsedCodeView {
    pub order_no: String,
    pub key_serial: String,
    /// Beijing time.
    pub used_at: String,
    /// With a challenge: the SO PIN the CA set on the key at 制证, sealed to the agent's
    /// one-time key; the agent unlocks the key with it and the holder's new PIN.
    pub response: Option<String>,
}

/// Uses a code once for the key it was issued for. Wrong codes are counted per key (five an
/// hour) before they are checked; another organisation's code is told as unknown.
async fn use_code(
    state: &AppState,
    user: &CurrentUser,
    req: &UseCodeRequest,
) -> Result<UsedCodeView, UnlockError> {
    let now = state.now();
    let serial = req.key_serial.trim().to_ascii_lowercase();
    let found = match (normalise_code(&req.code), user.account().org_id) {
        (Some(code), Some(org_id)) => {
            state
                .store
                .unlock_request_by_code(&code_hash(&code), org_id)
                .await?
        }
        _ => None,
    };
    if let Err(refusal) = check_code(found.as_ref().map(issued_code), &serial, now) {
        if let certdesk_store::Slot::Full { until } = state
            .store
            .take_rate_slot(
                &format!("unlock-code:{serial}"),
                certdesk_store::RateLimit {
                    max: CODE_TRIES_PER_HOUR,
                    window_secs: 3600,
                },
                now,
            )
            .await?
        {
            return Err(UnlockError::TooManyTries {
                minutes: ((until - now).max(1) + 59) / 60,
            });
        }
        return Err(refusal.into());
    }
    let request = found.ok_or(UnlockError::Code(CodeRefusal::Unknown))?;
    // The answer is made before the code is spent: a key the CA did not make here (no SO PIN
    // kept) or a bad challenge leaves the code unused.
    let response = match &req.challenge {
        Some(challenge) => {
            let production = state
                .store
                .production_of_certificate(&request.key_serial.to_ascii_lowercase())
                .await?
                .filter(|p| p.so_pin_sealed.is_some())
                .ok_or(UnlockError::NotMadeHere)?;
            crate::production::so_pin_for_agent(state, &production, challenge)
                .map_err(|e| UnlockError::BadChallenge(e.to_string()))?
        }
        None => None,
    };
    let detail = format!("解锁CA锁 {}", request.key_serial.to_uppercase());
    let used = state
        .store
        .use_unlock_code(
            request.order_id,
            now,
            &crate::web::audit_trail::note_by(state, user.account(), &detail),
            &format!("order:{}", request.order_no),
        )
        .await?;
    if !used {
        // Used or expired between the read and the write: whoever came first won.
        let again = state.store.unlock_request(request.order_id).await?;
        let refusal = check_code(again.as_ref().map(issued_code), &serial, now).err();
        return Err(refusal.unwrap_or(CodeRefusal::Used).into());
    }
    Ok(UsedCodeView {
        order_no: request.order_no,
        key_serial: request.key_serial.to_uppercase(),
        used_at: crate::format_beijing(now),
        response,
    })
}

/// What the code check needs of a request.
fn issued_code(request: &UnlockRequest) -> IssuedCode<'_> {
    IssuedCode {
        key_serial: &request.key_serial,
        expires_at: request.code_expires_at.unwrap_or(0),
        used: request.code_used_at.is_some(),
    }
}

// --- views ------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct UnlockView {
    pub order: OrderView,
    pub key_serial: String,
    pub holder_name: String,
    /// Masked.
    pub holder_id_number: String,
    pub reason: String,
    /// The 解锁授权码: only for the organisation's admin, while it can still be used.
    pub code: Option<String>,
    /// Beijing time.
    pub code_expires_at: Option<String>,
    pub code_used_at: Option<String>,
    /// Whether the holder's identity check passed (the order may be submitted).
    pub identity_passed: bool,
}

async fn unlock_view(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    request: &UnlockRequest,
) -> Result<UnlockView, UnlockError> {
    let usable = request.code_used_at.is_none()
        && request.code_expires_at.is_some_and(|at| state.now() < at);
    // Separation of duties: the operator who approved never reads the code.
    let code = match (&request.code_sealed, usable, user.role()) {
        (Some(sealed), true, Role::OrgAdmin) => Some(open(state, sealed)?),
        _ => None,
    };
    let holder_id = open(state, &request.holder_id)?;
    let identity_passed = crate::identity::passed_identity_check(state, order.id, &holder_id)
        .await?
        .is_some();
    Ok(UnlockView {
        identity_passed,
        order: OrderView::from(order),
        key_serial: request.key_serial.to_uppercase(),
        holder_name: request.holder_name.clone(),
        holder_id_number: certdesk_domain::mask_resident_id(&open(state, &request.holder_id)?),
        reason: request.reason.clone(),
        code,
        code_expires_at: request.code_expires_at.map(crate::format_beijing),
        code_used_at: request.code_used_at.map(crate::format_beijing),
    })
}

/// The request behind an unlock order, for the order page: what the reviewer compares.
pub(crate) async fn summary(
    state: &AppState,
    order: &Order,
) -> Result<Vec<(&'static str, String)>, UnlockError> {
    let Some(request) = state.store.unlock_request(order.id).await? else {
        return Ok(Vec::new());
    };
    let mut rows = vec![
        ("CA锁证书序列号", request.key_serial.to_uppercase()),
        ("持锁人", request.holder_name.clone()),
        (
            "持锁人身份证号",
            certdesk_domain::mask_resident_id(&open(state, &request.holder_id)?),
        ),
        ("解锁原因", request.reason.clone()),
    ];
    if let Some(at) = request.code_expires_at {
        rows.push((
            "解锁授权码",
            match request.code_used_at {
                Some(used) => format!("已于 {} 使用", crate::format_beijing(used)),
                None => format!("已签发，有效期至 {}", crate::format_beijing(at)),
            },
        ));
    }
    Ok(rows)
}

// --- API --------------------------------------------------------------------------------------

/// 申请解锁: an unlock order (草稿) for one of the organisation's keys; then check the holder's
/// identity (`/api/v1/orders/{order_no}/identity/…`) and submit.
#[utoipa::path(post, path = "/api/v1/unlocks", request_body = UnlockRequestBody,
    responses((status = 201, body = UnlockView), (status = 422, body = ErrorBody)))]
async fn create_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<UnlockRequestBody>,
) -> Result<(StatusCode, Json<UnlockView>), ApiError> {
    let order = create_unlock(&state, &user, &req).await?;
    let (order, request) = unlock_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok((
        StatusCode::CREATED,
        Json(unlock_view(&state, &user, &order, &request).await?),
    ))
}

/// An unlock order; its 解锁授权码 for the organisation's admin while it can be used.
#[utoipa::path(get, path = "/api/v1/unlocks/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = UnlockView), (status = 404, body = ErrorBody)))]
async fn view_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<UnlockView>, ApiError> {
    let (order, request) = unlock_for(&state, &user, &order_no, Action::ViewOrder).await?;
    Ok(Json(unlock_view(&state, &user, &order, &request).await?))
}

/// 提交 (or 重新提交) an unlock order for review, once the holder's identity check passed.
#[utoipa::path(post, path = "/api/v1/unlocks/{order_no}/submit", params(("order_no" = String, Path)),
    responses((status = 200, body = UnlockView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<UnlockView>, ApiError> {
    let order = submit(&state, &user, &order_no).await?;
    let (order, request) = unlock_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok(Json(unlock_view(&state, &user, &order, &request).await?))
}

/// Uses a 解锁授权码 for the key it was issued for: once, within 24 hours.
#[utoipa::path(post, path = "/api/v1/unlock-codes/use", request_body = UseCodeRequest,
    responses((status = 200, body = UsedCodeView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn use_code_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<UseCodeRequest>,
) -> Result<Json<UsedCodeView>, ApiError> {
    Ok(Json(use_code(&state, &user, &req).await?))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_api, view_api, submit_api, use_code_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

// --- pages ------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "unlock.html")]
struct UnlockPage {
    chrome: Chrome,
    /// The organisation's keys that may be unlocked: (serial, what it is).
    keys: Vec<(String, String)>,
    requests: Vec<UnlockView>,
    /// What the sandbox "sent" for the organisation's drafts (codes), with the sandbox only.
    sandbox: Vec<crate::identity::SandboxNotice>,
    form: UnlockRequestBody,
    notice: Option<String>,
    error: Option<String>,
}

async fn unlock_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    unlock_view_page(
        &state,
        &user,
        UnlockRequestBody::default(),
        flash.notice,
        flash.error,
        StatusCode::OK,
    )
    .await
}

async fn unlock_view_page(
    state: &AppState,
    user: &CurrentUser,
    form: UnlockRequestBody,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let page = async {
        let org_id = user
            .account()
            .org_id
            .ok_or(certdesk_domain::Refusal::Forbidden)?;
        let keys = crate::issuance::key_choices(state, org_id).await?;
        let orders = state
            .store
            .orders(&certdesk_store::OrderFilter {
                org_id: Some(org_id),
                kind: Some(BusinessType::Unlock),
                limit: 50,
                ..Default::default()
            })
            .await?;
        let mut requests = Vec::new();
        for order in &orders {
            if let Some(request) = state.store.unlock_request(order.id).await? {
                requests.push(unlock_view(state, user, order, &request).await?);
            }
        }
        let sandbox = crate::identity::sandbox_notices_of(state, &orders);
        Ok::<_, UnlockError>(UnlockPage {
            chrome: Chrome::new(user, "ca_unlock"),
            keys,
            requests,
            sandbox,
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
    let form: UnlockRequestBody = form_fields(&body);
    match create_unlock(&state, &user, &form).await {
        Ok(order) => {
            let told = format!(
                "已创建解锁申请 {}：请完成持锁人手机号实名核验后提交审核",
                order.order_no
            );
            crate::web::flash::put(&state, &user, Slot::Notice, &told).await;
            Redirect::to("/ca/unlock").into_response()
        }
        Err(err) => {
            let failure = PageFailure::from(err);
            if failure.belongs_on_the_page() {
                let status = failure.failure.status();
                unlock_view_page(&state, &user, form, None, Some(failure.message), status).await
            } else {
                failure.into_page()
            }
        }
    }
}

/// 持锁人手机号实名核验 from the page: send the code to the holder's mobile, or check it.
async fn identity_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let fields: crate::identity::MobileCheckForm = form_fields(&body);
    let result = async {
        let (_, request) = unlock_for(&state, &user, &order_no, Action::RunIdentityCheck).await?;
        let person = crate::identity::SealedPerson {
            name: &request.holder_name,
            id_number: &request.holder_id,
            mobile: &request.holder_mobile,
        };
        Ok::<_, UnlockError>(
            crate::identity::mobile_check_from_page(&state, &user, &order_no, person, &fields)
                .await?,
        )
    }
    .await
    .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/unlock", result, Slot::Error).await
}

async fn submit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let told = submit(&state, &user, &order_no)
        .await
        .map(|o| format!("解锁申请 {} 已提交，等待平台审核（1个工作日）", o.order_no))
        .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/unlock", told, Slot::Error).await
}
