//! Payments: the gateway's signed, asynchronous notifications, applied exactly once.
//!
//! The gateway here is the built-in **sandbox gateway**: it follows the rules of the real
//! Alipay/WeChat Pay notification protocols that matter to us — notifications are signed with
//! a shared secret (HMAC-SHA256 over the exact body bytes), arrive asynchronously, may repeat,
//! may arrive out of order (a late "waiting" after "success"), and must be acknowledged with
//! `success` or the gateway keeps sending. A real gateway plugs in behind the same route with
//! its own signature scheme.

use crate::error::ApiError;
use crate::routes::Registry;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use certdesk_domain::{
    transition, Action, Actor, AuditAction, DeliveryMethod, OrderAction, OrderFacts, OrderStatus,
};
use certdesk_store::{OrderStep, Payment, PaymentOutcome};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const SANDBOX_GATEWAY: &str = "sandbox";
pub const SIGNATURE_HEADER: &str = "x-sandbox-signature";

pub(crate) fn register(registry: Registry) -> Registry {
    registry.post(
        "/api/v1/payments/sandbox/notify",
        Action::ReceivePaymentNotification,
        sandbox_notify,
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

fn signature_is_valid(secret: &[u8], body: &[u8], presented: &str) -> bool {
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

/// The sandbox payment gateway's notification (signed: `X-Sandbox-Signature`). Answers
/// `success` once handled, repeats included.
#[utoipa::path(post, path = "/api/v1/payments/sandbox/notify", request_body = SandboxNotification,
    responses((status = 200, description = "success"), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn sandbox_notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signature_is_valid(&state.config.sandbox_payment_secret, &body, signature) {
        tracing::warn!("payment notification with a bad signature refused");
        return Err(ApiError::bad_request(
            "signature_invalid",
            "支付通知签名无效",
        ));
    }
    let notification: SandboxNotification = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_notification", format!("支付通知格式错误：{e}"))
    })?;
    if notification.trade_status != "TRADE_SUCCESS" {
        // Waiting or closed: nothing to apply; a late "waiting" never undoes a payment.
        return Ok(acknowledged());
    }
    let order = state
        .store
        .order_by_no(&notification.order_no)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if notification.amount_fen != order.amount_fen {
        tracing::error!(order = %order.order_no, paid = notification.amount_fen, due = order.amount_fen, "payment amount does not match the order");
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_mismatch",
            "支付金额与订单金额不一致，已记录待人工核对",
        ));
    }
    let status: OrderStatus = order.status.parse().map_err(ApiError::internal)?;
    let facts = OrderFacts {
        amount_due_fen: u64::try_from(order.amount_fen).unwrap_or(0),
        paid_amount_fen: u64::try_from(notification.amount_fen).unwrap_or(0),
        payment_window_expired: false,
        delivery: DeliveryMethod::Mail,
    };
    // Where the rules would take a payable order; anything else keeps its status.
    let next =
        transition(status, OrderAction::PayConfirmed, Actor::System, &facts).unwrap_or(status);
    let now = state.now();
    let outcome = state
        .store
        .apply_payment(
            &Payment {
                order_id: order.id,
                gateway: SANDBOX_GATEWAY.to_string(),
                gateway_txn: notification.gateway_txn.clone(),
                amount_fen: notification.amount_fen,
                paid_at: now,
            },
            &OrderStep {
                at: now,
                actor_account_id: None,
                actor_label: "支付网关",
                action: OrderAction::PayConfirmed.as_str(),
                from_status: OrderStatus::AwaitingPayment.as_str(),
                to_status: next.as_str(),
                note: &format!("网关交易号 {}", notification.gateway_txn),
            },
        )
        .await?;
    match outcome {
        PaymentOutcome::Applied => {
            tracing::info!(order = %order.order_no, "payment applied");
            crate::audit::record(
                &state,
                None,
                Some(order.org_id),
                AuditAction::OrderTransition,
                &format!("order:{}", order.order_no),
                &format!("pay_confirmed {} -> {}", status.as_str(), next.as_str()),
            )
            .await;
        }
        PaymentOutcome::AlreadyApplied => {
            tracing::debug!(order = %order.order_no, "repeated payment notification")
        }
        PaymentOutcome::RecordedButNotPayable { status } => {
            tracing::warn!(order = %order.order_no, %status, "payment for an order that is not waiting for payment: to be refunded")
        }
    }
    Ok(acknowledged())
}
