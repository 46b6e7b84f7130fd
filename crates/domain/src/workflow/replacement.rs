//! 补办 — a new key for a lost or damaged one, or after a CA upgrade (DOMAIN.md, business type
//! 3), as one table.
//!
//! The flow (guide 004: 完成支付，等待审核（1个工作日）→ 审核通过后制作新锁（1个工作日）→ 按补办时
//! 选择的配送方式领取): 草稿 → 提交 (the price fixed) → 待支付 → 支付 (or free) → 待复审 (the CA's
//! review, 1 working day) → 制证中 (the new key is made: 1 working day) → 已发证 (the old
//! certificates revoked with the issuance) → 配送中 | 待领取 → 已完成.
//!
//! As in 续费, a rejection after payment keeps the payment: the supplier corrects and resubmits
//! to 待复审, or withdraws and is refunded. Withdrawal is possible until the new key is made.

use super::actors::*;
use super::state;
use super::{BusinessType, Guard, SideEffect as E, Target, TransitionRule, Workflow};
use crate::order::{DeliveryMethod, OrderAction as A, OrderStatus as S};

pub static REPLACEMENT: Workflow = Workflow {
    business_type: BusinessType::Replacement,
    states: &[
        state(S::Draft, None),
        state(S::AwaitingPayment, None),
        state(S::Closed, None),
        state(S::AwaitingSecondReview, Some(1)),
        state(S::Rejected, None),
        state(S::Issuing, Some(1)),
        state(S::Issued, Some(1)),
        state(S::Shipping, None),
        state(S::AwaitingPickup, None),
        state(S::Completed, None),
        state(S::Withdrawn, None),
        state(S::Refunding, Some(15)),
        state(S::Refunded, None),
    ],
    rules: &[
        TransitionRule {
            action: A::Submit,
            from: &[S::Draft],
            actors: SUPPLIER,
            guard: None,
            to: Target::To(S::AwaitingPayment),
            effects: &[E::FixPrice, E::SkipPaymentIfFree],
        },
        TransitionRule {
            action: A::PayConfirmed,
            from: &[S::AwaitingPayment],
            actors: &[SYSTEM, OPERATOR],
            guard: Some(Guard::PaidInFull),
            to: Target::To(S::AwaitingSecondReview),
            effects: &[E::RecordPayment],
        },
        TransitionRule {
            action: A::SkipPaymentFree,
            from: &[S::AwaitingPayment],
            actors: &[SYSTEM],
            guard: Some(Guard::Free),
            to: Target::To(S::AwaitingSecondReview),
            effects: &[],
        },
        TransitionRule {
            action: A::CloseUnpaid,
            from: &[S::AwaitingPayment],
            actors: &[SYSTEM],
            guard: Some(Guard::UnpaidAndExpired),
            to: Target::To(S::Closed),
            effects: &[E::ReleaseVoucher],
        },
        TransitionRule {
            action: A::ApproveSecond,
            from: &[S::AwaitingSecondReview],
            actors: &[CA_OFFICER],
            guard: Some(Guard::Issuable),
            to: Target::To(S::Issuing),
            effects: &[],
        },
        TransitionRule {
            action: A::RejectSecond,
            from: &[S::AwaitingSecondReview],
            actors: &[CA_OFFICER],
            guard: None,
            to: Target::To(S::Rejected),
            effects: &[],
        },
        TransitionRule {
            action: A::EditAndResubmit,
            from: &[S::Rejected],
            actors: SUPPLIER,
            guard: None,
            to: Target::To(S::AwaitingSecondReview),
            effects: &[],
        },
        TransitionRule {
            action: A::MarkIssued,
            from: &[S::Issuing],
            actors: &[CA_OFFICER, SYSTEM],
            guard: None,
            to: Target::To(S::Issued),
            effects: &[E::RecordIssuance],
        },
        TransitionRule {
            action: A::Ship,
            from: &[S::Issued],
            actors: &[OPERATOR],
            guard: Some(Guard::Delivery(DeliveryMethod::Mail)),
            to: Target::To(S::Shipping),
            effects: &[E::RecordShipment],
        },
        TransitionRule {
            action: A::ReadyForPickup,
            from: &[S::Issued],
            actors: &[OPERATOR],
            guard: Some(Guard::Delivery(DeliveryMethod::Pickup)),
            to: Target::To(S::AwaitingPickup),
            effects: &[],
        },
        TransitionRule {
            action: A::ConfirmReceipt,
            from: &[S::Shipping, S::AwaitingPickup],
            actors: SUPPLIER,
            guard: None,
            to: Target::To(S::Completed),
            effects: &[E::RecordReceipt],
        },
        TransitionRule {
            action: A::Withdraw,
            from: &[
                S::Draft,
                S::AwaitingPayment,
                S::AwaitingSecondReview,
                S::Rejected,
            ],
            actors: SUPPLIER,
            guard: None,
            to: Target::RefundIfPaidElse(S::Withdrawn),
            effects: &[E::ReleaseVoucher, E::RequestRefund, E::AskGatewayToPayBack],
        },
        TransitionRule {
            action: A::StartRefund,
            from: &[S::Closed, S::Withdrawn],
            actors: &[SYSTEM, OPERATOR],
            guard: Some(Guard::SomethingPaid),
            to: Target::To(S::Refunding),
            effects: &[E::RequestRefund, E::AskGatewayToPayBack],
        },
        TransitionRule {
            action: A::RefundCompleted,
            from: &[S::Refunding],
            actors: &[SYSTEM, OPERATOR],
            guard: None,
            to: Target::To(S::Refunded),
            effects: &[E::CompleteRefund],
        },
        TransitionRule {
            action: A::RefundUnissuable,
            from: &[S::AwaitingSecondReview, S::Issuing],
            actors: &[OPERATOR],
            guard: Some(Guard::Unissuable),
            to: Target::RefundIfPaidElse(S::Withdrawn),
            effects: &[E::ReleaseVoucher, E::RequestRefund, E::AskGatewayToPayBack],
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{DeliveryMethod, OrderFacts};
    use crate::workflow::TransitionError;

    #[test]
    fn paid_then_reviewed_made_and_delivered() {
        let mail = OrderFacts {
            amount_due_fen: 39_900,
            paid_amount_fen: 39_900,
            payment_window_expired: false,
            delivery: DeliveryMethod::Mail,
            cannot_issue: None,
        };
        let go = |status, action, actor| {
            REPLACEMENT
                .step(status, action, actor, &mail)
                .map(|s| s.to())
        };
        let path = [
            (S::Draft, A::Submit, ORG_ADMIN, S::AwaitingPayment),
            (
                S::AwaitingPayment,
                A::PayConfirmed,
                SYSTEM,
                S::AwaitingSecondReview,
            ),
            (
                S::AwaitingSecondReview,
                A::RejectSecond,
                CA_OFFICER,
                S::Rejected,
            ),
            (
                S::Rejected,
                A::EditAndResubmit,
                ORG_ADMIN,
                S::AwaitingSecondReview,
            ),
            (
                S::AwaitingSecondReview,
                A::ApproveSecond,
                CA_OFFICER,
                S::Issuing,
            ),
            (S::Issuing, A::MarkIssued, SYSTEM, S::Issued),
            (S::Issued, A::Ship, OPERATOR, S::Shipping),
            (S::Shipping, A::ConfirmReceipt, ORG_ADMIN, S::Completed),
        ];
        for (from, action, actor, to) in path {
            assert_eq!(go(from, action, actor), Ok(to), "{from} {action}");
        }
        // Not before payment, not by the supplier, not withdrawn once the key is being made.
        assert!(matches!(
            go(S::AwaitingPayment, A::ApproveSecond, CA_OFFICER),
            Err(TransitionError::NotAllowedInStatus { .. })
        ));
        assert!(matches!(
            go(S::AwaitingSecondReview, A::ApproveSecond, ORG_ADMIN),
            Err(TransitionError::NotAllowedForActor { .. })
        ));
        assert!(matches!(
            go(S::Issuing, A::Withdraw, ORG_ADMIN),
            Err(TransitionError::NotAllowedInStatus { .. })
        ));
        assert_eq!(go(S::Rejected, A::Withdraw, ORG_ADMIN), Ok(S::Refunding));
    }
}
