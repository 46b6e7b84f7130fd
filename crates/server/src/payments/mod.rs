//! Payments: the gateway's signed, asynchronous notifications, applied exactly once.
//!
//! The gateway here is the built-in **sandbox gateway**: it follows the rules of the real
//! Alipay/WeChat Pay notification protocols that matter to us — notifications are signed with
//! a shared secret (HMAC-SHA256 over the exact body bytes), arrive asynchronously, may repeat,
//! may arrive out of order (a late "waiting" after "success"), and must be acknowledged with
//! `success` or the gateway keeps sending. A real gateway plugs in behind the same route with
//! its own signature scheme.
//!
//! Also here: what follows from money moving — withdrawal (撤销) with its refund through the
//! gateway that took the payment ([`withdraw_order`]), refunds of payments that landed on
//! closed orders, and offline bank transfers (线下转账) confirmed by an operator.

mod cashier;
mod error;
mod gateway;

pub(crate) use error::PaymentError;

pub use gateway::{
    GatewayNotification, NotificationError, NotificationKind, PaymentGateway, RefundRequest,
    SandboxGateway,
};

use crate::pipeline::{money_facts, step_for, StepActor, StepError};
use crate::web::auth::CurrentUser;
use crate::web::authz::{relation_to, require};
use crate::web::error::ApiError;
use crate::web::error::ErrorBody;
use crate::web::extract::{Path, Query};
use crate::web::routes::Registry;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use certdesk_domain::product::yuan;
use certdesk_domain::Relation;
use certdesk_domain::{Action, Actor, AuditAction, OrderAction, OrderStatus, SideEffect, Step};
use certdesk_domain::{OrderFacts, PAYMENT_WINDOW};
use certdesk_store::{
    NewOfflineTransfer, NewRefund, OfflineTransfer, Order, Payment, PaymentOutcome, StoreError,
    TransferConfirmation,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const SANDBOX_GATEWAY: &str = "sandbox";
pub const SIGNATURE_HEADER: &str = "x-sandbox-signature";

/// The payment routes; the sandbox gateway's payer pages and notify route only when it is in
/// use.
pub(crate) fn register(registry: Registry, sandbox: bool) -> Registry {
    let registry = cashier::register(registry, sandbox);
    let registry = if sandbox {
        registry.post(
            "/api/v1/payments/sandbox/notify",
            Action::ReceivePaymentNotification,
            sandbox_notify,
        )
    } else {
        registry
    };
    registry
        .post(
            "/api/v1/orders/{order_no}/withdraw",
            Action::WithdrawOrder,
            withdraw_api,
        )
        .post(
            "/api/v1/orders/{order_no}/refund-unissuable",
            Action::RefundUnissuableOrder,
            refund_unissuable_api,
        )
        .post(
            "/orders/{order_no}/refund-unissuable",
            Action::RefundUnissuableOrder,
            refund_unissuable_page,
        )
        .post(
            "/api/v1/orders/{order_no}/refund/confirm",
            Action::ConfirmRefund,
            confirm_offline_refund_api,
        )
        .post(
            "/api/v1/orders/{order_no}/refund/retry",
            Action::ConfirmRefund,
            retry_refund_api,
        )
        .post(
            "/api/v1/orders/{order_no}/offline-transfer",
            Action::PayOrder,
            axum::handler::Handler::layer(
                submit_offline_transfer_api,
                axum::extract::DefaultBodyLimit::max(crate::UPLOAD_BODY_LIMIT),
            ),
        )
        .get(
            "/api/v1/transfers",
            Action::ConfirmOfflinePayment,
            pending_transfers_api,
        )
        .post(
            "/api/v1/transfers/{transfer_id}/decision",
            Action::ConfirmOfflinePayment,
            transfer_decision_api,
        )
}

/// The sandbox gateway's notification body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxNotification {
    pub gateway_txn: String,
    pub order_no: String,
    pub amount_fen: i64,
    /// `WAIT_BUYER_PAY`, `TRADE_SUCCESS` or `TRADE_CLOSED`, as Alipay names them.
    pub trade_status: String,
    pub notified_at: i64,
}

/// HMAC-SHA256 of the body under the sandbox secret, hex: what the sandbox gateway sends in
/// `X-Sandbox-Signature`.
pub fn sandbox_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_key());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

// HMAC takes keys of any length; this cannot happen.
fn unreachable_key() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(b"").expect("HMAC accepts every key length")
}

pub(crate) fn signature_is_valid(secret: &[u8], body: &[u8], presented: &str) -> bool {
    let Ok(presented) = hex::decode(presented.trim()) else {
        return false;
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_key());
    mac.update(body);
    mac.verify_slice(&presented).is_ok()
}

/// What the gateway must see to stop resending.
fn acknowledged() -> Response {
    (StatusCode::OK, "success").into_response()
}

/// The gateway that offline bank transfers are recorded under.
pub const OFFLINE_GATEWAY: &str = "offline";
/// A receipt may be 5 MB; the body limit leaves room above it, so that the upload rules (not
/// the transport) say what was too large.
/// The longest withdrawal or rejection reason kept.
const MAX_REASON_CHARS: usize = 200;

/// The sandbox payment gateway's notification (signed: `X-Sandbox-Signature`): payments
/// (`TRADE_SUCCESS`), refunds (`REFUND_SUCCESS`), and statuses that change nothing. Answers
/// `success` once handled, repeats included.
#[utoipa::path(post, path = "/api/v1/payments/sandbox/notify", request_body = SandboxNotification,
    responses((status = 200, description = "success"), (status = 400, body = crate::web::error::ErrorBody), (status = 404, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub(crate) async fn sandbox_notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let notification = crate::payments::gateway::parse_sandbox_notification(
        &state.config.sandbox_payment_secret,
        &headers,
        &body,
    )
    .map_err(|err| match err {
        NotificationError::BadSignature => {
            tracing::warn!("payment notification with a bad signature refused");
            PaymentError::SignatureInvalid(err.to_string())
        }
        NotificationError::Malformed(_) => PaymentError::InvalidNotification(err.to_string()),
    })?;
    apply_notification(&state, SANDBOX_GATEWAY, &notification).await?;
    Ok(acknowledged())
}

async fn order_by_no(state: &AppState, order_no: &str) -> Result<Order, PaymentError> {
    state
        .store
        .order_by_no(order_no)
        .await?
        .ok_or(PaymentError::OrderNotFound)
}

/// Applies a verified notification of `gateway` exactly once: a payment moves its order on
/// (or, on a closed order, is refunded); a refund completes its order's refund. Repeats and
/// statuses that change nothing are acknowledged and change nothing.
pub async fn apply_notification(
    state: &AppState,
    gateway: &'static str,
    notification: &GatewayNotification,
) -> Result<(), PaymentError> {
    match notification.kind {
        // Waiting or closed: nothing to apply; a late "waiting" never undoes a payment.
        NotificationKind::Informational => Ok(()),
        NotificationKind::Paid => apply_gateway_payment(state, gateway, notification).await,
        NotificationKind::Refunded => apply_gateway_refund(state, gateway, notification).await,
    }
}

async fn apply_gateway_payment(
    state: &AppState,
    gateway: &'static str,
    notification: &GatewayNotification,
) -> Result<(), PaymentError> {
    let order = order_by_no(state, &notification.order_no).await?;
    if notification.amount_fen != order.amount_fen {
        tracing::error!(order = %order.order_no, paid = notification.amount_fen, due = order.amount_fen, "payment amount does not match the order");
        return Err(PaymentError::AmountMismatch);
    }
    // Where the rules take a payable order; money for an order that is not (closed, say) is
    // recorded without a step, and paid back.
    let step = payment_step(&order, Actor::System, notification.amount_fen);
    let now = state.now();
    let payment = Payment {
        order_id: order.id,
        gateway: gateway.to_string(),
        gateway_txn: notification.gateway_txn.clone(),
        amount_fen: notification.amount_fen,
        paid_at: now,
    };
    let who = StepActor::gateway();
    let note = format!("网关交易号 {}", notification.gateway_txn);
    let record = step.map(|step| who.record(now, &order, step, &note));
    let outcome = state.store.apply_payment(&payment, record.as_ref()).await?;
    after_payment(state, &order, &payment, outcome).await
}

/// The step a payment of `paid_fen` makes on `order`, if the rules let it be paid now.
fn payment_step(order: &Order, actor: Actor, paid_fen: i64) -> Option<Step> {
    step_for(
        order,
        OrderAction::PayConfirmed,
        actor,
        &money_facts(order, paid_fen),
    )
    .ok()
}

/// What follows recording a payment: the refund of money that came twice or too late. (The
/// step and its audit entry were written with the payment.)
async fn after_payment(
    state: &AppState,
    order: &Order,
    payment: &Payment,
    outcome: PaymentOutcome,
) -> Result<(), PaymentError> {
    match outcome {
        PaymentOutcome::Applied => {
            tracing::info!(order = %order.order_no, gateway = %payment.gateway, "payment applied");
        }
        PaymentOutcome::PaidTwice => refund_duplicate_payment(state, order, payment).await?,
        PaymentOutcome::AlreadyApplied => {
            tracing::debug!(order = %order.order_no, "repeated payment notification")
        }
        PaymentOutcome::RecordedButNotPayable { status } => {
            tracing::warn!(order = %order.order_no, %status, "payment for an order that is not waiting for payment: refunding");
            refund_late_payment(state, order, payment).await?;
        }
    }
    Ok(())
}

/// A payment recorded on an order that no longer waited for it (closed after 30 minutes, or
/// withdrawn meanwhile): the system starts its refund (已关闭/已撤销 → 退款中). Other statuses
/// cannot be refunded by the rules; they are logged for the operators.
async fn refund_late_payment(
    state: &AppState,
    order: &Order,
    payment: &Payment,
) -> Result<(), PaymentError> {
    let current = order_by_no(state, &order.order_no).await?;
    let started = system_refund(
        state,
        &current,
        payment,
        "订单已关闭或已撤销后收到付款，系统自动退款",
    )
    .await?;
    if !started {
        tracing::error!(order = %order.order_no, status = %current.status, "a payment landed on an order the rules cannot refund: refund it by hand");
    }
    Ok(())
}

/// Starts the system's refund of a paid order that the rules send back (StartRefund from
/// 审核未通过 after a 复审 rejection, or from 已关闭): 退款中 with the refund asked of the gateway
/// that took the payment. Answers whether a refund was started (`false`: nothing was paid, or
/// the rules do not allow it from the order's status). For the review code to call after
/// rejecting a paid order (guide 002: "审批退回后会自动退款").
pub async fn refund_paid_order(state: &AppState, order: &Order) -> Result<bool, PaymentError> {
    let current = order_by_no(state, &order.order_no).await?;
    let Some(payment) = state
        .store
        .payments_of_order(current.id)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(false);
    };
    system_refund(state, &current, &payment, "审核未通过，已付款项原路退回").await
}

async fn system_refund(
    state: &AppState,
    current: &Order,
    payment: &Payment,
    note: &str,
) -> Result<bool, PaymentError> {
    let Ok(step) = step_for(
        current,
        OrderAction::StartRefund,
        Actor::System,
        &money_facts(current, payment.amount_fen),
    ) else {
        return Ok(false);
    };
    start_refund(state, None, current, step, payment, note).await
}

/// Moves the order into 退款中 with its refund recorded, then asks the gateway that took the
/// payment to pay it back (offline transfers are paid back by an operator, who confirms it).
async fn start_refund(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
    step: Step,
    payment: &Payment,
    note: &str,
) -> Result<bool, PaymentError> {
    if !step.has(SideEffect::RequestRefund) {
        return Err(PaymentError::Inconsistent(format!(
            "{} does not lead to a refund",
            step.action()
        )));
    }
    let now = state.now();
    let who = StepActor::of(user, &step);
    let started = state
        .store
        .start_refund(
            &who.record(now, order, step, note),
            &NewRefund {
                order_id: order.id,
                gateway: &payment.gateway,
                gateway_txn: &payment.gateway_txn,
                amount_fen: payment.amount_fen,
                reason: note,
                requested_at: now,
            },
        )
        .await?;
    if !started {
        return Ok(false);
    }
    // The refund is recorded; a gateway that cannot be reached now is asked again by an
    // operator. The order says 退款中 either way.
    if step.has(SideEffect::AskGatewayToPayBack) {
        ask_gateway_to_pay_back(state, order, payment).await;
    }
    Ok(true)
}

/// Asks the gateway that took `payment` to pay it back; answers whether it was asked. Offline
/// transfers are paid back by an operator; a gateway not configured here is logged for one.
async fn ask_gateway_to_pay_back(state: &AppState, order: &Order, payment: &Payment) -> bool {
    if let Some(gateway) = state
        .gateway
        .as_ref()
        .filter(|g| g.name() == payment.gateway)
    {
        let request = RefundRequest {
            order_no: order.order_no.clone(),
            gateway_txn: payment.gateway_txn.clone(),
            amount_fen: payment.amount_fen,
        };
        match gateway.request_refund(request).await {
            Ok(()) => return true,
            Err(err) => {
                tracing::error!(order = %order.order_no, error = %err, "refund request to the gateway failed")
            }
        }
    } else if payment.gateway != OFFLINE_GATEWAY {
        tracing::error!(order = %order.order_no, gateway = %payment.gateway, "no gateway of this name is configured: refund by hand and confirm it");
    }
    false
}

/// Money for an order that another transaction had paid already: kept apart by the store,
/// audited, and paid back through the gateway that took it.
async fn refund_duplicate_payment(
    state: &AppState,
    order: &Order,
    payment: &Payment,
) -> Result<(), PaymentError> {
    tracing::warn!(order = %order.order_no, gateway = %payment.gateway, txn = %payment.gateway_txn, "order paid twice: the second payment is paid back");
    if ask_gateway_to_pay_back(state, order, payment).await {
        if let Some(duplicate) = state
            .store
            .duplicate_payment(&payment.gateway, &payment.gateway_txn)
            .await?
        {
            state
                .store
                .duplicate_refund_requested(duplicate.id, state.now())
                .await?;
        }
    }
    Ok(())
}

async fn apply_gateway_refund(
    state: &AppState,
    gateway: &'static str,
    notification: &GatewayNotification,
) -> Result<(), PaymentError> {
    let order = order_by_no(state, &notification.order_no).await?;
    // The pay-back of a second payment (the order itself stays as it is).
    if let Some(duplicate) = state
        .store
        .duplicate_payment(gateway, &notification.gateway_txn)
        .await?
        .filter(|d| d.order_id == order.id && d.amount_fen == notification.amount_fen)
    {
        let refunded = Payment {
            order_id: order.id,
            gateway: duplicate.gateway,
            gateway_txn: duplicate.gateway_txn,
            amount_fen: duplicate.amount_fen,
            paid_at: duplicate.paid_at,
        };
        let object = format!("order:{}", order.order_no);
        let detail = certdesk_store::duplicate_payment_detail(&refunded, "退款已到账");
        state
            .store
            .duplicate_refunded(
                duplicate.id,
                state.now(),
                &certdesk_store::NewAuditEvent {
                    at: state.now(),
                    actor_account_id: None,
                    actor_label: "-",
                    org_id: Some(order.org_id),
                    action: AuditAction::DuplicatePayment,
                    object: &object,
                    detail: &detail,
                },
            )
            .await?;
        return Ok(());
    }
    let refund = state
        .store
        .refund_of_order(order.id)
        .await?
        .ok_or(PaymentError::RefundNotFound)?;
    if refund.gateway != gateway
        || refund.gateway_txn != notification.gateway_txn
        || refund.amount_fen != notification.amount_fen
    {
        tracing::error!(order = %order.order_no, "refund notification does not match the refund requested");
        return Err(PaymentError::RefundMismatch);
    }
    complete_refund(state, None, &order).await.map(|_| ())
}

/// 退款中 → 已退款, once; answers whether this call completed it.
async fn complete_refund(
    state: &AppState,
    user: Option<&CurrentUser>,
    order: &Order,
) -> Result<bool, PaymentError> {
    let actor = user.map(|u| Actor::Role(u.role())).unwrap_or(Actor::System);
    let step = match step_for(
        order,
        OrderAction::RefundCompleted,
        actor,
        &money_facts(order, 0),
    ) {
        Ok(step) => step,
        // Already refunded: a repeat.
        Err(_) if order.status == OrderStatus::Refunded => return Ok(false),
        Err(err) => return Err(StepError::from(err).into()),
    };
    let who = match user {
        Some(_) => StepActor::of(user, &step),
        None => StepActor::gateway(),
    };
    let done = state
        .store
        .complete_refund(
            order.id,
            &who.record(state.now(), order, step, "款项已原路退回"),
        )
        .await?;
    if done {
        tracing::info!(order = %order.order_no, "refund completed");
    }
    Ok(done)
}

fn clean_reason(reason: &str) -> String {
    reason
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect()
}

/// Withdraws an order (撤销) for the organisation admin, or an operator on its behalf (代办,
/// recorded as such). Nothing paid: → 已撤销. Paid: → 退款中, the refund recorded and asked of
/// the gateway that took the payment, which confirms it later (→ 已退款); an offline transfer
/// is paid back by an operator, who confirms it. The state machine decides from which statuses
/// (before issuance). Another organisation's order answers 404; a refusal changes nothing.
/// Answers the order as this withdrawal left it (已撤销 or 退款中; the gateway's confirmation
/// may already have moved it on).
pub async fn withdraw_order(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    reason: &str,
) -> Result<Order, PaymentError> {
    require(
        user,
        Action::WithdrawOrder,
        relation_to(user, None, Some(order.org_id)),
    )?;
    let payment = state
        .store
        .payments_of_order(order.id)
        .await?
        .into_iter()
        .next();
    let paid = payment.as_ref().map(|p| p.amount_fen).unwrap_or(0);
    let actor = Actor::Role(user.role());
    let step = step_for(
        order,
        OrderAction::Withdraw,
        actor,
        &money_facts(order, paid),
    )
    .map_err(StepError::from)?;
    let reason = clean_reason(reason);
    let mut note = if step.on_behalf() {
        "操作员代办撤销".to_string()
    } else {
        "用户撤销".to_string()
    };
    if !reason.is_empty() {
        note.push('：');
        note.push_str(&reason);
    }
    end_order(state, user, order, step, payment, &note).await
}

/// Ends an order before its certificate is made (撤销, 无法制证退款): with a payment, 退款中 with
/// the refund recorded and asked of the gateway that took it; without, the step alone. The
/// voucher is given back by the step (its ReleaseVoucher), in its transaction.
async fn end_order(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    step: Step,
    payment: Option<Payment>,
    note: &str,
) -> Result<Order, PaymentError> {
    match payment {
        Some(payment) if step.has(SideEffect::RequestRefund) => {
            if !start_refund(state, Some(user), order, step, &payment, note).await? {
                return Err(crate::pipeline::StepError::OrderChanged.into());
            }
            Ok(order.after(&step))
        }
        _ => {
            let (after, _) =
                crate::pipeline::act_on_order(state, Some(user), order, step.action(), note)
                    .await?;
            Ok(after)
        }
    }
}

/// An operator ends an order the CA can no longer issue (无法制证退款; e.g. the issuing CA was
/// changed and its remaining life is shorter than the years bought): from 待复审 or 制证中, to
/// 退款中 with the payment refunded as on withdrawal, or to 已撤销 when nothing was paid. The
/// state machine refuses it while the CA would still issue the order. The reason the CA
/// refuses goes into the order's timeline.
pub async fn refund_unissuable_order(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    reason: &str,
) -> Result<Order, PaymentError> {
    require(
        user,
        Action::RefundUnissuableOrder,
        relation_to(user, None, Some(order.org_id)),
    )?;
    let facts = crate::pipeline::facts_of(state, order).await?;
    let step = step_for(
        order,
        OrderAction::RefundUnissuable,
        Actor::Role(user.role()),
        &facts,
    )
    .map_err(StepError::from)?;
    let mut note = match facts.cannot_issue {
        Some(why) => format!("无法制证：{why}"),
        None => "无法制证".to_string(),
    };
    let reason = clean_reason(reason);
    if !reason.is_empty() {
        note.push('；');
        note.push_str(&reason);
    }
    let payment = state
        .store
        .payments_of_order(order.id)
        .await?
        .into_iter()
        .next();
    end_order(state, user, order, step, payment, &note).await
}

/// End an order the CA can no longer issue (无法制证退款, platform operators): 退款中 when it was
/// paid (refunded through the gateway that took the payment), 已撤销 otherwise. Refused (409)
/// while the CA would still issue it.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/refund-unissuable", params(("order_no" = String, Path)), request_body = WithdrawRequest,
    responses((status = 200, body = crate::pipeline::OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn refund_unissuable_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<WithdrawRequest>,
) -> Result<Json<crate::pipeline::OrderView>, ApiError> {
    let order =
        crate::pipeline::order_for(&state, &user, &order_no, Action::RefundUnissuableOrder).await?;
    let updated = refund_unissuable_order(&state, &user, &order, &req.reason).await?;
    Ok(Json(crate::pipeline::OrderView::from(&updated)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RefundUnissuableForm {
    reason: String,
}

/// The 无法制证退款 button of the order page: back to the order with what happened, or why not.
async fn refund_unissuable_page(
    State(state): State<AppState>,
    crate::web::pages::PageUser(user): crate::web::pages::PageUser,
    Path(order_no): Path<String>,
    body: Bytes,
) -> Response {
    let result: Result<String, PaymentError> = async {
        let order =
            crate::pipeline::order_for(&state, &user, &order_no, Action::RefundUnissuableOrder)
                .await?;
        let form: RefundUnissuableForm = crate::web::pages::form_fields(&body);
        let updated = refund_unissuable_order(&state, &user, &order, &form.reason).await?;
        Ok(format!(
            "已按无法制证处理，订单现为“{}”",
            updated.status.label_zh()
        ))
    }
    .await;
    crate::pipeline::back_to_order(&state, &user, &order_no, result).await
}

/// Whether `user` may withdraw `order` now (for showing the 撤销 button): the permission table
/// and the state machine both agree.
pub async fn can_withdraw(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
) -> Result<bool, PaymentError> {
    if !certdesk_domain::permits(
        user.role(),
        Action::WithdrawOrder,
        relation_to(user, None, Some(order.org_id)),
    ) {
        return Ok(false);
    }
    let paid: i64 = state
        .store
        .payments_of_order(order.id)
        .await?
        .iter()
        .map(|p| p.amount_fen)
        .sum();
    Ok(step_for(
        order,
        OrderAction::Withdraw,
        Actor::Role(user.role()),
        &money_facts(order, paid),
    )
    .is_ok())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Why (optional): kept in the order's timeline.
    #[serde(default)]
    pub reason: String,
}

/// Withdraw an order (撤销) before issuance. Paid orders go to 退款中 and are refunded through
/// the gateway that took the payment (3–15 working days).
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/withdraw", params(("order_no" = String, Path)), request_body = WithdrawRequest,
    responses((status = 200, body = crate::pipeline::OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn withdraw_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<WithdrawRequest>,
) -> Result<Json<crate::pipeline::OrderView>, ApiError> {
    let order = order_by_no(&state, &order_no).await?;
    let updated = withdraw_order(&state, &user, &order, &req.reason).await?;
    Ok(Json(crate::pipeline::OrderView::from(&updated)))
}

/// An operator confirms that the refund of an offline transfer (or of a payment taken by a
/// gateway no longer configured) has been paid back (退款中 → 已退款). Refunds through the
/// configured gateway are confirmed by the gateway.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/refund/confirm", params(("order_no" = String, Path)),
    responses((status = 200, body = crate::pipeline::OrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn confirm_offline_refund_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<Json<crate::pipeline::OrderView>, ApiError> {
    let order = order_by_no(&state, &order_no).await?;
    require(
        &user,
        Action::ConfirmRefund,
        relation_to(&user, None, Some(order.org_id)),
    )?;
    let refund = state
        .store
        .refund_of_order(order.id)
        .await?
        .ok_or(PaymentError::NoRefund)?;
    // The configured gateway confirms its own refunds; offline transfers, and payments taken
    // by a gateway no longer configured, are paid back by hand and confirmed here.
    if state
        .gateway
        .as_ref()
        .is_some_and(|g| g.name() == refund.gateway)
    {
        return Err(PaymentError::RefundByGateway.into());
    }
    if !complete_refund(&state, Some(&user), &order).await? {
        return Err(PaymentError::RefundDone.into());
    }
    Ok(Json(crate::pipeline::OrderView::from(
        &order_by_no(&state, &order_no).await?,
    )))
}

/// An operator asks the gateway again for a refund it has not confirmed (e.g. its
/// notifications never reached the server). Safe to repeat: the refund completes once.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/refund/retry", params(("order_no" = String, Path)),
    responses((status = 202, description = "asked again"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn retry_refund_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
) -> Result<StatusCode, ApiError> {
    let order = order_by_no(&state, &order_no).await?;
    require(
        &user,
        Action::ConfirmRefund,
        relation_to(&user, None, Some(order.org_id)),
    )?;
    let refund = state
        .store
        .refund_of_order(order.id)
        .await?
        .filter(|r| r.status == "requested")
        .ok_or(PaymentError::NoRefund)?;
    let Some(gateway) = state
        .gateway
        .as_ref()
        .filter(|g| g.name() == refund.gateway)
    else {
        return Err(PaymentError::RefundByHand.into());
    };
    gateway
        .request_refund(RefundRequest {
            order_no: order.order_no.clone(),
            gateway_txn: refund.gateway_txn,
            amount_fen: refund.amount_fen,
        })
        .await
        .map_err(|err| PaymentError::GatewayUnavailable(err.to_string()))?;
    tracing::info!(order = %order.order_no, operator = user.account().id, "refund asked of the gateway again");
    Ok(StatusCode::ACCEPTED)
}

// --- offline bank transfers (线下转账) ----------------------------------------------------------

#[derive(Serialize, utoipa::ToSchema)]
pub struct TransferView {
    pub id: i64,
    pub order_no: String,
    /// Yuan, two decimals.
    pub amount: String,
    /// pending, confirmed or rejected.
    pub status: String,
    pub status_label: String,
    pub receipt_name: String,
    /// Where staff see the receipt image.
    pub receipt_url: String,
    /// Beijing time.
    pub submitted_at: String,
    pub reject_reason: String,
}

impl From<&OfflineTransfer> for TransferView {
    fn from(t: &OfflineTransfer) -> Self {
        TransferView {
            id: t.id,
            order_no: t.order_no.clone(),
            amount: yuan(t.amount_fen),
            status: t.status.clone(),
            status_label: match t.status.as_str() {
                "pending" => "待确认",
                "confirmed" => "已确认到账",
                "rejected" => "已驳回",
                _ => "未知",
            }
            .to_string(),
            receipt_name: t.receipt_name.clone(),
            receipt_url: format!("/admin/transfers/{}/receipt", t.id),
            submitted_at: crate::format_beijing(t.submitted_at),
            reject_reason: t.reject_reason.clone(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ReceiptQuery {
    #[serde(default)]
    file_name: Option<String>,
}

/// Records a bank-transfer receipt for an order waiting for payment. The image passes the
/// upload rules (JPG/PNG/BMP by its bytes, at most 5 MB) before anything is stored; a refused
/// upload leaves nothing behind.
pub async fn submit_offline_transfer(
    state: &AppState,
    user: &CurrentUser,
    order: &Order,
    file_name: &str,
    bytes: Bytes,
) -> Result<OfflineTransfer, PaymentError> {
    require(
        user,
        Action::PayOrder,
        relation_to(user, None, Some(order.org_id)),
    )?;
    if order.status != OrderStatus::AwaitingPayment {
        return Err(PaymentError::NotAwaitingPayment(order.status));
    }
    if order.amount_fen == 0 {
        return Err(PaymentError::OrderIsFree);
    }
    let pending = state.store.offline_transfers_of_order(order.id).await?;
    if pending.iter().any(|t| t.status == "pending") {
        return Err(already_pending());
    }
    let name = certdesk_domain::upload::display_file_name(file_name);
    let blobs = state.blobs.clone();
    let checked_name = name.clone();
    let stored = crate::web::blocking::image_work(move || {
        blobs.check_and_store_image(&checked_name, &bytes)
    })
    .await
    .ok_or_else(|| PaymentError::Inconsistent("checking an upload stopped".into()))?
    .map_err(|err| match err {
        certdesk_store::UploadError::Refused(refusal) => PaymentError::UploadRefused(refusal),
        certdesk_store::UploadError::Store(err) => PaymentError::Store(err),
    })?;
    let transfer = state
        .store
        .submit_offline_transfer(
            &NewOfflineTransfer {
                order_id: order.id,
                receipt_blob: stored.id.as_str(),
                receipt_name: &name,
                amount_fen: order.amount_fen,
                submitted_by: user.account().id,
                submitted_at: state.now(),
            },
            &crate::web::audit_trail::note_on(state, user.account(), Some(order.org_id), ""),
            &format!("order:{}", order.order_no),
        )
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => already_pending(),
            other => PaymentError::Store(other),
        })?;
    Ok(transfer)
}

fn already_pending() -> PaymentError {
    PaymentError::TransferPending
}

/// Upload the receipt of an offline bank transfer (线下转账): the image file as the request
/// body, its name in `file_name`. An operator confirms it.
#[utoipa::path(post, path = "/api/v1/orders/{order_no}/offline-transfer",
    params(("order_no" = String, Path), ("file_name" = Option<String>, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = TransferView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn submit_offline_transfer_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(order_no): Path<String>,
    Query(query): Query<ReceiptQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<TransferView>, ApiError> {
    let body = body.map_err(|_| PaymentError::UploadTooLarge)?;
    let order = order_by_no(&state, &order_no).await?;
    let transfer = submit_offline_transfer(
        &state,
        &user,
        &order,
        query.file_name.as_deref().unwrap_or(""),
        body,
    )
    .await?;
    Ok(Json(TransferView::from(&transfer)))
}

/// The receipts waiting for an operator, oldest first.
#[utoipa::path(get, path = "/api/v1/transfers",
    responses((status = 200, body = [TransferView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn pending_transfers_api(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<TransferView>>, ApiError> {
    require(&user, Action::ConfirmOfflinePayment, Relation::Platform)?;
    let transfers = state.store.offline_transfers("pending", 200).await?;
    Ok(Json(transfers.iter().map(TransferView::from).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferDecision {
    /// `confirm` (the money arrived) or `reject`.
    pub decision: String,
    /// Required when rejecting: the supplier sees it.
    #[serde(default)]
    pub reason: String,
}

/// An operator's decision on a receipt. Confirming applies the payment exactly once through the
/// same path as a gateway's (gateway `offline`); rejecting keeps the reason for the supplier.
pub async fn decide_transfer(
    state: &AppState,
    user: &CurrentUser,
    transfer_id: i64,
    confirm: bool,
    reason: &str,
) -> Result<OfflineTransfer, PaymentError> {
    let transfer = state
        .store
        .offline_transfer(transfer_id)
        .await?
        .ok_or(PaymentError::TransferNotFound)?;
    require(
        user,
        Action::ConfirmOfflinePayment,
        relation_to(user, None, Some(transfer.org_id)),
    )?;
    let not_pending = || PaymentError::TransferDecided;
    if transfer.status != "pending" {
        return Err(not_pending());
    }
    let now = state.now();
    let order = order_by_no(state, &transfer.order_no).await?;
    if !confirm {
        let reason = clean_reason(reason);
        if reason.is_empty() {
            return Err(PaymentError::ReasonRequired);
        }
        let object = format!("order:{}", order.order_no);
        let detail = format!("驳回付款凭证 {}：{reason}", transfer.id);
        let audit =
            crate::web::audit_trail::note_on(state, user.account(), Some(order.org_id), &detail)
                .event(AuditAction::OfflineTransferRejected, &object);
        if !state
            .store
            .reject_offline_transfer(transfer.id, user.account().id, now, &reason, &audit)
            .await?
        {
            return Err(not_pending());
        }
    } else {
        let step = payment_step(&order, Actor::Role(user.role()), transfer.amount_fen);
        let payment = Payment {
            order_id: order.id,
            gateway: OFFLINE_GATEWAY.to_string(),
            gateway_txn: format!("offline-{}", transfer.id),
            amount_fen: transfer.amount_fen,
            paid_at: now,
        };
        let note = format!("线下转账已到账（凭证 {}）", transfer.receipt_name);
        let who = step.map(|step| (StepActor::of(Some(user), &step), step));
        let record = who
            .as_ref()
            .map(|(who, step)| who.record(now, &order, *step, &note));
        let outcome = state
            .store
            .confirm_offline_transfer(transfer.id, user.account().id, &payment, record.as_ref())
            .await?;
        match outcome {
            TransferConfirmation::NotPending => return Err(not_pending()),
            TransferConfirmation::AlreadyPaid => return Err(PaymentError::AlreadyPaid),
            TransferConfirmation::Confirmed(outcome) => {
                after_payment(state, &order, &payment, outcome).await?
            }
        }
    }
    state
        .store
        .offline_transfer(transfer.id)
        .await?
        .ok_or(PaymentError::TransferNotFound)
}

/// Confirm (the money arrived) or reject (with the reason) a bank-transfer receipt.
#[utoipa::path(post, path = "/api/v1/transfers/{transfer_id}/decision", params(("transfer_id" = i64, Path)), request_body = TransferDecision,
    responses((status = 200, body = TransferView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn transfer_decision_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(transfer_id): Path<i64>,
    crate::web::json::ApiJson(req): crate::web::json::ApiJson<TransferDecision>,
) -> Result<Json<TransferView>, ApiError> {
    let confirm = match req.decision.as_str() {
        "confirm" => true,
        "reject" => false,
        _ => return Err(PaymentError::InvalidDecision.into()),
    };
    let transfer = decide_transfer(&state, &user, transfer_id, confirm, &req.reason).await?;
    Ok(Json(TransferView::from(&transfer)))
}

/// Closes every order that has waited for payment longer than [`PAYMENT_WINDOW`] (30 minutes)
/// at `now`; answers how many were closed. An order paid meanwhile is left alone: the close is
/// compare-and-set on 待支付, and a payment that lands after the close is refunded. An order
/// whose bank-transfer receipt waits for an operator is not closed: the money is on its way.
pub async fn close_unpaid_orders(state: &AppState, now: i64) -> Result<usize, PaymentError> {
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

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(
        sandbox_notify,
        withdraw_api,
        refund_unissuable_api,
        confirm_offline_refund_api,
        retry_refund_api,
        submit_offline_transfer_api,
        pending_transfers_api,
        transfer_decision_api
    ))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
