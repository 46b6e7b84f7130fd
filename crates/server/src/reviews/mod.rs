//! 初审 and 复审: the review queues of platform operators and CA officers, and their decisions
//! (a paid order sent back is refunded; a held-key order approved at 复审 is issued at once).

mod error;

pub(crate) use error::ReviewError;

use crate::pipeline::back_to_order;
use crate::web::pages::PageFailure;
use crate::AppState;
use certdesk_domain::{OrderAction, OrderStatus, SideEffect};

use crate::web::auth::CurrentUser;
use crate::web::authz::require;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Path;
use crate::web::routes::Registry;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use certdesk_domain::{Action, Relation, WorkCalendar};
use certdesk_store::Order;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::pipeline::{act_on_order, facts_of, order_for, OrderView};
use crate::web::pages::{form_fields, render, Chrome, PageUser};
use askama::Template;
use axum::body::Bytes;
use axum::response::Response;

pub(crate) fn register(registry: Registry) -> Registry {
    registry
        .post(
            "/orders/{order_no}/review",
            Action::ReviewOrder,
            review_page,
        )
        .get("/reviews/initial", Action::ReviewOrder, |s, u| {
            queue_page(s, u, OrderStatus::AwaitingInitialReview)
        })
        .get("/reviews/second", Action::ReviewOrder, |s, u| {
            queue_page(s, u, OrderStatus::AwaitingSecondReview)
        })
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
    /// For the page's 申请单位 column; not part of the API's answer.
    #[serde(skip)]
    pub org_id: i64,
    /// When the review is due, Beijing time.
    pub due: Option<String>,
    pub overdue: bool,
}

pub(crate) async fn review_queue(
    state: &AppState,
    user: &CurrentUser,
    status: OrderStatus,
) -> Result<Vec<QueueEntry>, ReviewError> {
    require(user, Action::ReviewOrder, Relation::Platform)?;
    let calendar = WorkCalendar::china_builtin();
    let now = crate::beijing(state.now());
    // Oldest first: the order waiting longest is reviewed first.
    let orders = state.store.orders_in_status_since(status, i64::MAX).await?;
    Ok(orders
        .iter()
        .map(|order| {
            let deadline = order.kind.workflow().step_deadline(
                &calendar,
                status,
                crate::beijing(order.updated_at),
            );
            QueueEntry {
                order: OrderView::from(order),
                org_id: order.org_id,
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
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<ReviewDecision>,
) -> Result<Json<OrderView>, ApiError> {
    let order = crate::pipeline::order_for(&state, &user, &order_no, Action::ReviewOrder).await?;
    let approve = match req.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ReviewError::InvalidDecision.into()),
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
) -> Result<OrderStatus, ReviewError> {
    let reason = reason.trim();
    if !approve && reason.is_empty() {
        return Err(ReviewError::ReasonRequired);
    }
    if certdesk_domain::reviews_own_order(order.on_behalf, order.created_by, user.account().id) {
        return Err(ReviewError::OwnOrder);
    }
    let action = match (order.status, approve) {
        (OrderStatus::AwaitingSecondReview, true) => OrderAction::ApproveSecond,
        (OrderStatus::AwaitingSecondReview, false) => OrderAction::RejectSecond,
        (_, true) => OrderAction::ApproveInitial,
        (_, false) => OrderAction::RejectInitial,
    };
    // A step whose write needs its feature's data is applied by that feature, as the table
    // names it: an unlock's approval writes the 解锁授权码, a revocation's revokes at the CA.
    let effects = order
        .kind
        .workflow()
        .rule_for(order.status, action)
        .map_or(&[][..], |rule| rule.effects);
    if effects.contains(&SideEffect::IssueUnlockCode) {
        return Ok(crate::unlocks::approve(state, user, order, reason)
            .await
            .map_err(ReviewError::Unlock)?
            .status);
    }
    if effects.contains(&SideEffect::ApplyChange) {
        return Ok(crate::changes::approve(state, user, order, reason)
            .await
            .map_err(ReviewError::Change)?
            .status);
    }
    if effects.contains(&SideEffect::RevokeCertificate) {
        return Ok(crate::revocations::approve(state, user, order, reason)
            .await
            .map_err(ReviewError::Revocation)?
            .status);
    }
    let (after, step) = act_on_order(state, Some(user), order, action, reason).await?;
    // A paid order sent back is refunded by the system (guide 002: 审批退回后会自动退款).
    if step.has(SideEffect::RefundIfPaid)
        && facts_of(state, order).await?.paid_amount_fen > 0
        && crate::payments::refund_paid_order(state, &after)
            .await
            .map_err(ReviewError::Refund)?
    {
        return Ok(OrderStatus::Refunding);
    }
    if step.has(SideEffect::IssueHeldKeys) {
        if let Some(issued) = crate::issuance::issue_if_held(state, &after).await? {
            return Ok(issued);
        }
    }
    if step.has(SideEffect::RenewHeldKeys) {
        if let Some(renewed) = crate::renewals::renew_held_keys(state, &after)
            .await
            .map_err(ReviewError::Renewal)?
        {
            return Ok(renewed);
        }
    }
    Ok(after.status)
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
    let result: Result<String, ReviewError> = async {
        let order = order_for(&state, &user, &order_no, Action::ReviewOrder).await?;
        let form: ReviewForm = form_fields(&body);
        let approve = form.decision == "approve";
        let to = review_order(&state, &user, &order, approve, &form.reason).await?;
        let done = if approve { "审核通过" } else { "已驳回" };
        Ok(format!("{done}，订单现为“{}”", to.label_zh()))
    }
    .await;
    back_to_order(&state, &user, &order_no, result).await
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
) -> Result<Response, PageFailure> {
    require(&user, Action::ReviewOrder, Relation::Platform)?;
    let entries = crate::reviews::review_queue(&state, &user, status).await?;
    let names = state
        .store
        .organisation_names(entries.iter().map(|e| e.org_id))
        .await?;
    let rows: Vec<QueueRow> = entries
        .into_iter()
        .map(|entry| QueueRow {
            org_name: names.get(&entry.org_id).cloned().unwrap_or_default(),
            due: entry.due.unwrap_or_default(),
            overdue: entry.overdue,
            order: entry.order,
        })
        .collect();
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

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(initial_queue_api, second_queue_api, review_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
