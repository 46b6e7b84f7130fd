//! 业务单: the order list and detail (API and pages: timeline, deadline, what the viewer may do
//! next), the key holder's downloads, and 我的证书.

mod error;

pub(crate) use error::OrdersError;

use crate::issuance::certificate_pem;
use crate::pipeline::page_number;
use crate::web::pages::PageFailure;
use crate::AppState;
use certdesk_domain::{Actor, OrderAction, OrderStatus};

use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::{Path, Query};
use crate::web::routes::Registry;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use certdesk_domain::{Action, BusinessType, Relation, WorkCalendar};
use certdesk_store::{Order, OrderFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::pipeline::{facts_of, order_for, OrderView};
use crate::web::pages::{render, Chrome, PageUser};
use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use certdesk_domain::application::ApplicationForm;
use certdesk_domain::{certificate_state, mask_mobile, mask_resident_id, UploadKind};

#[derive(Deserialize, Default)]
pub(crate) struct OrderQuery {
    #[serde(default)]
    order_no: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    /// 1-based.
    #[serde(default)]
    page: Option<i64>,
}

const ORDERS_PER_PAGE: i64 = 20;

/// 业务单: the organisation's orders (organisation admin) or every organisation's (staff), newest
/// first, 20 a page.
#[utoipa::path(get, path = "/api/v1/orders",
    params(("order_no" = Option<String>, Query), ("status" = Option<String>, Query), ("kind" = Option<String>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, body = [OrderView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_orders_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<OrderQuery>,
) -> Result<Json<Vec<OrderView>>, ApiError> {
    let scope = relation_to(&user, None, user.account().org_id);
    require(&user, Action::ListOrders, scope)?;
    let non_empty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let order_no = non_empty(&query.order_no);
    let status = non_empty(&query.status)
        .map(|s| s.parse::<OrderStatus>())
        .transpose()
        .map_err(|e| OrdersError::InvalidStatus(e.to_string()))?;
    let kind = non_empty(&query.kind)
        .map(|k| k.parse::<BusinessType>())
        .transpose()
        .map_err(|e| OrdersError::InvalidKind(e.to_string()))?;
    let page = page_number(query.page);
    let orders = state
        .store
        .orders(&OrderFilter {
            // Staff see every organisation's; everyone else only their own.
            org_id: if scope == Relation::Platform {
                None
            } else {
                user.account().org_id
            },
            provider_id: None,
            order_no: order_no.as_deref(),
            status,
            kind,
            created_since: None,
            created_until: None,
            limit: ORDERS_PER_PAGE,
            offset: (page - 1) * ORDERS_PER_PAGE,
        })
        .await?;
    Ok(Json(orders.iter().map(OrderView::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct TimelineEntry {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct StepDeadline {
    pub working_days: u32,
    /// When the current step is due, Beijing time.
    pub due: String,
    pub overdue: bool,
    /// E.g. a year without holiday data: counted with weekends only.
    pub warnings: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: OrderView,
    pub timeline: Vec<TimelineEntry>,
    /// The working-day deadline of the current step, where the step has one.
    pub current_step: Option<StepDeadline>,
}

/// One order with its status timeline and the deadline of its current step.
#[utoipa::path(get, path = "/api/v1/orders/{order_no}", params(("order_no" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)))]
pub(crate) async fn order_detail_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<OrderDetail>, ApiError> {
    let order = crate::pipeline::order_for(&state, &user, &order_no, Action::ViewOrder).await?;
    let timeline = state
        .store
        .order_events(order.id)
        .await?
        .into_iter()
        .map(|e| TimelineEntry {
            time: crate::format_beijing(e.at),
            actor: e.actor_label,
            action: e.action.label_zh().to_string(),
            from_status: e.from_status.label_zh().to_string(),
            to_status: e.to_status.label_zh().to_string(),
            note: e.note,
        })
        .collect();
    let current_step = order
        .kind
        .workflow()
        .step_deadline(
            &WorkCalendar::china_builtin(),
            order.status,
            crate::beijing(order.updated_at),
        )
        .map(|deadline| StepDeadline {
            working_days: deadline.working_days,
            due: deadline.due.strftime("%Y-%m-%d %H:%M").to_string(),
            overdue: deadline.is_overdue(crate::beijing(state.now())),
            warnings: deadline.warnings.iter().map(ToString::to_string).collect(),
        });
    Ok(Json(OrderDetail {
        order: OrderView::from(&order),
        timeline,
        current_step,
    }))
}

pub(crate) fn register(registry: Registry) -> Registry {
    use Action::*;
    registry
        .get("/orders", ListOrders, orders_page)
        .get("/orders/{order_no}", ViewOrder, order_page)
        .get(
            "/orders/{order_no}/files/{file}",
            SubmitCertificateRequest,
            download_issued,
        )
        .get("/certificates", ListOrgCertificates, certificates_page)
        .get("/api/v1/orders", ListOrders, list_orders_api)
        .get("/api/v1/orders/{order_no}", ViewOrder, order_detail_api)
}

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
    orders: Vec<OrderRow>,
    /// Staff see every organisation's orders: the list names the applicant (申请单位).
    show_org: bool,
    query: OrdersPageQuery,
    statuses: Vec<(&'static str, &'static str)>,
    providers: Vec<(i64, String)>,
    page: i64,
    has_next: bool,
    base_query: String,
    error: Option<String>,
}

/// An order in the list, with its applicant's name for staff.
struct OrderRow {
    order: OrderView,
    org_name: String,
}

/// The rows of an order list; for staff, each names its organisation.
async fn order_rows(
    state: &AppState,
    orders: &[certdesk_store::Order],
    show_org: bool,
) -> Result<Vec<OrderRow>, OrdersError> {
    let names = if show_org {
        state
            .store
            .organisation_names(orders.iter().map(|o| o.org_id))
            .await?
    } else {
        Default::default()
    };
    Ok(orders
        .iter()
        .map(|order| OrderRow {
            order: OrderView::from(order),
            org_name: names.get(&order.org_id).cloned().unwrap_or_default(),
        })
        .collect())
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
) -> Result<Response, PageFailure> {
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
    let page = crate::pipeline::page_number(query.page);
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
    let show_org = scope == Relation::Platform;
    let rows = order_rows(&state, &orders, show_org).await?;
    Ok(render(
        &OrdersPage {
            chrome: Chrome::new(&user, "orders"),
            orders: rows,
            show_org,
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
    /// 变更 at the key holder's PC: the agent makes new key pairs in the key (this algorithm).
    agent_issue: Option<&'static str>,
    notice: Option<String>,
    error: Option<String>,
}

pub(crate) struct IssuedFiles {
    pub dual: bool,
    pub serial: String,
}

async fn order_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Result<Response, PageFailure> {
    let order = order_for(&state, &user, &order_no, Action::ViewOrder).await?;
    let status = order.status;
    let application = state.store.application(order.id).await?;
    // 新办's application is edited on its own pages; 补办's (copied from the key's 新办) is not.
    let rights = ViewerRights::decide(
        &state,
        &user,
        &order,
        status,
        application.is_some() && order.kind == BusinessType::NewCertificate,
        application.is_some(),
    )
    .await?;
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
        Some(application) => {
            let described = describe_application(&state, application, rights.reviewer).await?;
            if rights.reviewer {
                // Full ID numbers and mobiles were shown: who looked, and at which order.
                crate::web::audit_trail::record(
                    &state,
                    Some(user.account()),
                    Some(order.org_id),
                    certdesk_domain::AuditAction::PersonalDataViewed,
                    &format!("order:{}", order.order_no),
                    "查看申请资料（完整身份证号、手机号）",
                )
                .await;
            }
            described
        }
        // 解锁: the key, its holder and the reason; reviewers see the identity check too.
        None if order.kind == BusinessType::Unlock => {
            let mut summary: Vec<Summary> = crate::unlocks::summary(&state, &order)
                .await?
                .into_iter()
                .map(|(label, value)| Summary { label, value })
                .collect();
            if rights.reviewer {
                summary.push(Summary {
                    label: "持锁人身份核验",
                    value: identity_summary(&state, order.id).await?,
                });
            }
            DescribedApplication {
                summary,
                ..Default::default()
            }
        }
        None if order.kind == BusinessType::Revocation => {
            let mut summary: Vec<Summary> = crate::revocations::summary(&state, &order)
                .await?
                .into_iter()
                .map(|(label, value)| Summary { label, value })
                .collect();
            if rights.reviewer {
                summary.push(Summary {
                    label: "法定代表人短信确认",
                    value: identity_summary(&state, order.id).await?,
                });
            }
            DescribedApplication {
                summary,
                ..Default::default()
            }
        }
        None if order.kind == BusinessType::Renewal => {
            let mut summary: Vec<Summary> = crate::renewals::summary(&state, &order)
                .await?
                .into_iter()
                .map(|(label, value)| Summary { label, value })
                .collect();
            if rights.reviewer {
                summary.push(Summary {
                    label: "法定代表人身份核验",
                    value: identity_summary(&state, order.id).await?,
                });
            }
            DescribedApplication {
                summary,
                ..Default::default()
            }
        }
        None => DescribedApplication::default(),
    };
    // 补办: its application is the new key's; what it replaces is told besides.
    let mut described = described;
    if order.kind == BusinessType::Replacement {
        for (label, value) in crate::replacements::summary(&state, &order).await? {
            described.summary.push(Summary { label, value });
        }
    }
    if order.kind == BusinessType::Change {
        for (label, value) in crate::changes::summary(&state, &order).await? {
            described.summary.push(Summary { label, value });
        }
    }
    // 制证: the key the CA made the order's keys on.
    if let Some(production) = state.store.key_production(order.id).await? {
        described.summary.push(Summary {
            label: "CA锁ID",
            value: format!(
                "{}{}",
                production.key_serial,
                if production.written_at.is_some() {
                    "（CA已制证写入）"
                } else {
                    "（制证中）"
                }
            ),
        });
    }
    let documents = match &application {
        Some(_) if rights.may_see_documents => document_links(&state, &order).await?,
        _ => Vec::new(),
    };
    let issued = if rights.supplier_side {
        issued_files(&state, &order).await?
    } else {
        None
    };
    let agent_issue = described
        .algorithm
        .filter(|_| rights.can_submit_csr && order.kind == BusinessType::Change);
    let flash = crate::web::flash::take(&state, &user).await;
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
        agent_issue,
        notice: flash.notice,
        error: flash.error,
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
    /// Staff who review orders: they compare the form with the ID card scans, so they see the
    /// full ID numbers and mobiles (each viewing audited) and the identity check.
    reviewer: bool,
}

impl ViewerRights {
    async fn decide(
        state: &AppState,
        user: &CurrentUser,
        order: &Order,
        status: OrderStatus,
        editable_application: bool,
        issued_from_a_request: bool,
    ) -> Result<Self, OrdersError> {
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
            can_edit: editable_application
                && (may(OrderAction::Submit, Action::EditApplication)
                    || may(OrderAction::EditAndResubmit, Action::EditApplication)),
            can_pay: status == OrderStatus::AwaitingPayment
                && user.account().org_id == Some(order.org_id),
            can_withdraw: crate::payments::can_withdraw(state, user, order).await?,
            can_review: [OrderAction::ApproveInitial, OrderAction::ApproveSecond]
                .into_iter()
                .any(|a| may(a, Action::ReviewOrder))
                && !certdesk_domain::reviews_own_order(
                    order.on_behalf,
                    order.created_by,
                    user.account().id,
                ),
            can_submit_csr: status == OrderStatus::Issuing
                && supplier_side
                && issued_from_a_request,
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
            reviewer: permitted(Action::ReviewOrder),
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
    let _beijing = |unix: i64| {
        jiff::Timestamp::from_second(unix)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
            .datetime()
    };
    let deadline = order.kind.workflow().step_deadline(
        &WorkCalendar::china_builtin(),
        order.status,
        crate::beijing(order.updated_at),
    );
    let overdue = deadline
        .as_ref()
        .is_some_and(|d| d.is_overdue(crate::beijing(now)));
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
    /// The product's key algorithm as the CA and the agent name it (`sm2`, `p256`).
    algorithm: Option<&'static str>,
    summary: Vec<Summary>,
}

async fn describe_application(
    state: &AppState,
    application: &certdesk_store::Application,
    reviewer: bool,
) -> Result<DescribedApplication, OrdersError> {
    let facts = crate::products::product_facts(state, application.product_id)
        .await
        .ok();
    let product = facts
        .as_ref()
        .map(|p| format!("{}（{}年）", p.name, application.years))
        .unwrap_or_default();
    let algorithm = facts.map(|p| p.algorithm);
    let form: ApplicationForm = crate::applications::form_of(state, application)?;
    // Reviewers compare with the ID card scans: they see the numbers whole; others masked.
    let id_number = |id: &str| match (id.is_empty(), reviewer) {
        (true, _) => String::new(),
        (false, true) => id.to_string(),
        (false, false) => mask_resident_id(id),
    };
    let mobile = |m: &str| {
        if reviewer {
            m.to_string()
        } else {
            mask_mobile(m)
        }
    };
    let row = |label: &'static str, value: String| Summary { label, value };
    let o = &form.organisation;
    let mut summary = vec![
        row("单位名称", o.name.clone()),
        row("统一社会信用代码", o.credit_code.clone()),
    ];
    if reviewer {
        summary.extend([
            row("单位类型", o.org_type.clone()),
            row("单位地址", o.address.clone()),
            row("单位电话", o.phone.clone()),
            row("注册地", o.registration_place.clone()),
        ]);
    }
    let person = |p: &certdesk_domain::application::PersonPart| {
        let mut text = format!(
            "{} {} {}",
            p.name,
            id_number(&p.id_number),
            mobile(&p.mobile)
        );
        if reviewer && !p.email.is_empty() {
            text.push(' ');
            text.push_str(&p.email);
        }
        text
    };
    summary.push(row("法定代表人", person(&form.legal_rep)));
    summary.push(row("经办人", person(&form.handler)));
    summary.push(row(
        "领取方式",
        match form.delivery.method.as_str() {
            "mail" => format!(
                "邮寄：{} {} {}",
                form.delivery.recipient,
                mobile(&form.delivery.phone),
                form.delivery.address
            ),
            "pickup" => "现场领取".to_string(),
            "online" => "在线下载".to_string(),
            _ => "未选择".to_string(),
        },
    ));
    if reviewer {
        summary.push(row(
            "身份核验",
            identity_summary(state, application.order_id).await?,
        ));
    }
    Ok(DescribedApplication {
        product,
        algorithm,
        summary,
    })
}

/// The order's identity checks as a reviewer reads them: each method, when, and its outcome.
async fn identity_summary(state: &AppState, order_id: i64) -> Result<String, OrdersError> {
    let checks = state.store.identity_checks_of_order(order_id).await?;
    if checks.is_empty() {
        return Ok("未核验".to_string());
    }
    Ok(checks
        .iter()
        .map(|c| {
            let method = c
                .method
                .parse::<certdesk_domain::IdentityMethod>()
                .map(|m| m.label_zh())
                .unwrap_or("未知方式");
            let status = c
                .status
                .parse::<certdesk_domain::identity::CheckStatus>()
                .map(|s| s.label_zh())
                .unwrap_or("未知");
            let mut line = format!(
                "{method}（{}）：{status}",
                crate::format_beijing(c.updated_at)
            );
            if !c.failure.is_empty() {
                line.push_str(&format!("，{}", c.failure));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("；"))
}

/// The order's uploads of known kinds, as download links.
async fn document_links(state: &AppState, order: &Order) -> Result<Vec<DocumentLink>, OrdersError> {
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
async fn delivery_line(state: &AppState, order: &Order) -> Result<Option<String>, OrdersError> {
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
async fn issued_files(state: &AppState, order: &Order) -> Result<Option<IssuedFiles>, OrdersError> {
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

/// The files issued for an order: `sign.pem`, `enc.pem`, `envelope-gmt0009.der`,
/// `envelope-skf.bin`.
async fn download_issued(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path((order_no, file)): Path<(String, String)>,
) -> Result<Response, PageFailure> {
    let order = order_for(&state, &user, &order_no, Action::SubmitCertificateRequest).await?;
    let issuance = state
        .store
        .issuance(order.id)
        .await?
        .ok_or(OrdersError::NotIssued)?;
    let (bytes, mime): (Vec<u8>, &str) = match file.as_str() {
        "sign.pem" => (
            certificate_pem(
                &state,
                issuance
                    .signing_certificate_id
                    .ok_or(OrdersError::FileNotFound)?,
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
                    .ok_or(OrdersError::FileNotFound)?,
            )
            .await?
            .into_bytes(),
            "application/x-pem-file",
        ),
        "envelope-gmt0009.der" => (
            issuance.envelope_gmt0009.ok_or(OrdersError::FileNotFound)?,
            "application/octet-stream",
        ),
        "envelope-skf.bin" => (
            issuance.envelope_skf.ok_or(OrdersError::FileNotFound)?,
            "application/octet-stream",
        ),
        _ => return Err(OrdersError::FileNotFound.into()),
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

pub(crate) struct CertificateRow {
    pub serial: String,
    pub kind: &'static str,
    pub algorithm: &'static str,
    pub provider: String,
    pub valid_from: String,
    pub valid_to: String,
    pub state: &'static str,
    /// Whether the key's actions (解锁, 吊销) are offered on this row.
    pub key_actions: bool,
    /// Whether 续费 is offered: not for a certificate a renewal has replaced already.
    pub may_renew: bool,
    /// CA锁ID (the signing certificate's key identifier); empty on an encryption certificate's
    /// row.
    pub key_id: String,
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
) -> Result<Response, PageFailure> {
    let org_id = user.account().org_id.ok_or(OrdersError::Refused(
        certdesk_domain::permissions::Refusal::Forbidden,
    ))?;
    require(
        &user,
        Action::ListOrgCertificates,
        Relation::OwnOrganisation,
    )?;
    let now = state.now();
    let certificates = state.store.org_certificates(org_id).await?;
    let mut rows = Vec::with_capacity(certificates.len());
    for c in certificates {
        // The key's ID (CA锁ID) as the key and binding show it: the signing certificate's SKI.
        let key_id = match c.profile.as_str() {
            "sign" => state
                .store
                .certificate_der_by_id(c.certificate_id)
                .await?
                .and_then(|der| certdesk_ca::trust::describe(&der).ok())
                .map(|d| d.key_id)
                .unwrap_or_default(),
            _ => String::new(),
        };
        rows.push({
            let state = match c.revoked_at {
                Some(_) => {
                    certdesk_domain::certificate::revoked_state(c.revocation_reason.as_deref())
                }
                None => certificate_state(
                    c.order_status == OrderStatus::Completed.as_str(),
                    false,
                    c.not_before,
                    c.not_after,
                    now,
                ),
            };
            CertificateRow {
                kind: if c.profile == "enc" {
                    "加密证书"
                } else {
                    "签名证书"
                },
                algorithm: crate::issuance::algorithm_label(&c.algorithm),
                provider: c.provider_name,
                valid_from: crate::format_beijing(c.not_before),
                valid_to: crate::format_beijing(c.not_after),
                state: state.label_zh(),
                // The key's own actions go with its signing certificate.
                key_actions: c.profile == "sign"
                    && certdesk_domain::certificate::actions_apply(state),
                may_renew: !c.renewed,
                serial: c.serial_hex.to_uppercase(),
                key_id,
                order_no: c.order_no,
            }
        });
    }
    Ok(render(
        &CertificatesPage {
            chrome: Chrome::new(&user, "certificates"),
            rows,
        },
        StatusCode::OK,
    ))
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(list_orders_api, order_detail_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
