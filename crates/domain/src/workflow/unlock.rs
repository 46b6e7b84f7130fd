//! 解锁 — PIN unlock (DOMAIN.md, business type 5; guides 000 and 001), as one table.
//!
//! The flow: 草稿 (the key's serial and its holder named, the holder's identity checked) → 提交
//! → 待初审 (a platform operator compares the identity check with the request) → 已完成, with
//! the one-time 解锁授权码 bound to the key written with the approval; or 审核未通过 with the
//! reason, edited and resubmitted.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **Free and reviewed once.** No guide charges for an unlock or sends it to the CA: the
//!   platform's operator reviews it, 1 working day, as 新办's initial review.
//! - **The code is written with the approval** ([`SideEffect::IssueUnlockCode`]): an approved
//!   order always has its code, whatever crashes; it is valid for
//!   [`crate::unlock::CODE_VALIDITY_SECS`] and used once.
//! - **Withdrawal** is possible until the approval; nothing was paid, so it ends in 已撤销.
//! - **操作员代办**: an operator may act for the supplier where it acts (submit, resubmit,
//!   withdraw), but never reviews an order it made (`reviews_own_order`).

use super::actors::*;
use super::state;
use super::{BusinessType, SideEffect as E, Target, TransitionRule, Workflow};
use crate::order::{OrderAction as A, OrderStatus as S};

pub static UNLOCK: Workflow = Workflow {
    business_type: BusinessType::Unlock,
    states: &[
        state(S::Draft, None),
        state(S::AwaitingInitialReview, Some(1)),
        state(S::Rejected, None),
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
            to: Target::To(S::Completed),
            effects: &[E::IssueUnlockCode],
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
            action: A::EditAndResubmit,
            from: &[S::Rejected],
            actors: SUPPLIER,
            guard: None,
            to: Target::To(S::AwaitingInitialReview),
            effects: &[],
        },
        TransitionRule {
            action: A::Withdraw,
            from: &[S::Draft, S::AwaitingInitialReview, S::Rejected],
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
    use crate::order::Actor;
    use crate::order::{DeliveryMethod, OrderFacts, OrderStatus};
    use crate::workflow::TransitionError;

    fn facts() -> OrderFacts {
        OrderFacts {
            amount_due_fen: 0,
            paid_amount_fen: 0,
            payment_window_expired: false,
            delivery: DeliveryMethod::Online,
            cannot_issue: None,
        }
    }

    /// Every (status, action, actor): allowed exactly where the table says, and nothing else.
    #[test]
    fn every_status_action_and_actor() {
        let expected = |status: OrderStatus, action: A| -> Option<(&[Actor], OrderStatus)> {
            match (status, action) {
                (S::Draft, A::Submit) | (S::Rejected, A::EditAndResubmit) => {
                    Some((SUPPLIER, S::AwaitingInitialReview))
                }
                (S::AwaitingInitialReview, A::ApproveInitial) => Some((&[OPERATOR], S::Completed)),
                (S::AwaitingInitialReview, A::RejectInitial) => Some((&[OPERATOR], S::Rejected)),
                (S::Draft | S::AwaitingInitialReview | S::Rejected, A::Withdraw) => {
                    Some((SUPPLIER, S::Withdrawn))
                }
                _ => None,
            }
        };
        let mut allowed = 0;
        for status in OrderStatus::ALL {
            for action in A::ALL {
                for actor in Actor::ALL {
                    let got = UNLOCK.step(status, action, actor, &facts());
                    match expected(status, action) {
                        None => assert_eq!(
                            got,
                            Err(TransitionError::NotAllowedInStatus { status, action }),
                            "{status} {action} {actor}"
                        ),
                        Some((actors, _)) if !actors.contains(&actor) => assert_eq!(
                            got,
                            Err(TransitionError::NotAllowedForActor {
                                status,
                                action,
                                actor
                            }),
                            "{status} {action} {actor}"
                        ),
                        Some((_, to)) => {
                            allowed += 1;
                            let step = got.expect("allowed");
                            assert_eq!(step.to(), to);
                            assert_eq!(step.has(E::IssueUnlockCode), action == A::ApproveInitial);
                        }
                    }
                }
            }
        }
        // Submit 2 + resubmit 2 + approve 1 + reject 1 + withdraw 3×2.
        assert_eq!(allowed, 2 + 2 + 1 + 1 + 6);
    }
}
