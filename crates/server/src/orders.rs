//! Order jobs that run without a user: closing orders left unpaid past the payment window.

use crate::AppState;
use certdesk_domain::{
    Actor, DeliveryMethod, OrderAction, OrderFacts, OrderStatus, SideEffect, Step, TransitionError,
    PAYMENT_WINDOW,
};
use certdesk_store::StepRecord;

/// Closes every order that has waited for payment longer than [`PAYMENT_WINDOW`] (30 minutes)
/// at `now`; answers how many were closed. An order paid meanwhile is left alone: the close is
/// compare-and-set on 待支付, and a payment that lands after the close is refunded. An order
/// whose bank-transfer receipt waits for an operator is not closed: the money is on its way.
pub async fn close_unpaid_orders(state: &AppState, now: i64) -> Result<usize, ApiError> {
    let cutoff = now - PAYMENT_WINDOW.as_secs();
    let mut closed = 0;
    for order in state
        .store
        .orders_in_status_since(OrderStatus::AwaitingPayment, cutoff)
        .await?
    {
        let transfers = state.store.offline_transfers_of_order(order.id).await?;
        if transfers.iter().any(|t| t.status == "pending") {
            continue;
        }
        let facts = OrderFacts {
            payment_window_expired: true,
            ..money_facts(&order, 0)
        };
        let Ok(step) = step_for(&order, OrderAction::CloseUnpaid, Actor::System, &facts) else {
            continue; // e.g. a free order: it does not wait for money.
        };
        // Closing gives the order's voucher back (the step's ReleaseVoucher), in its
        // transaction.
        let who = StepActor::of(None, &step);
        if state
            .store
            .apply_step(&who.record(now, &order, step, "超过30分钟未支付，订单已关闭"))
            .await?
        {
            closed += 1;
        }
    }
    Ok(closed)
}

// --- the 业务单 list and detail ----------------------------------------------------------------

use crate::auth::CurrentUser;
use crate::authz::{relation_to, require};
use crate::error::{ApiError, ErrorBody};
use crate::routes::Registry;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use certdesk_domain::{Action, BusinessType, Relation, WorkCalendar};
use certdesk_store::{Order, OrderFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    registry
        .get("/api/v1/orders", Action::ListOrders, list_orders_api)
        .get(
            "/api/v1/orders/{order_no}",
            Action::ViewOrder,
            order_detail_api,
        )
}

fn beijing(unix: i64) -> jiff::civil::DateTime {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .datetime()
}

#[derive(Serialize, ToSchema)]
pub struct OrderView {
    pub order_no: String,
    pub kind: String,
    /// 新办, 续费, 补办, 变更, 解锁
    pub kind_label: String,
    pub status: String,
    pub status_label: String,
    /// Yuan, two decimals.
    pub amount: String,
    /// 用户申请 or 操作员代办
    pub made_by: String,
    /// Beijing time.
    pub created_at: String,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            order_no: o.order_no.clone(),
            kind: o.kind.as_str().to_string(),
            kind_label: o.kind.label_zh().to_string(),
            status: o.status.as_str().to_string(),
            status_label: o.status.label_zh().to_string(),
            amount: certdesk_domain::product::yuan(o.amount_fen),
            made_by: if o.on_behalf {
                "操作员代办"
            } else {
                "用户申请"
            }
            .to_string(),
            created_at: crate::format_beijing(o.created_at),
        }
    }
}

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
        .map_err(|e| ApiError::unprocessable("invalid_status", e.to_string()))?;
    let kind = non_empty(&query.kind)
        .map(|k| k.parse::<BusinessType>())
        .transpose()
        .map_err(|e| ApiError::unprocessable("invalid_kind", e.to_string()))?;
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
    let order = crate::orders::order_for(&state, &user, &order_no, Action::ViewOrder).await?;
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
            beijing(order.updated_at),
        )
        .map(|deadline| StepDeadline {
            working_days: deadline.working_days,
            due: deadline.due.strftime("%Y-%m-%d %H:%M").to_string(),
            overdue: deadline.is_overdue(beijing(state.now())),
            warnings: deadline.warnings.iter().map(ToString::to_string).collect(),
        });
    Ok(Json(OrderDetail {
        order: OrderView::from(&order),
        timeline,
        current_step,
    }))
}

// --- reviews (初审 / 复审) ----------------------------------------------------------------------

pub(crate) fn register_reviews(registry: Registry) -> Registry {
    registry
        .get(
            "/api/v1/reviews/initial",
            Action::ReviewOrder,
            initial_queue_api,
        )
        .get(
            "/api/v1/reviews/second",
            Action::ReviewOrder,
            second_queue_api,
        )
        .post(
            "/api/v1/orders/{order_no}/review",
            Action::ReviewOrder,
            review_api,
        )
}

#[derive(Serialize, ToSchema)]
pub struct QueueEntry {
    pub order: OrderView,
    /// When the review is due, Beijing time.
    pub due: Option<String>,
    pub overdue: bool,
}

pub(crate) async fn review_queue(
    state: &AppState,
    user: &CurrentUser,
    status: OrderStatus,
) -> Result<Vec<QueueEntry>, ApiError> {
    require(user, Action::ReviewOrder, Relation::Platform)?;
    let calendar = WorkCalendar::china_builtin();
    let now = beijing(state.now());
    // Oldest first: the order waiting longest is reviewed first.
    let orders = state.store.orders_in_status_since(status, i64::MAX).await?;
    Ok(orders
        .iter()
        .map(|order| {
            let deadline =
                order
                    .kind
                    .workflow()
                    .step_deadline(&calendar, status, beijing(order.updated_at));
            QueueEntry {
                order: OrderView::from(order),
                due: deadline
                    .as_ref()
                    .map(|d| d.due.strftime("%Y-%m-%d %H:%M").to_string()),
                overdue: deadline.is_some_and(|d| d.is_overdue(now)),
            }
        })
        .collect())
}

/// 初审 queue (platform operators), oldest first, with each order's deadline.
#[utoipa::path(get, path = "/api/v1/reviews/initial", responses((status = 200, body = [QueueEntry]), (status = 403, body = ErrorBody)))]
pub(crate) async fn initial_queue_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    Ok(Json(
        review_queue(&state, &user, OrderStatus::AwaitingInitialReview).await?,
    ))
}

/// 复审 queue (CA officers), oldest first, with each order's deadline.
#[utoipa::path(get, path = "/api/v1/reviews/second", responses((status = 200, body = [QueueEntry]), (status = 403, body = ErrorBody)))]
pub(crate) async fn second_queue_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    Ok(Json(
        review_queue(&state, &user, OrderStatus::AwaitingSecondReview).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// `approve` or `reject`.
    pub decision: String,
    /// Required when rejecting: the applicant sees it.
    #[serde(default)]
    pub reason: String,
}

/// Approve or reject the review the order is waiting for (初审 by an operator, 复审 by a CA
/// officer). A rejection carries the reason the applicant sees.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/review", params(("order_no" = String, Path)), request_body = ReviewDecision,
    responses((status = 200, body = OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn review_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::api::ApiJson(req): crate::api::ApiJson<ReviewDecision>,
) -> Result<Json<OrderView>, ApiError> {
    let order = crate::orders::order_for(&state, &user, &order_no, Action::ReviewOrder).await?;
    let approve = match req.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_decision",
                "审核结论应为 approve（通过）或 reject（驳回）",
            ))
        }
    };
    let final_status = review_order(&state, &user, &order, approve, &req.reason).await?;
    Ok(Json(OrderView::from(&Order {
        status: final_status,
        ..order
    })))
}

/// 初审 or 复审, whichever the order waits for: approve, or reject with the reason the
/// applicant sees. A mobile product's certificates are made as soon as 复审 passes, for the key
/// pairs the CA holds.
pub(crate) async fn review_order(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    approve: bool,
    reason: &str,
) -> Result<OrderStatus, ApiError> {
    let reason = reason.trim();
    if !approve && reason.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
            "驳回时请填写原因，申请人将看到这一原因",
        ));
    }
    let action = match (order.status, approve) {
        (OrderStatus::AwaitingSecondReview, true) => OrderAction::ApproveSecond,
        (OrderStatus::AwaitingSecondReview, false) => OrderAction::RejectSecond,
        (_, true) => OrderAction::ApproveInitial,
        (_, false) => OrderAction::RejectInitial,
    };
    let (after, step) = act_on_order(state, Some(user), order, action, reason).await?;
    // A paid order sent back is refunded by the system (guide 002: 审批退回后会自动退款).
    if step.has(SideEffect::RefundIfPaid)
        && facts_of(state, order).await?.paid_amount_fen > 0
        && crate::payments::refund_paid_order(state, &after).await?
    {
        return Ok(OrderStatus::Refunding);
    }
    if step.has(SideEffect::IssueHeldKeys) {
        if let Some(issued) = crate::issuance::issue_if_held(state, &after).await? {
            return Ok(issued);
        }
    }
    Ok(after.status)
}

/// The order `order_no`, if the user may `action` on it; another organisation's answers 404,
/// as if it did not exist.
pub(crate) async fn order_for(
    state: &AppState,
    user: &CurrentUser,
    order_no: &str,
    action: Action,
) -> Result<Order, ApiError> {
    let order = state
        .store
        .order_by_no(order_no)
        .await?
        .ok_or_else(ApiError::not_found)?;
    require(user, action, relation_to(user, None, Some(order.org_id)))?;
    Ok(order)
}

// --- one way to move an order ------------------------------------------------------------------

/// The facts the state machine needs about an order: what is due, what was paid, how the
/// certificate is delivered (from its application; mail when it has none), and, waiting for
/// issuance, why the CA would refuse it.
pub(crate) async fn facts_of(state: &AppState, order: &Order) -> Result<OrderFacts, ApiError> {
    let paid: i64 = state
        .store
        .payments_of_order(order.id)
        .await?
        .iter()
        .map(|p| p.amount_fen)
        .sum();
    let delivery = match state.store.application(order.id).await? {
        Some(application) => match application.delivery_method.as_str() {
            "pickup" => DeliveryMethod::Pickup,
            "online" => DeliveryMethod::Online,
            _ => DeliveryMethod::Mail,
        },
        None => DeliveryMethod::Mail,
    };
    Ok(OrderFacts {
        delivery,
        cannot_issue: crate::issuability::cannot_issue(state, order).await?,
        ..money_facts(order, paid)
    })
}

/// The facts of an order for steps about money (paying, closing, withdrawing, refunding), where
/// the delivery method plays no part: what is due and what was paid.
pub(crate) fn money_facts(order: &Order, paid_fen: i64) -> OrderFacts {
    OrderFacts {
        amount_due_fen: u64::try_from(order.amount_fen).unwrap_or(0),
        paid_amount_fen: u64::try_from(paid_fen).unwrap_or(0),
        payment_window_expired: false,
        delivery: DeliveryMethod::Mail,
        cannot_issue: None,
    }
}

/// Who takes a step, as the history and the audit log name them.
pub(crate) struct StepActor {
    account_id: Option<i64>,
    /// The history's label: the account name, marked 操作员代办 when an operator takes a
    /// supplier's step; 系统 or 支付网关 without an account.
    history_label: String,
    /// The audit entry's: the account name, `-` without one.
    audit_label: String,
}

impl StepActor {
    /// `user`, or the system when there is none.
    pub(crate) fn of(user: Option<&CurrentUser>, step: &Step) -> StepActor {
        match user {
            None => StepActor::unnamed("系统"),
            Some(user) => {
                let name = &user.account().username;
                StepActor {
                    account_id: Some(user.account().id),
                    history_label: if step.on_behalf() {
                        format!("{name}（操作员代办）")
                    } else {
                        name.clone()
                    },
                    audit_label: name.clone(),
                }
            }
        }
    }

    /// A payment gateway's notification.
    pub(crate) fn gateway() -> StepActor {
        StepActor::unnamed("支付网关")
    }

    fn unnamed(label: &str) -> StepActor {
        StepActor {
            account_id: None,
            history_label: label.to_string(),
            audit_label: "-".to_string(),
        }
    }

    /// The step as the store applies it (with the data its writes need, in one call).
    pub(crate) fn record<'a>(
        &'a self,
        at: i64,
        order: &'a Order,
        step: Step,
        note: &'a str,
    ) -> StepRecord<'a> {
        StepRecord {
            order,
            step,
            at,
            actor_account_id: self.account_id,
            actor_label: &self.history_label,
            audit_actor: &self.audit_label,
            note,
        }
    }
}

/// The one place a step is made: `action` by `actor` on `order`, checked against its business
/// type's workflow table with `facts`.
pub(crate) fn step_for(
    order: &Order,
    action: OrderAction,
    actor: Actor,
    facts: &OrderFacts,
) -> Result<Step, TransitionError> {
    order
        .kind
        .workflow()
        .step(order.status, action, actor, facts)
}

/// Checks `action` by `user` (or the system) against the workflow and applies it with its
/// history entry, its store-made side writes and its audit record in one transaction; answers
/// the order after it, and the step (whose follow-ups the caller runs: the table names them).
/// Refusals change nothing. A free order that passes initial review skips the cashier at once
/// (the step's SkipPaymentIfFree). A step whose writes need data (payment, issuance, delivery,
/// refund) is applied by its feature's store call instead.
pub(crate) async fn act_on_order(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    action: OrderAction,
    note: &str,
) -> Result<(Order, Step), ApiError> {
    let CheckedStep { step, facts } = checked_step(state, user, order, action).await?;
    if let Some(effect) = step
        .effects()
        .iter()
        .find(|e| e.is_write() && **e != SideEffect::ReleaseVoucher && step.has(**e))
    {
        return Err(ApiError::internal(format!(
            "{} needs the data of {effect:?}: apply it with its store call",
            step.action()
        )));
    }
    let who = StepActor::of(user, &step);
    if !state
        .store
        .apply_step(&who.record(state.now(), order, step, note))
        .await?
    {
        return Err(order_changed());
    }
    let after = order.after(&step);
    if step.has(SideEffect::SkipPaymentIfFree) && facts.is_free() {
        let (free, _) = Box::pin(act_on_order(
            state,
            None,
            &after,
            OrderAction::SkipPaymentFree,
            "免费订单，无需支付",
        ))
        .await?;
        return Ok((free, step));
    }
    Ok((after, step))
}

/// A step the rules allow, not yet applied, with the facts it was checked against: for
/// callers that write more with it (issuance, delivery, payments) in the same transaction.
pub(crate) struct CheckedStep {
    pub step: Step,
    pub facts: OrderFacts,
}

pub(crate) async fn checked_step(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    action: OrderAction,
) -> Result<CheckedStep, ApiError> {
    let facts = facts_of(state, order).await?;
    let actor = user.map_or(Actor::System, |u| Actor::Role(u.role()));
    let step = step_for(order, action, actor, &facts).map_err(transition_refused)?;
    Ok(CheckedStep { step, facts })
}

/// A refusal of the state machine as the API answers it: 403 when the role may not take the
/// step at all, 409 when the order is not in a status (or state) that allows it.
pub(crate) fn transition_refused(err: TransitionError) -> ApiError {
    match err {
        TransitionError::NotAllowedForActor { .. } => {
            ApiError::new(StatusCode::FORBIDDEN, "not_your_step", err.to_string())
        }
        other => ApiError::conflict("transition_refused", other.to_string()),
    }
}

pub(crate) fn order_changed() -> ApiError {
    ApiError::conflict("order_changed", "订单状态已被他人更新，请刷新后再处理")
}

/// The page asked for in a list, from 1 up to a bound that keeps `(page - 1) × page size`
/// far from overflowing whatever number arrives in the query.
pub(crate) fn page_number(asked: Option<i64>) -> i64 {
    const MAX_PAGE: i64 = 1_000_000;
    asked.unwrap_or(1).clamp(1, MAX_PAGE)
}
