//! 补办 (DOMAIN.md, business type 3): a new key for a lost or damaged one, or after a CA
//! upgrade. The organisation's admin (or an operator for it) names the old key, the reason,
//! whether the archived SM2 encryption key pair is to be restored into the new key (so that
//! bids sealed to the old certificate still open; otherwise they must be sealed again), and how
//! the new key is delivered; pays; the CA reviews; the new key is made and its certificates
//! issued as a 新办's are (the order carries an application copied from the key's 新办), and
//! the old certificates are revoked with the issuance (keyCompromise for a lost key,
//! superseded otherwise: `issuance::revoke_replaced`).

mod error;

pub use error::ReplacementError;

use crate::pipeline::{order_for, with_fresh_order_number, OrderView};
use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Path, Query};
use crate::web::flash::Slot;
use crate::web::json::ApiJson;
use crate::web::pages::{render, Chrome, PageFailure, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::application::DeliveryPart;
use certdesk_domain::replacement::ReplacementReason;
use certdesk_domain::{Action, BusinessType, DeliveryChoice, OrderAction, OrderStatus};
use certdesk_store::{NewApplication, NewOrder, NewReplacement, Order, ReplacementRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/ca/replace", ListOrgCertificates, replace_page)
        .post("/ca/replace", ApplyForCertificate, create_page)
        .post(
            "/orders/{order_no}/replacement/submit",
            EditApplication,
            submit_page,
        )
        .post("/api/v1/replacements", ApplyForCertificate, create_api)
        .get("/api/v1/replacements/{order_no}", ViewOrder, view_api)
        .post(
            "/api/v1/replacements/{order_no}/submit",
            EditApplication,
            submit_api,
        )
}

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ReplacementRequestBody {
    /// The old key's signing certificate serial (证书序列号), hex.
    #[serde(default)]
    pub key_serial: String,
    /// `lost` (原CA锁丢失: the old certificates are revoked as keyCompromise), `damaged` or
    /// `ca_upgrade`.
    #[serde(default)]
    pub reason: String,
    /// Restore the archived SM2 encryption key pair into the new key (audited), so that files
    /// sealed to the old encryption certificate still open.
    #[serde(default)]
    pub restore_encryption_key: bool,
    /// How the new key is delivered: `mail` (recipient, phone, address) or `pickup`.
    #[serde(default)]
    pub delivery: DeliveryBody,
    #[serde(default)]
    pub voucher: Option<String>,
    /// For an operator's 代办: the organisation's credit code.
    #[serde(default)]
    pub for_credit_code: Option<String>,
}

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct DeliveryBody {
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub recipient: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
}

async fn replacing_org(
    state: &AppState,
    user: &CurrentUser,
    for_credit_code: Option<&str>,
) -> Result<i64, ReplacementError> {
    let org_id = crate::applications::applying_org(state, user, for_credit_code).await?;
    require(
        user,
        Action::ApplyForCertificate,
        relation_to(user, None, Some(org_id)),
    )?;
    Ok(org_id)
}

async fn create_replacement(
    state: &AppState,
    user: &CurrentUser,
    req: &ReplacementRequestBody,
) -> Result<Order, ReplacementError> {
    let org_id = replacing_org(state, user, req.for_credit_code.as_deref()).await?;
    let serial = req.key_serial.trim();
    let reason = ReplacementReason::parse(&req.reason)
        .filter(|r| r.is_for_replacement_orders())
        .ok_or(ReplacementError::InvalidReason)?;
    let (held, source) = crate::issuance::replaceable_key(state, org_id, serial).await??;
    if req.restore_encryption_key
        && state
            .store
            .key_certificate_serials(held.certificate_id)
            .await?
            .len()
            < 2
    {
        return Err(ReplacementError::NothingToRestore);
    }
    let delivery = DeliveryPart {
        method: req.delivery.method.trim().to_string(),
        recipient: req.delivery.recipient.trim().to_string(),
        phone: req.delivery.phone.trim().to_string(),
        address: req.delivery.address.trim().to_string(),
    };
    let problems = delivery.validate(DeliveryChoice::UKey);
    if !problems.is_empty() {
        return Err(ReplacementError::Delivery(problems));
    }
    // The new key's application: the key's 新办 form with this delivery.
    let mut form = crate::applications::form_of(state, &source)?;
    form.delivery = delivery;
    let form_json = crate::applications::sealed_form(state, &form)?;
    let now = state.now();
    let voucher = req
        .voucher
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let (_, quote) = crate::products::price_replacement(
        state,
        &crate::products::OrderPricing {
            org_id,
            product_id: source.product_id,
            years: 1,
            sub_certificates: 0,
            voucher,
            order_id: None,
            now,
        },
    )
    .await?;
    let voucher = voucher.and_then(certdesk_domain::product::normalise_voucher_code);
    let detail = format!(
        "补办：{}，原证书 {}{}",
        reason.label_zh(),
        held.serial_hex.to_uppercase(),
        if req.restore_encryption_key {
            "，申请恢复原加密密钥"
        } else {
            ""
        }
    );
    let on_behalf = user.account().org_id.is_none();
    let created = with_fresh_order_number(now, |order_no| {
        let application = NewApplication {
            provider_id: source.provider_id,
            product_id: source.product_id,
            years: source.years,
            voucher_code: voucher.as_deref(),
            delivery_method: &form.delivery.method,
            form_json: &form_json,
        };
        let detail = &detail;
        let certificate_id = held.certificate_id;
        async move {
            state
                .store
                .create_replacement_order(
                    &NewOrder {
                        order_no: &order_no,
                        org_id,
                        kind: BusinessType::Replacement,
                        amount_fen: quote.amount_due_fen,
                        created_by: user.account().id,
                        on_behalf,
                        created_at: now,
                    },
                    &application,
                    &NewReplacement {
                        certificate_id,
                        reason: reason.as_str(),
                        restore_encryption_key: req.restore_encryption_key,
                    },
                    &certdesk_store::AuditNote {
                        at: now,
                        actor_account_id: Some(user.account().id),
                        actor_label: &user.account().username,
                        org_id: Some(org_id),
                        detail,
                    },
                )
                .await
        }
    })
    .await;
    match created {
        Err(certdesk_store::StoreError::Conflict("replacement")) => {
            Err(ReplacementError::AlreadyReplacing)
        }
        other => Ok(other?),
    }
}

async fn replacement_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<(Order, ReplacementRequest), ReplacementError> {
    let order = order_for(state, user, order_no, action).await?;
    if order.kind != BusinessType::Replacement {
        return Err(ReplacementError::NotAReplacement);
    }
    let request = state
        .store
        .replacement_request(order.id)
        .await?
        .ok_or(ReplacementError::NotAReplacement)?;
    Ok((order, request))
}

/// 提交 (the price fixed, the voucher redeemed; a free one goes straight to review), or
/// 修改后重新提交 after a rejection (the payment kept).
async fn submit(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
) -> Result<Order, ReplacementError> {
    let (order, _) = replacement_for(state, user, order_no, Action::EditApplication).await?;
    if order.status == OrderStatus::Rejected {
        let (after, _) = crate::pipeline::act_on_order(
            state,
            Some(user),
            &order,
            OrderAction::EditAndResubmit,
            "",
        )
        .await?;
        return Ok(after);
    }
    let application = state
        .store
        .application(order.id)
        .await?
        .ok_or(ReplacementError::NotAReplacement)?;
    let now = state.now();
    let (_, quote) = crate::products::price_replacement(
        state,
        &crate::products::OrderPricing {
            org_id: order.org_id,
            product_id: application.product_id,
            years: 1,
            sub_certificates: 0,
            voucher: application.voucher_code.as_deref(),
            order_id: Some(order.id),
            now,
        },
    )
    .await?;
    crate::pipeline::submit_at_price(
        state,
        user,
        &order,
        quote.amount_due_fen,
        application.voucher_code.as_deref(),
    )
    .await?
    .map_err(ReplacementError::VoucherRefused)
}

#[derive(Serialize, ToSchema)]
pub struct ReplacementView {
    pub order: OrderView,
    /// The old key's signing certificate, upper-case hex.
    pub key_serial: String,
    pub reason: String,
    pub reason_label: String,
    pub restore_encryption_key: bool,
    /// What the supplier must know about files sealed to the old encryption certificate.
    pub encryption_note: String,
    /// When the old certificates were revoked (once the new ones were issued), Beijing time.
    pub replaced_at: Option<String>,
}

fn replacement_view(order: &Order, request: &ReplacementRequest) -> ReplacementView {
    let reason = ReplacementReason::parse(&request.reason);
    ReplacementView {
        order: OrderView::from(order),
        key_serial: request.serial_hex.to_uppercase(),
        reason: request.reason.clone(),
        reason_label: reason.map(|r| r.label_zh()).unwrap_or("").to_string(),
        restore_encryption_key: request.restore_encryption_key,
        encryption_note: encryption_note(request.restore_encryption_key).to_string(),
        replaced_at: request.replaced_at.map(crate::format_beijing),
    }
}

fn encryption_note(restore: bool) -> &'static str {
    if restore {
        "原加密证书的托管加密密钥将恢复至新CA锁，用原CA锁加密的投标文件仍可解密"
    } else {
        "新CA锁使用新的加密密钥：用原CA锁加密的投标文件需重新加密后再上传"
    }
}

/// For the order page: what the 补办 is, as (label, value).
pub(crate) async fn summary(
    state: &AppState,
    order: &Order,
) -> Result<Vec<(&'static str, String)>, ReplacementError> {
    let Some(request) = state.store.replacement_request(order.id).await? else {
        return Ok(Vec::new());
    };
    let view = replacement_view(order, &request);
    let mut rows = vec![
        ("原CA锁证书", view.key_serial),
        ("补办原因", view.reason_label),
        ("加密密钥", view.encryption_note),
    ];
    if let Some(at) = view.replaced_at {
        rows.push(("原证书", format!("已于 {at} 吊销")));
    }
    Ok(rows)
}

#[utoipa::path(post, path = "/api/v1/replacements", request_body = ReplacementRequestBody,
    responses((status = 201, body = ReplacementView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_api(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ReplacementRequestBody>,
) -> Result<(StatusCode, Json<ReplacementView>), ApiError> {
    let order = create_replacement(&state, &user, &req).await?;
    let (order, request) =
        replacement_for(&state, &user, &order.order_no, Action::ViewOrder).await?;
    Ok((
        StatusCode::CREATED,
        Json(replacement_view(&order, &request)),
    ))
}

#[utoipa::path(get, path = "/api/v1/replacements/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = ReplacementView), (status = 404, body = ErrorBody)))]
pub(crate) async fn view_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<ReplacementView>, ApiError> {
    let (order, request) = replacement_for(&state, &user, &order_no, Action::ViewOrder).await?;
    Ok(Json(replacement_view(&order, &request)))
}

#[utoipa::path(post, path = "/api/v1/replacements/{order_no}/submit", params(("order_no" = String, Path)),
    responses((status = 200, body = ReplacementView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn submit_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<ReplacementView>, ApiError> {
    let order = submit(&state, &user, &order_no).await?;
    let request = state
        .store
        .replacement_request(order.id)
        .await
        .map_err(ReplacementError::from)?
        .ok_or(ReplacementError::NotAReplacement)?;
    Ok(Json(replacement_view(&order, &request)))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create_api, view_api, submit_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

// --- the page -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "replace.html")]
struct ReplacePage {
    chrome: Chrome,
    /// The organisation's keys: (serial, what it is), and the one preselected.
    keys: Vec<(String, String)>,
    chosen: String,
    orders: Vec<ReplacementView>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct KeyQuery {
    /// A certificate to preselect (from 我的证书).
    #[serde(default)]
    key: String,
}

async fn replace_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<KeyQuery>,
) -> Response {
    let flash = crate::web::flash::take(&state, &user).await;
    let page = async {
        let org_id = user
            .account()
            .org_id
            .ok_or(certdesk_domain::Refusal::Forbidden)?;
        let keys = crate::issuance::key_choices(&state, org_id).await?;
        let orders = state
            .store
            .orders(&certdesk_store::OrderFilter {
                org_id: Some(org_id),
                kind: Some(BusinessType::Replacement),
                limit: 20,
                ..Default::default()
            })
            .await?;
        let mut views = Vec::with_capacity(orders.len());
        for order in &orders {
            if let Some(request) = state.store.replacement_request(order.id).await? {
                views.push(replacement_view(order, &request));
            }
        }
        Ok::<_, ReplacementError>(ReplacePage {
            chrome: Chrome::new(&user, "ca_replace"),
            keys,
            chosen: query.key.trim().to_uppercase(),
            orders: views,
            notice: flash.notice,
            error: flash.error,
        })
    };
    match page.await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(err) => PageFailure::from(err).into_page(),
    }
}

/// The page's form, flat.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ReplaceForm {
    key_serial: String,
    reason: String,
    restore_encryption_key: Option<String>,
    delivery_method: String,
    recipient: String,
    phone: String,
    address: String,
    voucher: String,
}

async fn create_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    body: Bytes,
) -> Response {
    let form: ReplaceForm = crate::web::pages::form_fields(&body);
    let req = ReplacementRequestBody {
        key_serial: form.key_serial,
        reason: form.reason,
        restore_encryption_key: form.restore_encryption_key.is_some(),
        delivery: DeliveryBody {
            method: form.delivery_method,
            recipient: form.recipient,
            phone: form.phone,
            address: form.address,
        },
        voucher: Some(form.voucher).filter(|v| !v.trim().is_empty()),
        for_credit_code: None,
    };
    let result = create_replacement(&state, &user, &req)
        .await
        .map(|order| {
            format!(
                "已生成补办业务单 {}，请核对后点击“提交并支付”",
                order.order_no
            )
        })
        .map_err(PageFailure::from);
    crate::web::flash::back_with(&state, &user, "/ca/replace", result, Slot::Error).await
}

async fn submit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    match submit(&state, &user, &order_no).await {
        Ok(order) if order.status == OrderStatus::AwaitingPayment => {
            Redirect::to(&format!("/orders/{}/pay", order.order_no)).into_response()
        }
        result => {
            let told = result
                .map(|o| {
                    format!(
                        "补办业务单 {} 已提交，现为“{}”，CA审核1个工作日",
                        o.order_no,
                        o.status.label_zh()
                    )
                })
                .map_err(PageFailure::from);
            crate::web::flash::back_with(&state, &user, "/ca/replace", told, Slot::Error).await
        }
    }
}
