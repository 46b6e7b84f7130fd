//! 变更 — a new certificate after the organisation's name or legal representative changed
//! (DOMAIN.md, business type 4), as one table.
//!
//! The flow (guide 004: 提交审核后等待平台客服处理（一般1个工作日内）): 草稿 (the change, the
//! documents, the identity check of the (new) legal representative) → 提交 → 待初审 (the
//! platform checks the documents, 1 working day) → 待复审 (the CA approves the new subject, 1
//! working day; the registration is updated with this step, not before: `ApplyChange`) → 制证中
//! (the key holder makes new key pairs on the UKey and sends the request) → 已完成 with the
//! issuance (nothing is shipped), the old certificates revoked (superseded).
//!
//! Free: a change of registered facts is not a sale. A rejection goes back to the supplier,
//! who corrects and resubmits to 待初审; withdrawal is possible until the CA approves.

use super::actors::*;
use super::state;
use super::{BusinessType, SideEffect as E, Target, TransitionRule, Workflow};
use crate::order::{OrderAction as A, OrderStatus as S};

pub static CHANGE: Workflow = Workflow {
    business_type: BusinessType::Change,
    states: &[
        state(S::Draft, None),
        state(S::AwaitingInitialReview, Some(1)),
        state(S::AwaitingSecondReview, Some(1)),
        state(S::Rejected, None),
        state(S::Issuing, None),
        state(S::Completed, None),
        state(S::Withdrawn, None),
    ],
    rules: &[
        TransitionRule {
            action: A::Submit,
            from: &[S::Draft],
            actors: SUPPLIER,
            guard: None,
            to: Target::To(S::AwaitingInitialReview),
            effects: &[],
        },
        TransitionRule {
            action: A::ApproveInitial,
            from: &[S::AwaitingInitialReview],
            actors: &[OPERATOR],
            guard: None,
            to: Target::To(S::AwaitingSecondReview),
            effects: &[],
        },
        TransitionRule {
            action: A::RejectInitial,
            from: &[S::AwaitingInitialReview],
            actors: &[OPERATOR],
            guard: None,
            to: Target::To(S::Rejected),
            effects: &[],
        },
        TransitionRule {
            action: A::ApproveSecond,
            from: &[S::AwaitingSecondReview],
            actors: &[CA_OFFICER],
            guard: None,
            to: Target::To(S::Issuing),
            effects: &[E::ApplyChange],
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
            to: Target::To(S::AwaitingInitialReview),
            effects: &[],
        },
        TransitionRule {
            action: A::MarkIssued,
            from: &[S::Issuing],
            actors: &[CA_OFFICER, SYSTEM],
            guard: None,
            to: Target::To(S::Completed),
            effects: &[E::RecordIssuance],
        },
        TransitionRule {
            action: A::Withdraw,
            from: &[
                S::Draft,
                S::AwaitingInitialReview,
                S::AwaitingSecondReview,
                S::Rejected,
            ],
            actors: SUPPLIER,
            guard: None,
            to: Target::To(S::Withdrawn),
            effects: &[],
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{DeliveryMethod, OrderFacts};
    use crate::workflow::TransitionError;

    #[test]
    fn reviewed_twice_applied_with_the_ca_approval_and_issued_online() {
        let free = OrderFacts {
            amount_due_fen: 0,
            paid_amount_fen: 0,
            payment_window_expired: false,
            delivery: DeliveryMethod::Online,
            cannot_issue: None,
        };
        let go = |status, action, actor| CHANGE.step(status, action, actor, &free);
        let path = [
            (S::Draft, A::Submit, ORG_ADMIN, S::AwaitingInitialReview),
            (
                S::AwaitingInitialReview,
                A::RejectInitial,
                OPERATOR,
                S::Rejected,
            ),
            (
                S::Rejected,
                A::EditAndResubmit,
                ORG_ADMIN,
                S::AwaitingInitialReview,
            ),
            (
                S::AwaitingInitialReview,
                A::ApproveInitial,
                OPERATOR,
                S::AwaitingSecondReview,
            ),
            (
                S::AwaitingSecondReview,
                A::ApproveSecond,
                CA_OFFICER,
                S::Issuing,
            ),
            (S::Issuing, A::MarkIssued, SYSTEM, S::Completed),
        ];
        for (from, action, actor, to) in path {
            let step = go(from, action, actor).unwrap();
            assert_eq!(step.to(), to, "{from} {action}");
            // The registration changes with the CA's approval and with nothing else.
            assert_eq!(step.has(E::ApplyChange), action == A::ApproveSecond);
        }
        assert!(matches!(
            go(S::Issuing, A::Withdraw, ORG_ADMIN),
            Err(TransitionError::NotAllowedInStatus { .. })
        ));
        assert!(matches!(
            go(S::AwaitingInitialReview, A::ApproveSecond, CA_OFFICER),
            Err(TransitionError::NotAllowedInStatus { .. })
        ));
        assert_eq!(
            go(S::AwaitingSecondReview, A::Withdraw, ORG_ADMIN).map(|s| s.to()),
            Ok(S::Withdrawn)
        );
    }
}
