//! 新办 — a new certificate (DOMAIN.md, business type 1), as one table.
//!
//! The flow: 草稿 → 提交 → 待初审 → 初审通过 → 待支付 → (支付 | 免费) → 待复审 → 复审通过 →
//! 制证中 → 已发证 → (配送中 | 待领取 | online) → 已完成.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **Payment follows initial review** (DOMAIN.md). `approve_initial` always leads to 待支付;
//!   for a free order the system applies `skip_payment_free` at once, so both paths look alike
//!   in the history. An unpaid order is closed by the system after
//!   [`PAYMENT_WINDOW`](crate::order::PAYMENT_WINDOW).
//! - **Withdrawal (撤销)** is possible until the CA starts making the certificate: from 草稿,
//!   待初审, 审核未通过, 待支付 and 待复审, not from 制证中 on. With anything paid it goes to 退款中
//!   (the money comes back, DOMAIN.md: "what was paid is refunded"), otherwise to 已撤销.
//! - **A rejection after payment** (复审驳回) is refunded, as guide 002 says ("申领撤销或审批退回后会
//!   自动退款"): the order goes to 审核未通过 with the reason, the system then starts the refund.
//!   Such an order cannot be edited and resubmitted (that would ask for a second payment); the
//!   supplier applies anew. An unpaid rejected order is edited and resubmitted to 待初审.
//! - **A payment that arrives after the order closed or was withdrawn** (the supplier paid on
//!   the phone while withdrawing) is recorded by the payment layer and refunded with
//!   `start_refund` from 已关闭 or 已撤销.
//! - **操作员代办**: a platform operator may act for the supplier where the supplier acts:
//!   `submit`, `edit_and_resubmit`, `withdraw` and `confirm_receipt` (e.g. handing over a key at the
//!   counter). Paying stays with the supplier; the operator's `pay_confirmed` is the confirmation
//!   of an offline bank transfer, an operator duty, not 代办. Employees (其他员工) take no part in
//!   orders (DOMAIN.md: only the organisation admin applies and pays); the system admin
//!   configures, it does not process.
//! - **Refunds** are confirmed by the gateway (the system) or, for offline transfers, by an
//!   operator.
//! - **Only what the CA would issue reaches 制证中**: `approve_second` requires that nothing
//!   stands in the way of issuing (`OrderFacts::cannot_issue`, the limits of
//!   [`crate::limits`]). An order that can no longer be issued (e.g. after a CA change) is ended
//!   by an operator with `refund_unissuable` from 待复审 or 制证中: 退款中 when anything was
//!   paid, 已撤销 otherwise.
//!
//! SLAs (working days) of the steps an order waits for:
//! - 待初审: 1 — "initial review (1 working day)" (DOMAIN.md, 新办).
//! - 待复审: 1 — the CA's review; guide 004 gives "复审及制证1-2个工作日" and DOMAIN.md gives
//!   replacement and change reviews 1 working day.
//! - 制证中: 3 — "issuance (1–3 working days)" (DOMAIN.md), the upper bound.
//! - 已发证: 1 — handing over to courier or counter; guide 002: within 1 working day after
//!   approval the key is made and sent.
//! - 退款中: 15 — "refunded (3–15 working days)" (DOMAIN.md), the upper bound.
//!
//! Every other status waits for the supplier (草稿, 审核未通过, 待领取), a courier (配送中), a
//! 30-minute timer rather than working days (待支付), or nothing at all.

use super::actors::*;
use super::state;
use super::{BusinessType, Guard, SideEffect as E, Target, TransitionRule, Workflow};
use crate::order::{DeliveryMethod, OrderAction as A, OrderStatus as S};

pub static NEW_CERTIFICATE: Workflow = Workflow {
    business_type: BusinessType::NewCertificate,
    states: &[
        state(S::Draft, None),
        state(S::AwaitingInitialReview, Some(1)),
        state(S::Rejected, None),
        state(S::AwaitingPayment, None),
        state(S::Closed, None),
        state(S::AwaitingSecondReview, Some(1)),
        state(S::Issuing, Some(3)),
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
            to: Target::To(S::AwaitingInitialReview),
            effects: &[E::FixPrice],
        },
        TransitionRule {
            action: A::ApproveInitial,
            from: &[S::AwaitingInitialReview],
            actors: &[OPERATOR],
            guard: None,
            to: Target::To(S::AwaitingPayment),
            effects: &[E::SkipPaymentIfFree],
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
            guard: Some(Guard::NothingPaid),
            to: Target::To(S::AwaitingInitialReview),
            effects: &[E::FixPrice],
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
            action: A::CloseUnpaid,
            from: &[S::AwaitingPayment],
            actors: &[SYSTEM],
            guard: Some(Guard::UnpaidAndExpired),
            to: Target::To(S::Closed),
            effects: &[E::ReleaseVoucher],
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
            action: A::ApproveSecond,
            from: &[S::AwaitingSecondReview],
            actors: &[CA_OFFICER],
            guard: Some(Guard::Issuable),
            to: Target::To(S::Issuing),
            effects: &[E::IssueHeldKeys],
        },
        TransitionRule {
            action: A::RejectSecond,
            from: &[S::AwaitingSecondReview],
            actors: &[CA_OFFICER],
            guard: None,
            to: Target::To(S::Rejected),
            effects: &[E::RefundIfPaid],
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
        // A mobile certificate has nothing to ship: the supplier confirms once it is downloaded.
        TransitionRule {
            action: A::ConfirmReceipt,
            from: &[S::Issued],
            actors: SUPPLIER,
            guard: Some(Guard::Delivery(DeliveryMethod::Online)),
            to: Target::To(S::Completed),
            effects: &[E::RecordReceipt],
        },
        TransitionRule {
            action: A::Withdraw,
            from: &[
                S::Draft,
                S::AwaitingInitialReview,
                S::Rejected,
                S::AwaitingPayment,
                S::AwaitingSecondReview,
            ],
            actors: SUPPLIER,
            guard: None,
            to: Target::RefundIfPaidElse(S::Withdrawn),
            effects: &[E::ReleaseVoucher, E::RequestRefund, E::AskGatewayToPayBack],
        },
        TransitionRule {
            action: A::StartRefund,
            from: &[S::Rejected, S::Closed, S::Withdrawn],
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
        // The CA can no longer issue it (e.g. after a CA change): an operator ends it, as a
        // withdrawal would.
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
    use crate::account::Role;
    use crate::calendar::WorkCalendar;
    use crate::limits::LimitError;
    use crate::order::Actor;
    use crate::order::{OrderAction, OrderFacts, OrderStatus};
    use crate::workflow::{is_on_behalf, TransitionError, UnmetRequirement};
    use jiff::civil::DateTime;
    use OrderAction as A;
    use OrderStatus as S;

    const WORKFLOW: &Workflow = &NEW_CERTIFICATE;

    /// Where the table takes the order, or why not.
    fn transition(
        status: OrderStatus,
        action: OrderAction,
        actor: Actor,
        facts: &OrderFacts,
    ) -> Result<OrderStatus, TransitionError> {
        WORKFLOW.step(status, action, actor, facts).map(|s| s.to())
    }

    /// [`transition`] applied in place: `status` changes only when the action is allowed.
    fn apply(
        status: &mut OrderStatus,
        action: OrderAction,
        actor: Actor,
        facts: &OrderFacts,
    ) -> Result<(), TransitionError> {
        *status = transition(*status, action, actor, facts)?;
        Ok(())
    }

    const ADMIN: Actor = Actor::Role(Role::OrgAdmin);
    const EMPLOYEE: Actor = Actor::Role(Role::Employee);
    const OP: Actor = Actor::Role(Role::PlatformOperator);
    const CA: Actor = Actor::Role(Role::CaOfficer);
    const SYSADMIN: Actor = Actor::Role(Role::SystemAdmin);
    const SYS: Actor = Actor::System;

    fn facts(due: u64, paid: u64, expired: bool, delivery: DeliveryMethod) -> OrderFacts {
        OrderFacts {
            amount_due_fen: due,
            paid_amount_fen: paid,
            payment_window_expired: expired,
            delivery,
            cannot_issue: None,
        }
    }

    /// Facts of an order the CA would refuse (the name no longer fits, say).
    fn unissuable(f: OrderFacts) -> OrderFacts {
        OrderFacts {
            cannot_issue: Some(LimitError::NameTooLong { chars: 70 }),
            ..f
        }
    }

    /// Facts that between them meet and miss every requirement.
    fn sample_facts() -> Vec<OrderFacts> {
        use DeliveryMethod::*;
        vec![
            facts(39900, 0, false, Mail),                 // unpaid, window open
            facts(39900, 0, true, Pickup),                // unpaid, window over
            facts(39900, 10000, true, Mail),              // partly paid, window over
            facts(39900, 39900, false, Pickup),           // paid in full
            facts(39900, 50000, true, Online),            // overpaid
            facts(0, 0, true, Online),                    // free
            facts(0, 0, false, Mail),                     // free
            unissuable(facts(39900, 39900, false, Mail)), // paid, CA would refuse
            unissuable(facts(0, 0, false, Online)),       // free, CA would refuse
        ]
    }

    /// Written apart from TRANSITIONS: every (status, action) pair that exists, and who may act.
    fn expected_actors(status: OrderStatus, action: OrderAction) -> Option<&'static [Actor]> {
        use OrderAction as A;
        use OrderStatus as S;
        let actors: &'static [Actor] = match (status, action) {
            (S::Draft, A::Submit) => &[ADMIN, OP],
            (S::AwaitingInitialReview, A::ApproveInitial | A::RejectInitial) => &[OP],
            (S::Rejected, A::EditAndResubmit) => &[ADMIN, OP],
            (S::AwaitingPayment, A::PayConfirmed) => &[OP, SYS],
            (S::AwaitingPayment, A::CloseUnpaid | A::SkipPaymentFree) => &[SYS],
            (S::AwaitingSecondReview, A::ApproveSecond | A::RejectSecond) => &[CA],
            (S::Issuing, A::MarkIssued) => &[CA, SYS],
            (S::Issued, A::Ship | A::ReadyForPickup) => &[OP],
            (S::Issued | S::Shipping | S::AwaitingPickup, A::ConfirmReceipt) => &[ADMIN, OP],
            (
                S::Draft
                | S::AwaitingInitialReview
                | S::Rejected
                | S::AwaitingPayment
                | S::AwaitingSecondReview,
                A::Withdraw,
            ) => &[ADMIN, OP],
            (S::Rejected | S::Closed | S::Withdrawn, A::StartRefund) => &[OP, SYS],
            (S::Refunding, A::RefundCompleted) => &[OP, SYS],
            (S::AwaitingSecondReview | S::Issuing, A::RefundUnissuable) => &[OP],
            _ => return None,
        };
        Some(actors)
    }

    /// Written apart from TRANSITIONS: the outcome for an allowed actor, given the facts.
    fn expected_outcome(
        status: OrderStatus,
        action: OrderAction,
        f: &OrderFacts,
    ) -> Result<OrderStatus, UnmetRequirement> {
        use DeliveryMethod::*;
        use OrderAction as A;
        use OrderStatus as S;
        use UnmetRequirement as U;
        let free = f.amount_due_fen == 0;
        let paid = f.paid_amount_fen;
        match (status, action) {
            (_, A::Submit) => Ok(S::AwaitingInitialReview),
            (_, A::ApproveInitial) => Ok(S::AwaitingPayment),
            (_, A::RejectInitial) => Ok(S::Rejected),
            (_, A::EditAndResubmit) if paid > 0 => Err(U::PaidOrderRejected),
            (_, A::EditAndResubmit) => Ok(S::AwaitingInitialReview),
            (_, A::PayConfirmed) if free => Err(U::OrderIsFree),
            (_, A::PayConfirmed) if paid < f.amount_due_fen => Err(U::Underpaid {
                paid_fen: paid,
                due_fen: f.amount_due_fen,
            }),
            (_, A::PayConfirmed) => Ok(S::AwaitingSecondReview),
            (_, A::CloseUnpaid) if free => Err(U::OrderIsFree),
            (_, A::CloseUnpaid) if paid >= f.amount_due_fen => Err(U::AlreadyPaid),
            (_, A::CloseUnpaid) if !f.payment_window_expired => Err(U::PaymentWindowOpen),
            (_, A::CloseUnpaid) => Ok(S::Closed),
            (_, A::SkipPaymentFree) if free => Ok(S::AwaitingSecondReview),
            (_, A::SkipPaymentFree) => Err(U::OrderIsNotFree),
            (_, A::ApproveSecond) => match f.cannot_issue {
                Some(reason) => Err(U::CannotIssue(reason)),
                None => Ok(S::Issuing),
            },
            (_, A::RejectSecond) => Ok(S::Rejected),
            (_, A::MarkIssued) => Ok(S::Issued),
            (_, A::Ship) if f.delivery == Mail => Ok(S::Shipping),
            (_, A::ReadyForPickup) if f.delivery == Pickup => Ok(S::AwaitingPickup),
            (S::Issued, A::ConfirmReceipt) if f.delivery == Online => Ok(S::Completed),
            (S::Issued, A::Ship | A::ReadyForPickup | A::ConfirmReceipt) => {
                Err(U::WrongDelivery { actual: f.delivery })
            }
            (_, A::ConfirmReceipt) => Ok(S::Completed),
            (_, A::Withdraw) if paid > 0 => Ok(S::Refunding),
            (_, A::Withdraw) => Ok(S::Withdrawn),
            (_, A::StartRefund) if paid > 0 => Ok(S::Refunding),
            (_, A::StartRefund) => Err(U::NothingPaid),
            (_, A::RefundCompleted) => Ok(S::Refunded),
            (_, A::RefundUnissuable) if f.cannot_issue.is_none() => Err(U::StillIssuable),
            (_, A::RefundUnissuable) if paid > 0 => Ok(S::Refunding),
            (_, A::RefundUnissuable) => Ok(S::Withdrawn),
            (_, A::Ship | A::ReadyForPickup) => unreachable!("only from 已发证"),
            (_, A::RevokeAtOnce) => unreachable!("not an action of 新办"),
        }
    }

    #[test]
    fn every_status_action_and_actor() {
        let mut allowed_triples = 0;
        for status in OrderStatus::ALL {
            for action in OrderAction::ALL {
                for actor in Actor::ALL {
                    let allowed_actor = expected_actors(status, action);
                    if allowed_actor.is_some_and(|a| a.contains(&actor)) {
                        allowed_triples += 1;
                    }
                    for f in sample_facts() {
                        let got = transition(status, action, actor, &f);
                        let case = format!("{status} {action} {actor} {f:?}");
                        let want = match allowed_actor {
                            None => Err(TransitionError::NotAllowedInStatus { status, action }),
                            Some(actors) if !actors.contains(&actor) => {
                                Err(TransitionError::NotAllowedForActor {
                                    status,
                                    action,
                                    actor,
                                })
                            }
                            Some(_) => expected_outcome(status, action, &f).map_err(|reason| {
                                TransitionError::RequirementNotMet {
                                    status,
                                    action,
                                    reason,
                                }
                            }),
                        };
                        assert_eq!(got, want, "{case}");

                        // A refused action leaves the order where it was.
                        let mut in_place = status;
                        let applied = apply(&mut in_place, action, actor, &f);
                        match got {
                            Ok(next) => assert_eq!((applied, in_place), (Ok(()), next), "{case}"),
                            Err(e) => {
                                assert_eq!(e.status(), status, "{case}");
                                assert_eq!((applied, in_place), (Err(e), status), "{case}");
                            }
                        }
                    }
                }
            }
        }
        // Counted by hand from expected_actors: 1 row of 2 + 2 of 1 + 1 of 2 + 1 of 2 + 2 of 1
        // + 2 of 1 + 1 of 2 + 2 of 1 + 3 of 2 + 5 of 2 + 3 of 2 + 1 of 2 + 2 of 1.
        assert_eq!(
            allowed_triples,
            2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 6 + 10 + 6 + 2 + 2
        );
    }

    #[test]
    fn the_table_has_one_row_per_status_and_action() {
        for status in OrderStatus::ALL {
            for action in OrderAction::ALL {
                let rows = WORKFLOW
                    .rules
                    .iter()
                    .filter(|r| r.action == action && r.from.contains(&status))
                    .count();
                assert!(rows <= 1, "{status} {action}: {rows} rows");
            }
        }
        for rule in WORKFLOW.rules {
            assert!(!rule.from.is_empty() && !rule.actors.is_empty(), "{rule:?}");
        }
        // Every action appears in the table, but those of other business types.
        for action in OrderAction::ALL
            .into_iter()
            .filter(|a| *a != OrderAction::RevokeAtOnce)
        {
            assert!(
                WORKFLOW.rules.iter().any(|r| r.action == action),
                "{action}"
            );
        }
    }

    #[test]
    fn terminal_statuses_have_no_way_out_and_every_other_status_has_one() {
        for status in OrderStatus::ALL {
            let has_way_out = WORKFLOW.rules.iter().any(|r| r.from.contains(&status));
            assert_eq!(has_way_out, !status.is_terminal(), "{status}");
            assert_eq!(
                WORKFLOW.is_terminal(status),
                status.is_terminal(),
                "{status}"
            );
        }
    }

    #[test]
    fn only_what_the_ca_would_issue_reaches_issuing() {
        let paid = facts(39900, 39900, false, DeliveryMethod::Mail);
        let refused = unissuable(paid);
        let err = transition(S::AwaitingSecondReview, A::ApproveSecond, CA, &refused).unwrap_err();
        assert_eq!(err.status(), S::AwaitingSecondReview);
        assert_eq!(
            err.to_string(),
            "不能复审通过：CA无法为该订单制证：名称最多64个字（数字证书的主题名称所能容纳的长度），当前70个"
        );
        // The operator ends it instead: the money goes back; a free order is simply withdrawn.
        assert_eq!(
            transition(S::Issuing, A::RefundUnissuable, OP, &refused),
            Ok(S::Refunding)
        );
        let free = unissuable(facts(0, 0, false, DeliveryMethod::Online));
        assert_eq!(
            transition(S::AwaitingSecondReview, A::RefundUnissuable, OP, &free),
            Ok(S::Withdrawn)
        );
        // Not while the CA would still issue it.
        assert_eq!(
            transition(S::Issuing, A::RefundUnissuable, OP, &paid)
                .unwrap_err()
                .to_string(),
            "不能无法制证退款：该订单仍可制证，请复审或等待制证"
        );
    }

    #[test]
    fn withdrawal_stops_when_issuance_starts() {
        let f = facts(39900, 39900, false, DeliveryMethod::Mail);
        for status in OrderStatus::ALL {
            let before_issuance = matches!(
                status,
                S::Draft
                    | S::AwaitingInitialReview
                    | S::Rejected
                    | S::AwaitingPayment
                    | S::AwaitingSecondReview
            );
            let result = transition(status, A::Withdraw, ADMIN, &f);
            assert_eq!(result.is_ok(), before_issuance, "{status}");
        }
    }

    fn run(
        start: OrderStatus,
        f: &OrderFacts,
        steps: &[(OrderAction, Actor, OrderStatus)],
    ) -> OrderStatus {
        let mut status = start;
        for (action, actor, expected) in steps {
            apply(&mut status, *action, *actor, f).unwrap_or_else(|e| panic!("{action}: {e}"));
            assert_eq!(status, *expected, "{action}");
        }
        status
    }

    #[test]
    fn a_paid_ukey_by_mail() {
        let unpaid = facts(39900, 0, false, DeliveryMethod::Mail);
        let status = run(
            S::Draft,
            &unpaid,
            &[
                (A::Submit, ADMIN, S::AwaitingInitialReview),
                (A::RejectInitial, OP, S::Rejected),
                (A::EditAndResubmit, ADMIN, S::AwaitingInitialReview),
                (A::ApproveInitial, OP, S::AwaitingPayment),
            ],
        );
        let paid = OrderFacts {
            paid_amount_fen: 39900,
            ..unpaid
        };
        run(
            status,
            &paid,
            &[
                (A::PayConfirmed, SYS, S::AwaitingSecondReview),
                (A::ApproveSecond, CA, S::Issuing),
                (A::MarkIssued, SYS, S::Issued),
                (A::Ship, OP, S::Shipping),
                (A::ConfirmReceipt, ADMIN, S::Completed),
            ],
        );
    }

    #[test]
    fn a_free_mobile_certificate() {
        let free = facts(0, 0, false, DeliveryMethod::Online);
        run(
            S::Draft,
            &free,
            &[
                (A::Submit, OP, S::AwaitingInitialReview),
                (A::ApproveInitial, OP, S::AwaitingPayment),
                (A::SkipPaymentFree, SYS, S::AwaitingSecondReview),
                (A::ApproveSecond, CA, S::Issuing),
                (A::MarkIssued, CA, S::Issued),
                (A::ConfirmReceipt, ADMIN, S::Completed),
            ],
        );
        // A free order is never closed for not paying.
        let expired = OrderFacts {
            payment_window_expired: true,
            ..free
        };
        assert_eq!(
            transition(S::AwaitingPayment, A::CloseUnpaid, SYS, &expired)
                .unwrap_err()
                .to_string(),
            "不能超时未支付关闭：免费订单无需支付"
        );
    }

    #[test]
    fn a_pickup_at_the_counter_confirmed_by_the_operator() {
        let f = facts(39900, 39900, false, DeliveryMethod::Pickup);
        run(
            S::Issued,
            &f,
            &[
                (A::ReadyForPickup, OP, S::AwaitingPickup),
                (A::ConfirmReceipt, OP, S::Completed),
            ],
        );
        assert!(is_on_behalf(A::ConfirmReceipt, OP));
    }

    #[test]
    fn withdrawing_refunds_what_was_paid() {
        let paid = facts(39900, 39900, false, DeliveryMethod::Mail);
        run(
            S::AwaitingSecondReview,
            &paid,
            &[
                (A::Withdraw, ADMIN, S::Refunding),
                (A::RefundCompleted, SYS, S::Refunded),
            ],
        );
        let unpaid = facts(39900, 0, false, DeliveryMethod::Mail);
        run(
            S::AwaitingPayment,
            &unpaid,
            &[(A::Withdraw, OP, S::Withdrawn)],
        );
        assert_eq!(
            transition(S::Issuing, A::Withdraw, ADMIN, &paid)
                .unwrap_err()
                .to_string(),
            "订单当前为“制证中”状态，不能撤销"
        );
    }

    #[test]
    fn a_paid_order_rejected_by_the_ca_is_refunded_not_resubmitted() {
        let paid = facts(39900, 39900, false, DeliveryMethod::Mail);
        let status = run(
            S::AwaitingSecondReview,
            &paid,
            &[(A::RejectSecond, CA, S::Rejected)],
        );
        assert_eq!(
            transition(status, A::EditAndResubmit, ADMIN, &paid)
                .unwrap_err()
                .to_string(),
            "不能修改后重新提交：订单已支付，被驳回后款项将退回，请重新申领"
        );
        run(
            status,
            &paid,
            &[
                (A::StartRefund, SYS, S::Refunding),
                (A::RefundCompleted, OP, S::Refunded),
            ],
        );
    }

    #[test]
    fn unpaid_orders_close_after_the_window_and_late_payments_are_refunded() {
        let open = facts(39900, 0, false, DeliveryMethod::Mail);
        assert_eq!(
            transition(S::AwaitingPayment, A::CloseUnpaid, SYS, &open)
                .unwrap_err()
                .to_string(),
            "不能超时未支付关闭：支付期限（30分钟）尚未结束"
        );
        let expired = OrderFacts {
            payment_window_expired: true,
            ..open
        };
        let closed = run(
            S::AwaitingPayment,
            &expired,
            &[(A::CloseUnpaid, SYS, S::Closed)],
        );
        let late = OrderFacts {
            paid_amount_fen: 39900,
            ..expired
        };
        assert!(transition(closed, A::PayConfirmed, SYS, &late).is_err());
        run(closed, &late, &[(A::StartRefund, SYS, S::Refunding)]);
    }

    #[test]
    fn messages_say_why() {
        let f = facts(39900, 10000, false, DeliveryMethod::Mail);
        let cases = [
            (
                transition(S::Draft, A::ApproveInitial, OP, &f),
                "订单当前为“草稿”状态，不能初审通过",
            ),
            (
                transition(S::Draft, A::Submit, EMPLOYEE, &f),
                "其他员工无权对“草稿”状态的订单执行“提交审核”",
            ),
            (
                transition(S::AwaitingInitialReview, A::ApproveInitial, SYSADMIN, &f),
                "系统管理员无权对“待初审”状态的订单执行“初审通过”",
            ),
            (
                transition(S::AwaitingSecondReview, A::ApproveSecond, SYS, &f),
                "系统无权对“待复审”状态的订单执行“复审通过”",
            ),
            (
                transition(S::AwaitingPayment, A::PayConfirmed, OP, &f),
                "不能确认支付：已付金额 100.00 元少于应付金额 399.00 元",
            ),
            (
                transition(S::Issued, A::ReadyForPickup, OP, &f),
                "不能通知现场领取：该订单的领取方式是“邮寄”",
            ),
        ];
        for (result, message) in cases {
            assert_eq!(result.unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn on_behalf_is_the_operator_doing_a_supplier_action() {
        for action in OrderAction::ALL {
            for actor in Actor::ALL {
                let expected = actor == OP
                    && matches!(
                        action,
                        A::Submit | A::EditAndResubmit | A::Withdraw | A::ConfirmReceipt
                    );
                assert_eq!(is_on_behalf(action, actor), expected, "{action} {actor}");
            }
        }
    }

    #[test]
    fn available_actions_are_the_buttons() {
        let f = facts(39900, 0, false, DeliveryMethod::Mail);
        assert_eq!(
            WORKFLOW.available_actions(S::AwaitingInitialReview, OP, &f),
            vec![A::ApproveInitial, A::RejectInitial, A::Withdraw]
        );
        assert_eq!(
            WORKFLOW.available_actions(S::AwaitingInitialReview, ADMIN, &f),
            vec![A::Withdraw]
        );
        assert!(WORKFLOW
            .available_actions(S::AwaitingInitialReview, EMPLOYEE, &f)
            .is_empty());
        assert!(WORKFLOW.available_actions(S::Completed, OP, &f).is_empty());
    }

    #[test]
    fn step_slas() {
        let expected = [
            (S::Draft, None),
            (S::AwaitingInitialReview, Some(1)),
            (S::Rejected, None),
            (S::AwaitingPayment, None),
            (S::Closed, None),
            (S::AwaitingSecondReview, Some(1)),
            (S::Issuing, Some(3)),
            (S::Issued, Some(1)),
            (S::Shipping, None),
            (S::AwaitingPickup, None),
            (S::Completed, None),
            (S::Withdrawn, None),
            (S::Refunding, Some(15)),
            (S::Refunded, None),
        ];
        for (status, days) in expected {
            assert_eq!(WORKFLOW.sla_working_days(status), days, "{status}");
        }
        for status in OrderStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert_eq!(WORKFLOW.sla_working_days(status), None, "{status}");
        }
    }

    #[test]
    fn step_deadlines_use_the_calendar() {
        let calendar = WorkCalendar::china_builtin();
        let entered: DateTime = "2026-09-30T16:45:00".parse().unwrap();
        let review = WORKFLOW
            .step_deadline(&calendar, S::AwaitingInitialReview, entered)
            .unwrap();
        assert_eq!(review.due.to_string(), "2026-10-08T23:59:59.999999999");
        let issuing = WORKFLOW
            .step_deadline(&calendar, S::Issuing, entered)
            .unwrap();
        assert_eq!(issuing.due_date().to_string(), "2026-10-10");
        assert!(WORKFLOW
            .step_deadline(&calendar, S::Draft, entered)
            .is_none());
    }
}
