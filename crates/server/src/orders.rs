//! Order jobs that run without a user: closing orders left unpaid past the payment window.

use crate::AppState;
use certdesk_domain::{
    transition, Actor, AuditAction, DeliveryMethod, OrderAction, OrderFacts, OrderStatus,
    PAYMENT_WINDOW,
};
use certdesk_store::{OrderStep, StoreError};

/// Closes every order that has waited for payment longer than [`PAYMENT_WINDOW`] (30 minutes)
/// at `now`; answers how many were closed. An order paid meanwhile is left alone: the close is
/// compare-and-set on 待支付, and a payment that lands after the close is recorded for refund.
pub async fn close_unpaid_orders(state: &AppState, now: i64) -> Result<usize, StoreError> {
    let cutoff = now - PAYMENT_WINDOW.as_secs();
    let mut closed = 0;
    for order in state
        .store
        .orders_in_status_since(OrderStatus::AwaitingPayment.as_str(), cutoff)
        .await?
    {
        let facts = OrderFacts {
            amount_due_fen: u64::try_from(order.amount_fen).unwrap_or(0),
            paid_amount_fen: 0,
            payment_window_expired: true,
            delivery: DeliveryMethod::Mail,
        };
        let Ok(next) = transition(
            OrderStatus::AwaitingPayment,
            OrderAction::CloseUnpaid,
            Actor::System,
            &facts,
        ) else {
            continue; // e.g. a free order: it does not wait for money.
        };
        let step = OrderStep {
            at: now,
            actor_account_id: None,
            actor_label: "系统",
            action: OrderAction::CloseUnpaid.as_str(),
            from_status: OrderStatus::AwaitingPayment.as_str(),
            to_status: next.as_str(),
            note: "超过30分钟未支付，订单已关闭",
        };
        if state.store.advance_order(order.id, &step).await? {
            closed += 1;
            crate::audit::record(
                state,
                None,
                Some(order.org_id),
                AuditAction::OrderTransition,
                &format!("order:{}", order.order_no),
                "close_unpaid awaiting_payment -> closed",
            )
            .await;
        }
    }
    Ok(closed)
}
