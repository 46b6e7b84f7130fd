//! 业务单 pages and the steps after payment: the order list and detail (timeline, deadline,
//! what the viewer may do next), the review queues, issuance from the key holder's CSR,
//! delivery by courier or at the counter, the supplier's receipt, and 我的证书.

use crate::auth::CurrentUser;
use crate::authz::{relation_to, require};
use crate::error::{ApiError, ErrorBody};
use crate::issuance::issue_for_order;
use crate::orders::{
    act_on_order, checked_step, facts_of, order_changed, order_for, review_order, CheckedStep,
    OrderView, StepActor,
};
use crate::pages::{form_fields, render, Chrome, PageUser};
use crate::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use certdesk_domain::application::ApplicationForm;
use certdesk_domain::{
    certificate_state, mask_mobile, mask_resident_id, Action, Actor, BusinessType, OrderAction,
    OrderStatus, Relation, UploadKind, WorkCalendar,
};
use certdesk_store::{Order, OrderFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/orders", ListOrders, orders_page)
        .get("/orders/{order_no}", ViewOrder, order_page)
        .post("/orders/{order_no}/review", ReviewOrder, review_page)
        .post("/orders/{order_no}/csr", SubmitCertificateRequest, csr_page)
        .post("/orders/{order_no}/ship", DeliverOrder, ship_page)
        .post("/orders/{order_no}/pickup", DeliverOrder, pickup_page)
        .post("/orders/{order_no}/receipt", ConfirmReceipt, receipt_page)
        .get(
            "/orders/{order_no}/files/{file}",
            SubmitCertificateRequest,
            download_issued,
        )
        .get("/reviews/initial", ReviewOrder, |s, u| {
            queue_page(s, u, OrderStatus::AwaitingInitialReview)
        })
        .get("/reviews/second", ReviewOrder, |s, u| {
            queue_page(s, u, OrderStatus::AwaitingSecondReview)
        })
        .get("/certificates", ListOrgCertificates, certificates_page)
        .post(
            "/api/v1/orders/{order_no}/csr",
            SubmitCertificateRequest,
            csr_api,
        )
        .post("/api/v1/orders/{order_no}/ship", DeliverOrder, ship_api)
        .post(
            "/api/v1/orders/{order_no}/ready-for-pickup",
            DeliverOrder,
            pickup_api,
        )
        .post(
            "/api/v1/orders/{order_no}/confirm-receipt",
            ConfirmReceipt,
            receipt_api,
        )
}

/// Ships a key by courier (已发证 → 配送中), with the courier and tracking number.
pub(crate) async fn ship(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    courier: &str,
    tracking_no: &str,
) -> Result<OrderStatus, ApiError> {
    let (courier, tracking_no) = (courier.trim(), tracking_no.trim());
    if courier.is_empty() || courier.chars().count() > 30 {
        return Err(ApiError::unprocessable(
            "courier_invalid",
            "请填写快递公司（不超过30个字）",
        ));
    }
    if tracking_no.len() < 6
        || tracking_no.len() > 40
        || !tracking_no
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::unprocessable(
            "tracking_no_invalid",
            "快递单号应为6–40位字母或数字",
        ));
    }
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::Ship).await?;
    let who = StepActor::of(Some(user), &step);
    let note = format!("{courier} {tracking_no}");
    let moved = state
        .store
        .ship_order(
            order.id,
            courier,
            tracking_no,
            &who.record(state.now(), order, step, &note),
        )
        .await?;
    if !moved {
        return Err(order_changed());
    }
    Ok(step.to())
}

/// 确认收货: the supplier has its key (or downloaded its mobile certificate).
pub(crate) async fn confirm_receipt(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
) -> Result<OrderStatus, ApiError> {
    let CheckedStep { step, .. } =
        checked_step(state, Some(user), order, OrderAction::ConfirmReceipt).await?;
    let who = StepActor::of(Some(user), &step);
    let moved = state
        .store
        .confirm_receipt(order.id, &who.record(state.now(), order, step, ""))
        .await?;
    if !moved {
        return Err(order_changed());
    }
    Ok(step.to())
}

// --- API ------------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrRequest {
    /// PKCS#10, PEM.
    #[serde(default)]
    pub csr: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedView {
    pub order: OrderView,
    /// The signing certificate, PEM.
    pub signing_certificate: String,
    pub encryption_certificate: Option<String>,
    /// GM/T 0009 SM2EnvelopedKey of the encryption key, base64 DER.
    pub envelope_gmt0009: Option<String>,
    /// GM/T 0016 ENVELOPEDKEYBLOB, base64.
    pub envelope_skf: Option<String>,
}

async fn issued_view(state: &AppState, order: &Order) -> Result<IssuedView, ApiError> {
    use base64::Engine as _;
    let issuance = state
        .store
        .issuance(order.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let pem_of = |id: Option<i64>| async move {
        match id {
            Some(id) => Ok::<_, ApiError>(Some(certificate_pem(state, id).await?)),
            None => Ok(None),
        }
    };
    Ok(IssuedView {
        order: OrderView::from(order),
        signing_certificate: pem_of(issuance.signing_certificate_id)
            .await?
            .unwrap_or_default(),
        encryption_certificate: pem_of(issuance.encryption_certificate_id).await?,
        envelope_gmt0009: issuance
            .envelope_gmt0009
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        envelope_skf: issuance
            .envelope_skf
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
    })
}

async fn certificate_pem(state: &AppState, certificate_id: i64) -> Result<String, ApiError> {
    use base64::Engine as _;
    let der = state
        .store
        .certificate_der_by_id(certificate_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    Ok(pem)
}

/// The key holder's CSR for an order in 制证中: the CA issues, the order moves to 已发证.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/csr", params(("order_no" = String, Path)), request_body = CsrRequest,
    responses((status = 201, body = IssuedView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn csr_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::api::ApiJson(req): crate::api::ApiJson<CsrRequest>,
) -> Result<(StatusCode, Json<IssuedView>), ApiError> {
    let order = order_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
    let status = issue_for_order(&state, &user, &order, req.csr.as_bytes()).await?;
    let order = Order { status, ..order };
    Ok((
        StatusCode::CREATED,
        Json(issued_view(&state, &order).await?),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    #[serde(default)]
    pub courier: String,
    #[serde(default)]
    pub tracking_no: String,
}

/// 邮寄发货: the operator enters the courier and tracking number.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/ship", params(("order_no" = String, Path)), request_body = ShipRequest,
    responses((status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn ship_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::api::ApiJson(req): crate::api::ApiJson<ShipRequest>,
) -> Result<Json<OrderView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
    let status = ship(&state, &user, &order, &req.courier, &req.tracking_no).await?;
    Ok(Json(OrderView::from(&Order { status, ..order })))
}

/// 通知现场领取.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/ready-for-pickup", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn pickup_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
    let (after, _) =
        act_on_order(&state, Some(&user), &order, OrderAction::ReadyForPickup, "").await?;
    Ok(Json(OrderView::from(&after)))
}

/// 确认收货.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/confirm-receipt", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn receipt_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::ConfirmReceipt).await?;
    let status = confirm_receipt(&state, &user, &order).await?;
    Ok(Json(OrderView::from(&Order { status, ..order })))
}

// --- pages ----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct OrdersPageQuery {
    order_no: String,
    kind: String,
    status: String,
    provider: String,
    from: String,
    to: String,
    page: Option<i64>,
}

const PAGE_SIZE: i64 = 20;

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    chrome: Chrome,
    orders: Vec<OrderView>,
    query: OrdersPageQuery,
    statuses: Vec<(&'static str, &'static str)>,
    providers: Vec<(i64, String)>,
    page: i64,
    has_next: bool,
    base_query: String,
    error: Option<String>,
}

/// Beijing midnight of a `YYYY-MM-DD` date, as Unix seconds.
fn day_start(date: &str) -> Option<i64> {
    let date: jiff::civil::Date = date.trim().parse().ok()?;
    date.to_datetime(jiff::civil::Time::midnight())
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .ok()
        .map(|z| z.timestamp().as_second())
}

async fn orders_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<OrdersPageQuery>,
) -> Result<Response, ApiError> {
    let scope = relation_to(&user, None, user.account().org_id);
    require(&user, Action::ListOrders, scope)?;
    let mut error = None;
    let mut date = |value: &str, label: &str, add_day: bool| {
        if value.trim().is_empty() {
            return None;
        }
        match day_start(value) {
            Some(t) => Some(if add_day { t + 86_400 } else { t }),
            None => {
                error = Some(format!("{label}应为日期，如 2026-11-23"));
                None
            }
        }
    };
    let since = date(&query.from, "开始日期", false);
    let until = date(&query.to, "结束日期", true);
    let page = crate::orders::page_number(query.page);
    let trimmed = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    let order_no = trimmed(&query.order_no);
    let kind = match trimmed(&query.kind).map(|k| k.parse::<BusinessType>()) {
        Some(Err(_)) => {
            error = Some("业务类型不在可选范围内".to_string());
            None
        }
        other => other.and_then(Result::ok),
    };
    let status = match trimmed(&query.status).map(|s| s.parse::<OrderStatus>()) {
        Some(Err(_)) => {
            error = Some("订单状态不在可选范围内".to_string());
            None
        }
        other => other.and_then(Result::ok),
    };
    // A filter that names no type or status there is lists nothing (and says why).
    let unknown_filter = (!query.kind.trim().is_empty() && kind.is_none())
        || (!query.status.trim().is_empty() && status.is_none());
    let mut orders = state
        .store
        .orders(&OrderFilter {
            org_id: if scope == Relation::Platform {
                None
            } else {
                user.account().org_id
            },
            provider_id: query.provider.trim().parse().ok(),
            order_no: order_no.as_deref(),
            status,
            kind,
            created_since: since,
            created_until: until,
            // One more than shown, to know whether there is a next page.
            limit: PAGE_SIZE + 1,
            offset: (page - 1) * PAGE_SIZE,
        })
        .await?;
    if unknown_filter {
        orders.clear();
    }
    let has_next = orders.len() as i64 > PAGE_SIZE;
    orders.truncate(PAGE_SIZE as usize);
    let base_query = serde_urlencoded::to_string([
        ("order_no", query.order_no.as_str()),
        ("kind", query.kind.as_str()),
        ("status", query.status.as_str()),
        ("provider", query.provider.as_str()),
        ("from", query.from.as_str()),
        ("to", query.to.as_str()),
    ])
    .unwrap_or_default();
    let providers = state
        .store
        .ca_providers()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    Ok(render(
        &OrdersPage {
            chrome: Chrome::new(&user, "orders"),
            orders: orders.iter().map(OrderView::from).collect(),
            query,
            statuses: OrderStatus::ALL
                .iter()
                .map(|s| (s.as_str(), s.label_zh()))
                .collect(),
            providers,
            page,
            has_next,
            base_query,
            error,
        },
        StatusCode::OK,
    ))
}

pub(crate) struct TimelineRow {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub to_status: String,
    pub note: String,
}

pub(crate) struct Summary {
    pub label: &'static str,
    pub value: String,
}

pub(crate) struct DocumentLink {
    pub kind: &'static str,
    pub label: &'static str,
    pub file_name: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    order: OrderView,
    product: String,
    deadline: Option<String>,
    overdue: bool,
    rejection: Option<String>,
    summary: Vec<Summary>,
    documents: Vec<DocumentLink>,
    timeline: Vec<TimelineRow>,
    delivery: Option<String>,
    /// What the viewer may do now (the state machine's answer for its role).
    can_edit: bool,
    can_pay: bool,
    can_withdraw: bool,
    can_review: bool,
    can_submit_csr: bool,
    can_ship: bool,
    can_pickup: bool,
    can_confirm: bool,
    /// 无法制证退款 (operators), with why the CA would refuse the order.
    cannot_issue: Option<String>,
    can_refund_unissuable: bool,
    issued: Option<IssuedFiles>,
    notice: Option<String>,
    error: Option<String>,
}

pub(crate) struct IssuedFiles {
    pub dual: bool,
    pub serial: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct OrderPageQuery {
    submitted: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

async fn order_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    Query(query): Query<OrderPageQuery>,
) -> Result<Response, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::ViewOrder).await?;
    let status = order.status;
    let application = state.store.application(order.id).await?;
    let rights = ViewerRights::decide(&state, &user, &order, status, application.is_some()).await?;
    let events = state.store.order_events(order.id).await?;
    let rejection = (status == OrderStatus::Rejected)
        .then(|| {
            events
                .iter()
                .rev()
                .find(|e| e.to_status == OrderStatus::Rejected)
                .map(|e| e.note.clone())
        })
        .flatten();
    let (deadline, overdue) = step_deadline(&order, state.now());
    let described = match &application {
        Some(application) => describe_application(&state, application).await?,
        None => DescribedApplication::default(),
    };
    let documents = match &application {
        Some(_) if rights.may_see_documents => document_links(&state, &order).await?,
        _ => Vec::new(),
    };
    let issued = if rights.supplier_side {
        issued_files(&state, &order).await?
    } else {
        None
    };
    let notice = if query.submitted.is_some() {
        Some("申请已提交，等待平台初审".to_string())
    } else {
        query.done.clone()
    };
    let page = OrderPage {
        chrome: Chrome::new(&user, "orders"),
        order: OrderView::from(&order),
        product: described.product,
        deadline,
        overdue,
        rejection,
        summary: described.summary,
        documents,
        timeline: events.into_iter().map(timeline_row).collect(),
        delivery: delivery_line(&state, &order).await?,
        can_edit: rights.can_edit,
        can_pay: rights.can_pay,
        can_withdraw: rights.can_withdraw,
        can_review: rights.can_review,
        can_submit_csr: rights.can_submit_csr,
        can_ship: rights.can_ship,
        can_pickup: rights.can_pickup,
        can_confirm: rights.can_confirm,
        cannot_issue: rights.cannot_issue,
        can_refund_unissuable: rights.can_refund_unissuable,
        issued,
        notice,
        error: query.error,
    };
    Ok(render(&page, StatusCode::OK))
}

/// What the viewer of an order page may do now: the state machine's answer for its role,
/// within what the role is permitted on this organisation's orders.
struct ViewerRights {
    can_edit: bool,
    can_pay: bool,
    can_withdraw: bool,
    can_review: bool,
    can_submit_csr: bool,
    can_ship: bool,
    can_pickup: bool,
    can_confirm: bool,
    /// Why the CA would refuse this order's certificate now, if it would.
    cannot_issue: Option<String>,
    can_refund_unissuable: bool,
    /// The uploaded documents are listed: only for roles that may open them.
    may_see_documents: bool,
    /// The key holder's side: sends the CSR and downloads what was issued.
    supplier_side: bool,
}

impl ViewerRights {
    async fn decide(
        state: &AppState,
        user: &CurrentUser,
        order: &Order,
        status: OrderStatus,
        has_application: bool,
    ) -> Result<Self, ApiError> {
        let facts = facts_of(state, order).await?;
        let actions =
            order
                .kind
                .workflow()
                .available_actions(status, Actor::Role(user.role()), &facts);
        let permitted = |permission: Action| {
            certdesk_domain::permits(
                user.role(),
                permission,
                relation_to(user, None, Some(order.org_id)),
            )
        };
        let may = |action: OrderAction, permission: Action| {
            actions.contains(&action) && permitted(permission)
        };
        let supplier_side = permitted(Action::SubmitCertificateRequest);
        Ok(ViewerRights {
            can_edit: has_application
                && (may(OrderAction::Submit, Action::EditApplication)
                    || may(OrderAction::EditAndResubmit, Action::EditApplication)),
            can_pay: status == OrderStatus::AwaitingPayment
                && user.account().org_id == Some(order.org_id),
            can_withdraw: crate::payments::can_withdraw(state, user, order).await?,
            can_review: [OrderAction::ApproveInitial, OrderAction::ApproveSecond]
                .into_iter()
                .any(|a| may(a, Action::ReviewOrder)),
            can_submit_csr: status == OrderStatus::Issuing && supplier_side,
            can_ship: may(OrderAction::Ship, Action::DeliverOrder),
            can_pickup: may(OrderAction::ReadyForPickup, Action::DeliverOrder),
            can_confirm: may(OrderAction::ConfirmReceipt, Action::ConfirmReceipt),
            cannot_issue: facts.cannot_issue.map(|e| e.to_string()),
            can_refund_unissuable: may(
                OrderAction::RefundUnissuable,
                Action::RefundUnissuableOrder,
            ),
            may_see_documents: permitted(Action::ViewOrderDocument),
            supplier_side,
        })
    }
}

/// One order event as the timeline shows it, in Chinese where the names are known.
fn timeline_row(e: certdesk_store::OrderEvent) -> TimelineRow {
    TimelineRow {
        time: crate::format_beijing(e.at),
        actor: e.actor_label,
        action: e.action.label_zh().to_string(),
        to_status: e.to_status.label_zh().to_string(),
        note: e.note,
    }
}

/// When the current step is due (working days, Beijing time), and whether that has passed.
fn step_deadline(order: &Order, now: i64) -> (Option<String>, bool) {
    let beijing = |unix: i64| {
        jiff::Timestamp::from_second(unix)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
            .datetime()
    };
    let deadline = order.kind.workflow().step_deadline(
        &WorkCalendar::china_builtin(),
        order.status,
        beijing(order.updated_at),
    );
    let overdue = deadline
        .as_ref()
        .is_some_and(|d| d.is_overdue(beijing(now)));
    let deadline = deadline.map(|d| {
        format!(
            "当前环节应于 {} 前完成（{}个工作日）",
            d.due.strftime("%Y-%m-%d %H:%M"),
            d.working_days
        )
    });
    (deadline, overdue)
}

/// The application behind an order as its page sums it up: ID numbers and mobiles masked.
#[derive(Default)]
struct DescribedApplication {
    /// The product and its term, e.g. 单位证书（1年）.
    product: String,
    summary: Vec<Summary>,
}

async fn describe_application(
    state: &AppState,
    application: &certdesk_store::Application,
) -> Result<DescribedApplication, ApiError> {
    let product = crate::products::product_facts(state, application.product_id)
        .await
        .map(|p| format!("{}（{}年）", p.name, application.years))
        .unwrap_or_default();
    let form: ApplicationForm = crate::applications::form_of(application)?;
    let masked_id = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            mask_resident_id(id)
        }
    };
    let o = &form.organisation;
    let summary = vec![
        Summary {
            label: "单位名称",
            value: o.name.clone(),
        },
        Summary {
            label: "统一社会信用代码",
            value: o.credit_code.clone(),
        },
        Summary {
            label: "法定代表人",
            value: format!(
                "{} {} {}",
                form.legal_rep.name,
                masked_id(&form.legal_rep.id_number),
                mask_mobile(&form.legal_rep.mobile)
            ),
        },
        Summary {
            label: "经办人",
            value: format!(
                "{} {} {}",
                form.handler.name,
                masked_id(&form.handler.id_number),
                mask_mobile(&form.handler.mobile)
            ),
        },
        Summary {
            label: "领取方式",
            value: match form.delivery.method.as_str() {
                "mail" => format!(
                    "邮寄：{} {} {}",
                    form.delivery.recipient,
                    mask_mobile(&form.delivery.phone),
                    form.delivery.address
                ),
                "pickup" => "现场领取".to_string(),
                "online" => "在线下载".to_string(),
                _ => "未选择".to_string(),
            },
        },
    ];
    Ok(DescribedApplication { product, summary })
}

/// The order's uploads of known kinds, as download links.
async fn document_links(state: &AppState, order: &Order) -> Result<Vec<DocumentLink>, ApiError> {
    Ok(state
        .store
        .order_uploads(order.id)
        .await?
        .into_iter()
        .filter_map(|upload| {
            let kind = upload.kind.parse::<UploadKind>().ok()?;
            Some(DocumentLink {
                kind: kind.as_str(),
                label: kind.label_zh(),
                file_name: upload.file_name,
            })
        })
        .collect())
}

/// The courier and tracking number once the certificate was sent.
async fn delivery_line(state: &AppState, order: &Order) -> Result<Option<String>, ApiError> {
    Ok(state.store.delivery(order.id).await?.and_then(|d| {
        d.tracking_no.map(|t| {
            format!(
                "{} {}（{}发出）",
                d.courier.unwrap_or_default(),
                t,
                d.shipped_at.map(crate::format_beijing).unwrap_or_default()
            )
        })
    }))
}

/// What was issued for the order, once its signing certificate exists.
async fn issued_files(state: &AppState, order: &Order) -> Result<Option<IssuedFiles>, ApiError> {
    let Some(issuance) = state.store.issuance(order.id).await? else {
        return Ok(None);
    };
    let Some(id) = issuance.signing_certificate_id else {
        return Ok(None);
    };
    Ok(Some(IssuedFiles {
        dual: issuance.encryption_certificate_id.is_some(),
        serial: state
            .store
            .certificate_serial_by_id(id)
            .await?
            .unwrap_or_default(),
    }))
}

/// After a page form: back to the order with what happened, or why not.
pub(crate) fn back_to_order(order_no: &str, result: Result<String, ApiError>) -> Response {
    let query = match result {
        Ok(done) => serde_urlencoded::to_string([("done", done)]),
        Err(err)
            if err.status.is_client_error()
                && !matches!(err.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) =>
        {
            serde_urlencoded::to_string([("error", err.message)])
        }
        Err(err) => return err.into_response(),
    };
    Redirect::to(&format!("/orders/{order_no}?{}", query.unwrap_or_default())).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ReviewForm {
    decision: String,
    reason: String,
}

async fn review_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let order = order_for(&state, &user, &order_no, Action::ReviewOrder).await?;
        let form: ReviewForm = form_fields(&body);
        let approve = form.decision == "approve";
        let to = review_order(&state, &user, &order, approve, &form.reason).await?;
        let done = if approve { "审核通过" } else { "已驳回" };
        Ok(format!("{done}，订单现为“{}”", to.label_zh()))
    }
    .await;
    back_to_order(&order_no, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CsrForm {
    csr: String,
}

async fn csr_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let order = order_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
        let form: CsrForm = form_fields(&body);
        if form.csr.trim().is_empty() {
            return Err(ApiError::unprocessable(
                "csr_required",
                "请粘贴证书请求（CSR，以 -----BEGIN CERTIFICATE REQUEST----- 开头）",
            ));
        }
        issue_for_order(&state, &user, &order, form.csr.as_bytes()).await?;
        Ok("证书已签发，请下载证书写入CA锁".to_string())
    }
    .await;
    back_to_order(&order_no, result)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ShipForm {
    courier: String,
    tracking_no: String,
}

async fn ship_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
        let form: ShipForm = form_fields(&body);
        ship(&state, &user, &order, &form.courier, &form.tracking_no).await?;
        Ok("已登记发货".to_string())
    }
    .await;
    back_to_order(&order_no, result)
}

async fn pickup_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let result = async {
        let order = order_for(&state, &user, &order_no, Action::DeliverOrder).await?;
        act_on_order(&state, Some(&user), &order, OrderAction::ReadyForPickup, "").await?;
        Ok("已通知申请人现场领取".to_string())
    }
    .await;
    back_to_order(&order_no, result)
}

async fn receipt_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Response {
    let result = async {
        let order = order_for(&state, &user, &order_no, Action::ConfirmReceipt).await?;
        confirm_receipt(&state, &user, &order).await?;
        Ok("已确认收货，证书已生效".to_string())
    }
    .await;
    back_to_order(&order_no, result)
}

/// The files issued for an order: `sign.pem`, `enc.pem`, `envelope-gmt0009.der`,
/// `envelope-skf.bin`.
async fn download_issued(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((order_no, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let order = order_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
    let issuance = state
        .store
        .issuance(order.id)
        .await?
        .ok_or_else(|| ApiError::conflict("not_issued", "该订单的证书尚未签发"))?;
    let (bytes, mime): (Vec<u8>, &str) = match file.as_str() {
        "sign.pem" => (
            certificate_pem(
                &state,
                issuance
                    .signing_certificate_id
                    .ok_or_else(ApiError::not_found)?,
            )
            .await?
            .into_bytes(),
            "application/x-pem-file",
        ),
        "enc.pem" => (
            certificate_pem(
                &state,
                issuance
                    .encryption_certificate_id
                    .ok_or_else(ApiError::not_found)?,
            )
            .await?
            .into_bytes(),
            "application/x-pem-file",
        ),
        "envelope-gmt0009.der" => (
            issuance.envelope_gmt0009.ok_or_else(ApiError::not_found)?,
            "application/octet-stream",
        ),
        "envelope-skf.bin" => (
            issuance.envelope_skf.ok_or_else(ApiError::not_found)?,
            "application/octet-stream",
        ),
        _ => return Err(ApiError::not_found()),
    };
    Ok((
        [
            (CONTENT_TYPE, mime.to_string()),
            (CACHE_CONTROL, "private, no-store".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{order_no}-{file}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub(crate) struct QueueRow {
    pub order: OrderView,
    pub org_name: String,
    pub due: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    title: &'static str,
    hint: &'static str,
    rows: Vec<QueueRow>,
}

async fn queue_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    status: OrderStatus,
) -> Result<Response, ApiError> {
    require(&user, Action::ReviewOrder, Relation::Platform)?;
    let entries = crate::orders::review_queue(&state, &user, status).await?;
    let mut rows = Vec::new();
    for entry in entries {
        let org_name = match state.store.order_by_no(&entry.order.order_no).await? {
            Some(order) => state
                .store
                .organisation_by_id(order.org_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_default(),
            None => continue,
        };
        rows.push(QueueRow {
            org_name,
            due: entry.due.unwrap_or_default(),
            overdue: entry.overdue,
            order: entry.order,
        });
    }
    let (title, hint, active) = if status == OrderStatus::AwaitingSecondReview {
        (
            "复审（CA审核）",
            "已支付（或免费）的申请，由CA审核员复审；通过后进入制证。最早提交的排在最前。",
            "reviews_second",
        )
    } else {
        (
            "初审",
            "申请人提交的新办申请，由平台审核员核对资料与身份核验结果；通过后申请人付款。最早提交的排在最前，时限按工作日计算（16:40后提交的从下一个工作日起算）。",
            "reviews_initial",
        )
    };
    Ok(render(
        &ReviewsPage {
            chrome: Chrome::new(&user, active),
            title,
            hint,
            rows,
        },
        StatusCode::OK,
    ))
}

pub(crate) struct CertificateRow {
    pub serial: String,
    pub kind: &'static str,
    pub algorithm: &'static str,
    pub provider: String,
    pub valid_from: String,
    pub valid_to: String,
    pub state: &'static str,
    pub order_no: String,
}

#[derive(Template)]
#[template(path = "certificates.html")]
struct CertificatesPage {
    chrome: Chrome,
    rows: Vec<CertificateRow>,
}

async fn certificates_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
) -> Result<Response, ApiError> {
    let org_id = user.account().org_id.ok_or_else(ApiError::forbidden)?;
    require(
        &user,
        Action::ListOrgCertificates,
        Relation::OwnOrganisation,
    )?;
    let now = state.now();
    let rows = state
        .store
        .org_certificates(org_id)
        .await?
        .into_iter()
        .map(|c| CertificateRow {
            kind: if c.profile == "enc" {
                "加密证书"
            } else {
                "签名证书"
            },
            algorithm: crate::issuance::algorithm_label(&c.algorithm),
            provider: c.provider_name,
            valid_from: crate::format_beijing(c.not_before),
            valid_to: crate::format_beijing(c.not_after),
            state: certificate_state(
                c.order_status == OrderStatus::Completed.as_str(),
                c.revoked_at.is_some(),
                c.not_before,
                c.not_after,
                now,
            )
            .label_zh(),
            serial: c.serial_hex,
            order_no: c.order_no,
        })
        .collect();
    Ok(render(
        &CertificatesPage {
            chrome: Chrome::new(&user, "certificates"),
            rows,
        },
        StatusCode::OK,
    ))
}
