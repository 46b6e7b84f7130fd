//! 吊销 — revocation on request (DOMAIN.md, business type 6), as one table.
//!
//! The flow: 草稿 (the key's serial, the reason, the legal representative named; the
//! representative confirms with the SMS code of the mobile identity check) → 提交 → 待复审 (a CA
//! officer reviews: revoking is the CA's act) → 已完成, the certificate revoked with the step; or
//! 审核未通过 with the reason, edited and resubmitted.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **keyCompromise is not held for review** (issue 13: "revokes at once"): a key reported lost
//!   or compromised by the organisation's admin is revoked by `revoke_at_once` straight from
//!   草稿 once the representative confirmed; every hour a compromised key stays valid is an hour
//!   someone else may sign with it. The server allows that action only for that reason.
//! - **The CA revokes first, the step follows** ([`SideEffect::RevokeCertificate`]): revoking
//!   is idempotent at the CA (a second revocation keeps the first date and reason), so a crash
//!   between the two is mended by doing the approval again.
//! - **Free**; withdrawal is possible until the certificate is revoked.

use super::actors::*;
use super::state;
use super::{BusinessType, SideEffect as E, Target, TransitionRule, Workflow};
use crate::order::{OrderAction as A, OrderStatus as S};

pub static REVOCATION: Workflow = Workflow {
    business_type: BusinessType::Revocation,
    states: &[
        state(S::Draft, None),
        state(S::AwaitingSecondReview, Some(1)),
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
            to: Target::To(S::AwaitingSecondReview),
            effects: &[],
        },
        TransitionRule {
            action: A::RevokeAtOnce,
            from: &[S::Draft],
            actors: &[ORG_ADMIN],
            guard: None,
            to: Target::To(S::Completed),
            effects: &[E::RevokeCertificate],
        },
        TransitionRule {
            action: A::ApproveSecond,
            from: &[S::AwaitingSecondReview],
            actors: &[CA_OFFICER],
            guard: None,
            to: Target::To(S::Completed),
            effects: &[E::RevokeCertificate],
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
            action: A::Withdraw,
            from: &[S::Draft, S::AwaitingSecondReview, S::Rejected],
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

    /// Every (status, action, actor): allowed exactly where the table says, and nothing else.
    #[test]
    fn every_status_action_and_actor() {
        let facts = OrderFacts {
            amount_due_fen: 0,
            paid_amount_fen: 0,
            payment_window_expired: false,
            delivery: DeliveryMethod::Online,
            cannot_issue: None,
        };
        let expected = |status: OrderStatus, action: A| -> Option<(&[Actor], OrderStatus)> {
            match (status, action) {
                (S::Draft, A::Submit) | (S::Rejected, A::EditAndResubmit) => {
                    Some((SUPPLIER, S::AwaitingSecondReview))
                }
                (S::Draft, A::RevokeAtOnce) => Some((&[ORG_ADMIN], S::Completed)),
                (S::AwaitingSecondReview, A::ApproveSecond) => Some((&[CA_OFFICER], S::Completed)),
                (S::AwaitingSecondReview, A::RejectSecond) => Some((&[CA_OFFICER], S::Rejected)),
                (S::Draft | S::AwaitingSecondReview | S::Rejected, A::Withdraw) => {
                    Some((SUPPLIER, S::Withdrawn))
                }
                _ => None,
            }
        };
        let mut allowed = 0;
        for status in OrderStatus::ALL {
            for action in A::ALL {
                for actor in Actor::ALL {
                    let got = REVOCATION.step(status, action, actor, &facts);
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
                            assert_eq!(step.has(E::RevokeCertificate), to == S::Completed);
                        }
                    }
                }
            }
        }
        // Submit 2 + resubmit 2 + at once 1 + approve 1 + reject 1 + withdraw 3×2.
        assert_eq!(allowed, 2 + 2 + 1 + 1 + 1 + 6);
    }
}
