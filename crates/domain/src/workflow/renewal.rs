//! 续费/延期 — renewal (DOMAIN.md, business type 2), one certificate or many (批量续费), as one
//! table.
//!
//! The flow: 草稿 (the certificates, each inside its renewal window, and the period) → 提交 (the
//! price fixed: per certificate and product year, vouchers apply) → 待支付 → 支付 (or free) →
//! 待复审 (the CA's review) → 制证中 (each key renewed when its holder connects it: the key's
//! certificate serial is checked and the new certificate is signed for the same key pairs) →
//! 已完成 once every key is renewed.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **No initial review**: the order is about certificates the CA issued already, so the
//!   supplier pays at once (guide 000: 选择年限 → 支付 → 审核) and the CA reviews after payment,
//!   "1–2 working days, paid after 16:40 counts from the next working day" (DOMAIN.md): 待复审
//!   has an SLA of 2 working days and the calendar's cut-off.
//! - **A lapsed certificate** (expired, inside the 3 months after) is renewed the same way, but
//!   the server asks for the identity check and the documents before 提交, and the CA officer
//!   reviews them ("reviewed by a person"): every renewal is reviewed by a person here.
//! - **A rejection keeps the payment**: renewals are paid before review, so a rejected renewal
//!   (e.g. an unreadable licence) is corrected and resubmitted to 待复审 without paying again;
//!   the supplier who gives up withdraws it and is refunded.
//! - **Withdrawal** is possible until the CA signs (from 制证中 on, a key may already hold its
//!   new certificate).
//! - **已完成** is taken by the system when the last key of the order is renewed
//!   (`mark_issued`, recording that key's certificates with the step).
//! - **Keys the CA holds** (移动版) have no key holder to connect them: their renewal is signed
//!   for the same key pairs as soon as the CA approves (`RenewHeldKeys`).

use super::actors::*;
use super::state;
use super::{BusinessType, Guard, SideEffect as E, Target, TransitionRule, Workflow};
use crate::order::{OrderAction as A, OrderStatus as S};

pub static RENEWAL: Workflow = Workflow {
    business_type: BusinessType::Renewal,
    states: &[
        state(S::Draft, None),
        state(S::AwaitingPayment, None),
        state(S::Closed, None),
        state(S::AwaitingSecondReview, Some(2)),
        state(S::Rejected, None),
        state(S::Issuing, None),
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
            effects: &[E::RenewHeldKeys],
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
            actors: &[SYSTEM],
            guard: None,
            to: Target::To(S::Completed),
            effects: &[E::RecordIssuance],
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
        // A payment that arrived after the order closed or was withdrawn.
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
            from: &[S::AwaitingSecondReview],
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
    use crate::calendar::WorkCalendar;
    use crate::order::{Actor, DeliveryMethod, OrderFacts, OrderStatus};
    use crate::workflow::{TransitionError, UnmetRequirement};

    fn facts(due: u64, paid: u64) -> OrderFacts {
        OrderFacts {
            amount_due_fen: due,
            paid_amount_fen: paid,
            payment_window_expired: false,
            delivery: DeliveryMethod::Online,
            cannot_issue: None,
        }
    }

    /// A paid renewal end to end, and a rejected one resubmitted without paying again.
    #[test]
    fn paid_renewal_is_reviewed_after_payment_and_completed_by_the_system() {
        let paid = facts(30_000, 30_000);
        let go = |status, action, actor| RENEWAL.step(status, action, actor, &paid).map(|s| s.to());
        assert_eq!(go(S::Draft, A::Submit, ORG_ADMIN), Ok(S::AwaitingPayment));
        assert_eq!(
            go(S::AwaitingPayment, A::PayConfirmed, SYSTEM),
            Ok(S::AwaitingSecondReview)
        );
        assert_eq!(
            go(S::AwaitingSecondReview, A::RejectSecond, CA_OFFICER),
            Ok(S::Rejected)
        );
        assert_eq!(
            go(S::Rejected, A::EditAndResubmit, ORG_ADMIN),
            Ok(S::AwaitingSecondReview)
        );
        assert_eq!(
            go(S::AwaitingSecondReview, A::ApproveSecond, CA_OFFICER),
            Ok(S::Issuing)
        );
        assert_eq!(go(S::Issuing, A::MarkIssued, SYSTEM), Ok(S::Completed));
        // Nobody else completes it, and it cannot be withdrawn once the CA signs.
        assert!(matches!(
            go(S::Issuing, A::MarkIssued, ORG_ADMIN),
            Err(TransitionError::NotAllowedForActor { .. })
        ));
        assert!(matches!(
            go(S::Issuing, A::Withdraw, ORG_ADMIN),
            Err(TransitionError::NotAllowedInStatus { .. })
        ));
        // No initial review in a renewal.
        assert!(matches!(
            go(
                S::AwaitingPayment,
                A::ApproveInitial,
                Actor::Role(crate::Role::PlatformOperator)
            ),
            Err(TransitionError::NotAllowedInStatus { .. })
        ));
        // Withdrawn after payment: refunded; before: simply withdrawn.
        assert_eq!(go(S::Rejected, A::Withdraw, ORG_ADMIN), Ok(S::Refunding));
        let unpaid = facts(30_000, 0);
        assert_eq!(
            RENEWAL
                .step(S::AwaitingPayment, A::Withdraw, ORG_ADMIN, &unpaid)
                .map(|s| s.to()),
            Ok(S::Withdrawn)
        );
        assert_eq!(
            RENEWAL
                .step(S::AwaitingPayment, A::PayConfirmed, SYSTEM, &unpaid)
                .map(|s| s.to()),
            Err(TransitionError::RequirementNotMet {
                status: S::AwaitingPayment,
                action: A::PayConfirmed,
                reason: UnmetRequirement::Underpaid {
                    paid_fen: 0,
                    due_fen: 30_000
                }
            })
        );
        // A free renewal (a voucher covering it) skips the cashier.
        let free = facts(0, 0);
        let submit = RENEWAL.step(S::Draft, A::Submit, ORG_ADMIN, &free).unwrap();
        assert!(submit.has(E::FixPrice) && submit.has(E::SkipPaymentIfFree));
        assert_eq!(
            RENEWAL
                .step(S::AwaitingPayment, A::SkipPaymentFree, SYSTEM, &free)
                .map(|s| s.to()),
            Ok(S::AwaitingSecondReview)
        );
    }

    #[test]
    fn the_review_has_two_working_days_from_the_cut_off() {
        let calendar = WorkCalendar::china_builtin();
        // Paid Friday 2026-03-06 16:41: counts from Monday 03-09, due Tuesday 03-10.
        let paid_at: jiff::civil::DateTime = "2026-03-06T16:41:00".parse().unwrap();
        let deadline = RENEWAL
            .step_deadline(&calendar, OrderStatus::AwaitingSecondReview, paid_at)
            .unwrap();
        assert_eq!(deadline.due_date().to_string(), "2026-03-10");
        let paid_at: jiff::civil::DateTime = "2026-03-06T16:40:00".parse().unwrap();
        let deadline = RENEWAL
            .step_deadline(&calendar, OrderStatus::AwaitingSecondReview, paid_at)
            .unwrap();
        assert_eq!(deadline.due_date().to_string(), "2026-03-09");
    }
}
