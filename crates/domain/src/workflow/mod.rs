//! Workflows as data, as OpenXPKI keeps each workflow as a table of states, actions and guards:
//! every business type's flow is one [`Workflow`] — the statuses its orders pass through with
//! each one's working-day SLA, and its transition rules (the action, the statuses it starts
//! from, the actors allowed, the guard on the order's facts, where it leads, and the named side
//! effects that go with it).
//!
//! [`Workflow::step`] checks an action against the table and answers a typed [`Step`]. A step
//! can only be made here (its fields are private), and the store applies nothing but steps: so
//! no status change is written that the table did not allow.
//!
//! Adding a business type is adding a table (see [`new_certificate`]) and a [`BusinessType`]
//! variant; the exhaustive test walks every (workflow, status, action, actor).

pub mod change;
pub mod new_certificate;
pub mod renewal;
pub mod replacement;
pub mod revocation;
pub mod unlock;

use crate::calendar::{Deadline, WorkCalendar};
use crate::limits::LimitError;
use crate::order::{Actor, DeliveryMethod, OrderAction, OrderFacts, OrderStatus};
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The business types of DOMAIN.md that certdesk handles; each has its [`Workflow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessType {
    /// 新办: a new certificate.
    #[serde(rename = "new")]
    NewCertificate,
    /// 解锁: a one-time code to set a new PIN on a locked key.
    Unlock,
    /// 吊销: a certificate revoked on the organisation's request.
    Revocation,
    /// 续费/延期: one certificate or many renewed for the same key pairs.
    Renewal,
    /// 补办: a new key for a lost or damaged one, or after a CA upgrade.
    Replacement,
    /// 变更: a new certificate after the organisation's name or legal representative changed.
    Change,
}

impl BusinessType {
    pub const ALL: [BusinessType; 6] = [
        BusinessType::NewCertificate,
        BusinessType::Unlock,
        BusinessType::Revocation,
        BusinessType::Renewal,
        BusinessType::Replacement,
        BusinessType::Change,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            BusinessType::NewCertificate => "new",
            BusinessType::Unlock => "unlock",
            BusinessType::Revocation => "revocation",
            BusinessType::Renewal => "renewal",
            BusinessType::Replacement => "replacement",
            BusinessType::Change => "change",
        }
    }

    /// The name users see.
    pub fn label_zh(self) -> &'static str {
        match self {
            BusinessType::NewCertificate => "新办",
            BusinessType::Unlock => "解锁",
            BusinessType::Revocation => "吊销",
            BusinessType::Renewal => "续费",
            BusinessType::Replacement => "补办",
            BusinessType::Change => "变更",
        }
    }

    /// The table its orders move by.
    pub fn workflow(self) -> &'static Workflow {
        match self {
            BusinessType::NewCertificate => &new_certificate::NEW_CERTIFICATE,
            BusinessType::Unlock => &unlock::UNLOCK,
            BusinessType::Revocation => &revocation::REVOCATION,
            BusinessType::Renewal => &renewal::RENEWAL,
            BusinessType::Replacement => &replacement::REPLACEMENT,
            BusinessType::Change => &change::CHANGE,
        }
    }
}

impl fmt::Display for BusinessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知业务类型: {0}")]
pub struct UnknownBusinessType(pub String);

impl FromStr for BusinessType {
    type Err = UnknownBusinessType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BusinessType::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownBusinessType(s.to_string()))
    }
}

/// Who the tables name, shared by every business type's table.
pub(crate) mod actors {
    use crate::account::Role;
    use crate::order::Actor;

    pub const SYSTEM: Actor = Actor::System;
    pub const ORG_ADMIN: Actor = Actor::Role(Role::OrgAdmin);
    pub const OPERATOR: Actor = Actor::Role(Role::PlatformOperator);
    pub const CA_OFFICER: Actor = Actor::Role(Role::CaOfficer);
    /// The supplier, or an operator on its behalf (操作员代办).
    pub const SUPPLIER: &[Actor] = &[ORG_ADMIN, OPERATOR];
}

/// A status of a table and its SLA in working days.
pub(crate) const fn state(status: OrderStatus, sla_working_days: Option<u32>) -> StateRule {
    StateRule {
        status,
        sla_working_days,
    }
}

/// A condition on [`OrderFacts`] that a transition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Not free, and what was paid covers what is due.
    PaidInFull,
    /// Not free, not fully paid, and the payment window is over.
    UnpaidAndExpired,
    /// The order costs nothing.
    Free,
    /// Nothing was paid (so nothing would be lost or paid twice).
    NothingPaid,
    /// Something was paid (so there is something to refund).
    SomethingPaid,
    Delivery(DeliveryMethod),
    /// Nothing stands in the way of issuing the certificate (only what the CA would issue
    /// reaches 制证中).
    Issuable,
    /// The CA would refuse the certificate.
    Unissuable,
}

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    To(OrderStatus),
    /// 退款中 when anything was paid, this status otherwise.
    RefundIfPaidElse(OrderStatus),
}

/// What else happens with a step, named in the table so that the flow reads whole from it.
///
/// Two kinds: **writes** go into the same transaction as the step (the store makes
/// [`SideEffect::ReleaseVoucher`] itself; for the others the caller hands the data to the one
/// store call that applies the step), and **follow-ups** run once the step is committed (they
/// call the gateway or the CA, or take a further step of the system's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SideEffect {
    /// Write: the price is fixed, 首张免费 claimed and the voucher redeemed (提交).
    FixPrice,
    /// Write: the voucher on the order may be used again.
    ReleaseVoucher,
    /// Write: the payment is recorded, exactly once per gateway transaction.
    RecordPayment,
    /// Write, when the step leads to 退款中: the refund asked for is recorded.
    RequestRefund,
    /// Write: the refund is recorded as paid back.
    CompleteRefund,
    /// Write: the certificates are recorded and linked to the order.
    RecordIssuance,
    /// Write: the courier and tracking number are recorded.
    RecordShipment,
    /// Write: the receipt is recorded.
    RecordReceipt,
    /// Follow-up: a free order skips the cashier (the system's `SkipPaymentFree`).
    SkipPaymentIfFree,
    /// Follow-up: a paid order sent back is refunded by the system (its `StartRefund`).
    RefundIfPaid,
    /// Follow-up, when the step leads to 退款中: the gateway that took the money is asked to
    /// pay it back (an offline transfer is paid back by an operator).
    AskGatewayToPayBack,
    /// Follow-up: for a mobile product the CA makes and holds the key pairs and issues.
    IssueHeldKeys,
    /// Follow-up: a renewal of a mobile product's keys, which the CA holds, is signed at once
    /// for the same key pairs (no key holder connects a key).
    RenewHeldKeys,
    /// Write: the one-time 解锁授权码, bound to the key, is recorded with the approval.
    IssueUnlockCode,
    /// Write: the certificate is revoked at the CA (idempotently) and the revocation recorded
    /// with the step.
    RevokeCertificate,
    /// Write: 变更 takes effect — the organisation's registration and the key's application
    /// are updated with the step.
    ApplyChange,
}

impl SideEffect {
    /// Whether it is written with the step (rather than run after it).
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            SideEffect::SkipPaymentIfFree
                | SideEffect::RefundIfPaid
                | SideEffect::AskGatewayToPayBack
                | SideEffect::IssueHeldKeys
                | SideEffect::RenewHeldKeys
        )
    }
}

/// One row of a workflow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionRule {
    pub action: OrderAction,
    pub from: &'static [OrderStatus],
    pub actors: &'static [Actor],
    pub guard: Option<Guard>,
    pub to: Target,
    pub effects: &'static [SideEffect],
}

/// A status of a workflow and its working-day SLA, if the step it waits for has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRule {
    pub status: OrderStatus,
    pub sla_working_days: Option<u32>,
}

/// A business type's flow: its statuses and its transition table. At most one rule matches
/// an (action, status) pair.
#[derive(Debug)]
pub struct Workflow {
    pub business_type: BusinessType,
    pub states: &'static [StateRule],
    pub rules: &'static [TransitionRule],
}

/// Why a guard on the facts is not met. Messages are shown to users as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnmetRequirement {
    #[error("免费订单无需支付")]
    OrderIsFree,
    #[error("订单需要支付，不是免费订单")]
    OrderIsNotFree,
    #[error("已付金额 {} 元少于应付金额 {} 元", yuan(.paid_fen), yuan(.due_fen))]
    Underpaid { paid_fen: u64, due_fen: u64 },
    #[error("订单已付清")]
    AlreadyPaid,
    #[error("支付期限（30分钟）尚未结束")]
    PaymentWindowOpen,
    #[error("订单已支付，被驳回后款项将退回，请重新申领")]
    PaidOrderRejected,
    #[error("订单没有已付款项")]
    NothingPaid,
    #[error("该订单的领取方式是“{}”", .actual.label_zh())]
    WrongDelivery { actual: DeliveryMethod },
    #[error("CA无法为该订单制证：{0}")]
    CannotIssue(LimitError),
    #[error("该订单仍可制证，请复审或等待制证")]
    StillIssuable,
}

/// Why an action was refused; the order stays in `status`. Messages are shown as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("订单当前为“{}”状态，不能{}", .status.label_zh(), .action.label_zh())]
    NotAllowedInStatus {
        status: OrderStatus,
        action: OrderAction,
    },
    #[error("{}无权对“{}”状态的订单执行“{}”", .actor.label_zh(), .status.label_zh(), .action.label_zh())]
    NotAllowedForActor {
        status: OrderStatus,
        action: OrderAction,
        actor: Actor,
    },
    #[error("不能{}：{reason}", .action.label_zh())]
    RequirementNotMet {
        status: OrderStatus,
        action: OrderAction,
        reason: UnmetRequirement,
    },
}

impl TransitionError {
    /// The status the order keeps.
    pub fn status(&self) -> OrderStatus {
        match *self {
            TransitionError::NotAllowedInStatus { status, .. }
            | TransitionError::NotAllowedForActor { status, .. }
            | TransitionError::RequirementNotMet { status, .. } => status,
        }
    }
}

/// A step the table allows: the only thing the store applies to an order. Made by
/// [`Workflow::step`] alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    business_type: BusinessType,
    action: OrderAction,
    from: OrderStatus,
    to: OrderStatus,
    actor: Actor,
    effects: &'static [SideEffect],
}

impl Step {
    pub fn business_type(&self) -> BusinessType {
        self.business_type
    }
    pub fn action(&self) -> OrderAction {
        self.action
    }
    pub fn from(&self) -> OrderStatus {
        self.from
    }
    pub fn to(&self) -> OrderStatus {
        self.to
    }
    pub fn actor(&self) -> Actor {
        self.actor
    }
    /// Whether an operator takes a supplier's step (操作员代办), recorded as such.
    pub fn on_behalf(&self) -> bool {
        is_on_behalf(self.action, self.actor)
    }
    pub fn effects(&self) -> &'static [SideEffect] {
        self.effects
    }
    /// Whether `effect` goes with this step. The refund effects go only with a step that
    /// leads to 退款中 (a withdrawal with nothing paid has none).
    pub fn has(&self, effect: SideEffect) -> bool {
        let refunding = matches!(
            effect,
            SideEffect::RequestRefund | SideEffect::AskGatewayToPayBack
        );
        self.effects.contains(&effect) && (!refunding || self.to == OrderStatus::Refunding)
    }
}

impl Workflow {
    /// The rule for `action` in `status`, if the action exists there at all.
    pub fn rule_for(&self, status: OrderStatus, action: OrderAction) -> Option<&TransitionRule> {
        self.rules
            .iter()
            .find(|rule| rule.action == action && rule.from.contains(&status))
    }

    /// The step `action` by `actor` makes from `status`, or why it is refused. Checks, in this
    /// order: the action exists in the status, the actor may take it, the guard holds.
    pub fn step(
        &self,
        status: OrderStatus,
        action: OrderAction,
        actor: Actor,
        facts: &OrderFacts,
    ) -> Result<Step, TransitionError> {
        let rule = self
            .rule_for(status, action)
            .ok_or(TransitionError::NotAllowedInStatus { status, action })?;
        if !rule.actors.contains(&actor) {
            return Err(TransitionError::NotAllowedForActor {
                status,
                action,
                actor,
            });
        }
        if let Some(guard) = rule.guard {
            check(guard, facts).map_err(|reason| TransitionError::RequirementNotMet {
                status,
                action,
                reason,
            })?;
        }
        let to = match rule.to {
            Target::To(next) => next,
            Target::RefundIfPaidElse(_) if facts.paid_amount_fen > 0 => OrderStatus::Refunding,
            Target::RefundIfPaidElse(next) => next,
        };
        Ok(Step {
            business_type: self.business_type,
            action,
            from: status,
            to,
            actor,
            effects: rule.effects,
        })
    }

    /// The actions `actor` may take now, in [`OrderAction::ALL`] order (the buttons a user sees).
    pub fn available_actions(
        &self,
        status: OrderStatus,
        actor: Actor,
        facts: &OrderFacts,
    ) -> Vec<OrderAction> {
        OrderAction::ALL
            .into_iter()
            .filter(|action| self.step(status, *action, actor, facts).is_ok())
            .collect()
    }

    /// The working-day SLA of the step an order in `status` waits for, if it has one.
    pub fn sla_working_days(&self, status: OrderStatus) -> Option<u32> {
        self.states
            .iter()
            .find(|s| s.status == status)
            .and_then(|s| s.sla_working_days)
    }

    /// When the current step of an order that entered `status` at `entered_at` (Beijing time)
    /// is due, if the step has a working-day SLA.
    pub fn step_deadline(
        &self,
        calendar: &WorkCalendar,
        status: OrderStatus,
        entered_at: DateTime,
    ) -> Option<Deadline> {
        self.sla_working_days(status)
            .map(|days| calendar.working_day_deadline(entered_at, days))
    }

    /// No rule leads out of a terminal status.
    pub fn is_terminal(&self, status: OrderStatus) -> bool {
        !self.rules.iter().any(|r| r.from.contains(&status))
    }
}

/// Whether `actor` taking `action` is 操作员代办, to be recorded as such in the history.
pub(crate) fn is_on_behalf(action: OrderAction, actor: Actor) -> bool {
    action.is_supplier_action() && actor == Actor::Role(crate::account::Role::PlatformOperator)
}

fn check(guard: Guard, facts: &OrderFacts) -> Result<(), UnmetRequirement> {
    let paid_in_full = facts.paid_amount_fen >= facts.amount_due_fen;
    match guard {
        Guard::PaidInFull if facts.is_free() => Err(UnmetRequirement::OrderIsFree),
        Guard::PaidInFull if !paid_in_full => Err(UnmetRequirement::Underpaid {
            paid_fen: facts.paid_amount_fen,
            due_fen: facts.amount_due_fen,
        }),
        Guard::UnpaidAndExpired if facts.is_free() => Err(UnmetRequirement::OrderIsFree),
        Guard::UnpaidAndExpired if paid_in_full => Err(UnmetRequirement::AlreadyPaid),
        Guard::UnpaidAndExpired if !facts.payment_window_expired => {
            Err(UnmetRequirement::PaymentWindowOpen)
        }
        Guard::Free if !facts.is_free() => Err(UnmetRequirement::OrderIsNotFree),
        Guard::NothingPaid if facts.paid_amount_fen > 0 => Err(UnmetRequirement::PaidOrderRejected),
        Guard::SomethingPaid if facts.paid_amount_fen == 0 => Err(UnmetRequirement::NothingPaid),
        Guard::Delivery(method) if facts.delivery != method => {
            Err(UnmetRequirement::WrongDelivery {
                actual: facts.delivery,
            })
        }
        Guard::Issuable => match facts.cannot_issue {
            Some(reason) => Err(UnmetRequirement::CannotIssue(reason)),
            None => Ok(()),
        },
        Guard::Unissuable if facts.cannot_issue.is_none() => Err(UnmetRequirement::StillIssuable),
        _ => Ok(()),
    }
}

/// "399.00" for 39900 fen.
fn yuan(fen: &u64) -> String {
    crate::product::yuan(i64::try_from(*fen).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workflow_is_well_formed() {
        for business_type in BusinessType::ALL {
            let workflow = business_type.workflow();
            assert_eq!(workflow.business_type, business_type);
            assert_eq!(business_type.as_str().parse(), Ok(business_type));
            for rule in workflow.rules {
                assert!(!rule.from.is_empty() && !rule.actors.is_empty(), "{rule:?}");
                // Every status a rule touches is one of the workflow's states.
                let targets = match rule.to {
                    Target::To(s) => vec![s],
                    Target::RefundIfPaidElse(s) => vec![s, OrderStatus::Refunding],
                };
                for status in rule.from.iter().chain(&targets) {
                    assert!(
                        workflow.states.iter().any(|s| s.status == *status),
                        "{business_type}: {status} is not a state"
                    );
                }
                // A step that may lead to 退款中 records the refund and asks for the money back.
                if targets.contains(&OrderStatus::Refunding) {
                    assert!(
                        rule.effects.contains(&SideEffect::RequestRefund),
                        "{rule:?}"
                    );
                    assert!(
                        rule.effects.contains(&SideEffect::AskGatewayToPayBack),
                        "{rule:?}"
                    );
                }
            }
            // At most one rule per (status, action).
            for state in workflow.states {
                for action in OrderAction::ALL {
                    let rows = workflow
                        .rules
                        .iter()
                        .filter(|r| r.action == action && r.from.contains(&state.status))
                        .count();
                    assert!(rows <= 1, "{business_type} {} {action}", state.status);
                }
                // A terminal status waits for nothing.
                if workflow.is_terminal(state.status) {
                    assert_eq!(state.sla_working_days, None, "{}", state.status);
                }
            }
        }
    }
}
