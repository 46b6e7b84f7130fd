//! The order (业务单) state machine of DOMAIN.md ("Business types", "Order statuses",
//! "Payments"), as one transition table, [`TRANSITIONS`], read by [`transition`].
//!
//! The flow of a new certificate: 草稿 → 提交 → 待初审 → 初审通过 → 待支付 → (支付 | 免费) →
//! 待复审 → 复审通过 → 制证中 → 已发证 → (配送中 | 待领取 | online) → 已完成.
//!
//! Rules decided here, where the guides leave room:
//!
//! - **Payment follows initial review** (DOMAIN.md). `approve_initial` always leads to 待支付;
//!   for a free order the system applies `skip_payment_free` at once, so both paths look alike
//!   in the history. An unpaid order is closed by the system after [`PAYMENT_WINDOW`].
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
//!   of an offline bank transfer, an operator duty, not 代办. [`is_on_behalf`] tells the store
//!   to record an action as 代办. Employees (其他员工) take no part in orders (DOMAIN.md: only the
//!   organisation admin applies and pays); the system admin configures, it does not process.
//! - **Refunds** are confirmed by the gateway (the system) or, for offline transfers, by an
//!   operator.

use crate::account::Role;
use crate::calendar::{Deadline, WorkCalendar};
use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An unpaid order closes after this long in 待支付 (DOMAIN.md, "Payments").
pub const PAYMENT_WINDOW: SignedDuration = SignedDuration::from_mins(30);

/// Beijing time: UTC+8 all year, without daylight saving since 1991.
const BEIJING: Offset = Offset::constant(8);

/// The status of an order (DOMAIN.md, "Order statuses"). Stored as the snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// 草稿
    Draft,
    /// 待初审
    AwaitingInitialReview,
    /// 审核未通过
    Rejected,
    /// 待支付
    AwaitingPayment,
    /// 已关闭: unpaid after [`PAYMENT_WINDOW`].
    Closed,
    /// 待复审: the CA's review.
    AwaitingSecondReview,
    /// 制证中
    Issuing,
    /// 已发证
    Issued,
    /// 配送中: a UKey on its way by courier.
    Shipping,
    /// 待领取: a UKey waiting at the counter.
    AwaitingPickup,
    /// 已完成
    Completed,
    /// 已撤销: withdrawn with nothing to refund.
    Withdrawn,
    /// 退款中
    Refunding,
    /// 已退款
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 14] = [
        OrderStatus::Draft,
        OrderStatus::AwaitingInitialReview,
        OrderStatus::Rejected,
        OrderStatus::AwaitingPayment,
        OrderStatus::Closed,
        OrderStatus::AwaitingSecondReview,
        OrderStatus::Issuing,
        OrderStatus::Issued,
        OrderStatus::Shipping,
        OrderStatus::AwaitingPickup,
        OrderStatus::Completed,
        OrderStatus::Withdrawn,
        OrderStatus::Refunding,
        OrderStatus::Refunded,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Draft => "draft",
            OrderStatus::AwaitingInitialReview => "awaiting_initial_review",
            OrderStatus::Rejected => "rejected",
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Closed => "closed",
            OrderStatus::AwaitingSecondReview => "awaiting_second_review",
            OrderStatus::Issuing => "issuing",
            OrderStatus::Issued => "issued",
            OrderStatus::Shipping => "shipping",
            OrderStatus::AwaitingPickup => "awaiting_pickup",
            OrderStatus::Completed => "completed",
            OrderStatus::Withdrawn => "withdrawn",
            OrderStatus::Refunding => "refunding",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// The name users see.
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderStatus::Draft => "草稿",
            OrderStatus::AwaitingInitialReview => "待初审",
            OrderStatus::Rejected => "审核未通过",
            OrderStatus::AwaitingPayment => "待支付",
            OrderStatus::Closed => "已关闭",
            OrderStatus::AwaitingSecondReview => "待复审",
            OrderStatus::Issuing => "制证中",
            OrderStatus::Issued => "已发证",
            OrderStatus::Shipping => "配送中",
            OrderStatus::AwaitingPickup => "待领取",
            OrderStatus::Completed => "已完成",
            OrderStatus::Withdrawn => "已撤销",
            OrderStatus::Refunding => "退款中",
            OrderStatus::Refunded => "已退款",
        }
    }

    /// No action leads out of a terminal status. 已关闭 and 已撤销 are not ones: a payment that
    /// arrives after the order closed or was withdrawn (the supplier paid while withdrawing) is
    /// refunded from there.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Refunded)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知订单状态: {0}")]
pub struct UnknownOrderStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownOrderStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownOrderStatus(s.to_string()))
    }
}

/// What can be done to an order. Stored in the status history as the snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    Submit,
    ApproveInitial,
    RejectInitial,
    EditAndResubmit,
    /// From a gateway notification, or an operator confirming an offline transfer.
    PayConfirmed,
    /// By the system after [`PAYMENT_WINDOW`].
    CloseUnpaid,
    SkipPaymentFree,
    ApproveSecond,
    RejectSecond,
    MarkIssued,
    /// The operator enters the courier and tracking number.
    Ship,
    ReadyForPickup,
    ConfirmReceipt,
    Withdraw,
    StartRefund,
    RefundCompleted,
}

impl OrderAction {
    pub const ALL: [OrderAction; 16] = [
        OrderAction::Submit,
        OrderAction::ApproveInitial,
        OrderAction::RejectInitial,
        OrderAction::EditAndResubmit,
        OrderAction::PayConfirmed,
        OrderAction::CloseUnpaid,
        OrderAction::SkipPaymentFree,
        OrderAction::ApproveSecond,
        OrderAction::RejectSecond,
        OrderAction::MarkIssued,
        OrderAction::Ship,
        OrderAction::ReadyForPickup,
        OrderAction::ConfirmReceipt,
        OrderAction::Withdraw,
        OrderAction::StartRefund,
        OrderAction::RefundCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderAction::Submit => "submit",
            OrderAction::ApproveInitial => "approve_initial",
            OrderAction::RejectInitial => "reject_initial",
            OrderAction::EditAndResubmit => "edit_and_resubmit",
            OrderAction::PayConfirmed => "pay_confirmed",
            OrderAction::CloseUnpaid => "close_unpaid",
            OrderAction::SkipPaymentFree => "skip_payment_free",
            OrderAction::ApproveSecond => "approve_second",
            OrderAction::RejectSecond => "reject_second",
            OrderAction::MarkIssued => "mark_issued",
            OrderAction::Ship => "ship",
            OrderAction::ReadyForPickup => "ready_for_pickup",
            OrderAction::ConfirmReceipt => "confirm_receipt",
            OrderAction::Withdraw => "withdraw",
            OrderAction::StartRefund => "start_refund",
            OrderAction::RefundCompleted => "refund_completed",
        }
    }

    /// The name users see (buttons and the status history).
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderAction::Submit => "提交审核",
            OrderAction::ApproveInitial => "初审通过",
            OrderAction::RejectInitial => "初审驳回",
            OrderAction::EditAndResubmit => "修改后重新提交",
            OrderAction::PayConfirmed => "确认支付",
            OrderAction::CloseUnpaid => "超时未支付关闭",
            OrderAction::SkipPaymentFree => "免费订单免支付",
            OrderAction::ApproveSecond => "复审通过",
            OrderAction::RejectSecond => "复审驳回",
            OrderAction::MarkIssued => "确认已发证",
            OrderAction::Ship => "邮寄发货",
            OrderAction::ReadyForPickup => "通知现场领取",
            OrderAction::ConfirmReceipt => "确认收货",
            OrderAction::Withdraw => "撤销",
            OrderAction::StartRefund => "发起退款",
            OrderAction::RefundCompleted => "退款完成",
        }
    }

    /// The supplier's own actions; an operator doing one of them acts on its behalf (代办).
    pub fn is_supplier_action(self) -> bool {
        matches!(
            self,
            OrderAction::Submit
                | OrderAction::EditAndResubmit
                | OrderAction::Withdraw
                | OrderAction::ConfirmReceipt
        )
    }
}

impl fmt::Display for OrderAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知订单操作: {0}")]
pub struct UnknownOrderAction(pub String);

impl FromStr for OrderAction {
    type Err = UnknownOrderAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderAction::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownOrderAction(s.to_string()))
    }
}

/// Who acts on an order: a signed-in user with a role, or the system itself (timers, gateway
/// notifications, the CA's issuance callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Role(Role),
    System,
}

impl Actor {
    pub const ALL: [Actor; 6] = [
        Actor::Role(Role::OrgAdmin),
        Actor::Role(Role::Employee),
        Actor::Role(Role::PlatformOperator),
        Actor::Role(Role::CaOfficer),
        Actor::Role(Role::SystemAdmin),
        Actor::System,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            Actor::Role(role) => role.label_zh(),
            Actor::System => "系统",
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Role(role) => f.write_str(role.as_str()),
            Actor::System => f.write_str("system"),
        }
    }
}

/// How the certificate reaches the supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMethod {
    /// A UKey by courier (邮寄).
    Mail,
    /// A UKey collected at the counter (现场领取).
    Pickup,
    /// A mobile certificate, downloaded in the app (在线下载).
    Online,
}

impl DeliveryMethod {
    pub fn label_zh(self) -> &'static str {
        match self {
            DeliveryMethod::Mail => "邮寄",
            DeliveryMethod::Pickup => "现场领取",
            DeliveryMethod::Online => "在线下载",
        }
    }
}

/// The facts about an order that the rules need besides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFacts {
    /// What the supplier must pay, after vouchers and discounts, in fen; 0 is a free order.
    pub amount_due_fen: u64,
    /// What has been received and not refunded, in fen, including a payment being confirmed.
    pub paid_amount_fen: u64,
    /// Whether the order has waited in 待支付 for at least [`PAYMENT_WINDOW`]; see
    /// [`payment_window_expired`].
    pub payment_window_expired: bool,
    pub delivery: DeliveryMethod,
}

impl OrderFacts {
    pub fn is_free(&self) -> bool {
        self.amount_due_fen == 0
    }
}

/// Whether an order that entered 待支付 at `awaiting_since` may be closed at `now`.
pub fn payment_window_expired(awaiting_since: Timestamp, now: Timestamp) -> bool {
    now.duration_since(awaiting_since) >= PAYMENT_WINDOW
}

/// A condition on [`OrderFacts`] that a transition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
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
}

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    To(OrderStatus),
    /// 退款中 when anything was paid, this status otherwise.
    RefundIfPaidElse(OrderStatus),
}

/// One row of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionRule {
    pub action: OrderAction,
    pub from: &'static [OrderStatus],
    pub actors: &'static [Actor],
    pub requires: Option<Requirement>,
    pub to: Target,
}

// Short names keep the table readable.
use OrderAction as A;
use OrderStatus as S;
const SYSTEM: Actor = Actor::System;
const ORG_ADMIN: Actor = Actor::Role(Role::OrgAdmin);
const OPERATOR: Actor = Actor::Role(Role::PlatformOperator);
const CA_OFFICER: Actor = Actor::Role(Role::CaOfficer);
/// The supplier, or an operator on its behalf (操作员代办).
const SUPPLIER: &[Actor] = &[ORG_ADMIN, OPERATOR];

/// The order state machine. At most one row matches an (action, status) pair.
pub const TRANSITIONS: &[TransitionRule] = &[
    TransitionRule {
        action: A::Submit,
        from: &[S::Draft],
        actors: SUPPLIER,
        requires: None,
        to: Target::To(S::AwaitingInitialReview),
    },
    TransitionRule {
        action: A::ApproveInitial,
        from: &[S::AwaitingInitialReview],
        actors: &[OPERATOR],
        requires: None,
        to: Target::To(S::AwaitingPayment),
    },
    TransitionRule {
        action: A::RejectInitial,
        from: &[S::AwaitingInitialReview],
        actors: &[OPERATOR],
        requires: None,
        to: Target::To(S::Rejected),
    },
    TransitionRule {
        action: A::EditAndResubmit,
        from: &[S::Rejected],
        actors: SUPPLIER,
        requires: Some(Requirement::NothingPaid),
        to: Target::To(S::AwaitingInitialReview),
    },
    TransitionRule {
        action: A::PayConfirmed,
        from: &[S::AwaitingPayment],
        actors: &[SYSTEM, OPERATOR],
        requires: Some(Requirement::PaidInFull),
        to: Target::To(S::AwaitingSecondReview),
    },
    TransitionRule {
        action: A::CloseUnpaid,
        from: &[S::AwaitingPayment],
        actors: &[SYSTEM],
        requires: Some(Requirement::UnpaidAndExpired),
        to: Target::To(S::Closed),
    },
    TransitionRule {
        action: A::SkipPaymentFree,
        from: &[S::AwaitingPayment],
        actors: &[SYSTEM],
        requires: Some(Requirement::Free),
        to: Target::To(S::AwaitingSecondReview),
    },
    TransitionRule {
        action: A::ApproveSecond,
        from: &[S::AwaitingSecondReview],
        actors: &[CA_OFFICER],
        requires: None,
        to: Target::To(S::Issuing),
    },
    TransitionRule {
        action: A::RejectSecond,
        from: &[S::AwaitingSecondReview],
        actors: &[CA_OFFICER],
        requires: None,
        to: Target::To(S::Rejected),
    },
    TransitionRule {
        action: A::MarkIssued,
        from: &[S::Issuing],
        actors: &[CA_OFFICER, SYSTEM],
        requires: None,
        to: Target::To(S::Issued),
    },
    TransitionRule {
        action: A::Ship,
        from: &[S::Issued],
        actors: &[OPERATOR],
        requires: Some(Requirement::Delivery(DeliveryMethod::Mail)),
        to: Target::To(S::Shipping),
    },
    TransitionRule {
        action: A::ReadyForPickup,
        from: &[S::Issued],
        actors: &[OPERATOR],
        requires: Some(Requirement::Delivery(DeliveryMethod::Pickup)),
        to: Target::To(S::AwaitingPickup),
    },
    TransitionRule {
        action: A::ConfirmReceipt,
        from: &[S::Shipping, S::AwaitingPickup],
        actors: SUPPLIER,
        requires: None,
        to: Target::To(S::Completed),
    },
    // A mobile certificate has nothing to ship: the supplier confirms once it is downloaded.
    TransitionRule {
        action: A::ConfirmReceipt,
        from: &[S::Issued],
        actors: SUPPLIER,
        requires: Some(Requirement::Delivery(DeliveryMethod::Online)),
        to: Target::To(S::Completed),
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
        requires: None,
        to: Target::RefundIfPaidElse(S::Withdrawn),
    },
    TransitionRule {
        action: A::StartRefund,
        from: &[S::Rejected, S::Closed, S::Withdrawn],
        actors: &[SYSTEM, OPERATOR],
        requires: Some(Requirement::SomethingPaid),
        to: Target::To(S::Refunding),
    },
    TransitionRule {
        action: A::RefundCompleted,
        from: &[S::Refunding],
        actors: &[SYSTEM, OPERATOR],
        requires: None,
        to: Target::To(S::Refunded),
    },
];

/// Why a rule's condition on the facts is not met. Messages are shown to users as they are.
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

/// The table row for `action` in `status`, if the action exists there at all.
pub fn rule_for(status: OrderStatus, action: OrderAction) -> Option<&'static TransitionRule> {
    TRANSITIONS
        .iter()
        .find(|rule| rule.action == action && rule.from.contains(&status))
}

/// The status `action` by `actor` leads to from `status`, or why it is refused. Checks, in this
/// order: the action exists in the status, the actor may take it, the facts allow it.
pub fn transition(
    status: OrderStatus,
    action: OrderAction,
    actor: Actor,
    facts: &OrderFacts,
) -> Result<OrderStatus, TransitionError> {
    let rule =
        rule_for(status, action).ok_or(TransitionError::NotAllowedInStatus { status, action })?;
    if !rule.actors.contains(&actor) {
        return Err(TransitionError::NotAllowedForActor {
            status,
            action,
            actor,
        });
    }
    if let Some(requirement) = rule.requires {
        check(requirement, facts).map_err(|reason| TransitionError::RequirementNotMet {
            status,
            action,
            reason,
        })?;
    }
    Ok(match rule.to {
        Target::To(next) => next,
        Target::RefundIfPaidElse(_) if facts.paid_amount_fen > 0 => OrderStatus::Refunding,
        Target::RefundIfPaidElse(next) => next,
    })
}

/// [`transition`] applied in place: `status` changes only when the action is allowed.
pub fn apply(
    status: &mut OrderStatus,
    action: OrderAction,
    actor: Actor,
    facts: &OrderFacts,
) -> Result<(), TransitionError> {
    *status = transition(*status, action, actor, facts)?;
    Ok(())
}

/// The actions `actor` may take now, in [`OrderAction::ALL`] order (for the buttons a user sees).
pub fn available_actions(
    status: OrderStatus,
    actor: Actor,
    facts: &OrderFacts,
) -> Vec<OrderAction> {
    OrderAction::ALL
        .into_iter()
        .filter(|action| transition(status, *action, actor, facts).is_ok())
        .collect()
}

/// Whether `actor` taking `action` is 操作员代办, to be recorded as such in the history.
pub fn is_on_behalf(action: OrderAction, actor: Actor) -> bool {
    action.is_supplier_action() && actor == OPERATOR
}

fn check(requirement: Requirement, facts: &OrderFacts) -> Result<(), UnmetRequirement> {
    let paid_in_full = facts.paid_amount_fen >= facts.amount_due_fen;
    match requirement {
        Requirement::PaidInFull if facts.is_free() => Err(UnmetRequirement::OrderIsFree),
        Requirement::PaidInFull if !paid_in_full => Err(UnmetRequirement::Underpaid {
            paid_fen: facts.paid_amount_fen,
            due_fen: facts.amount_due_fen,
        }),
        Requirement::UnpaidAndExpired if facts.is_free() => Err(UnmetRequirement::OrderIsFree),
        Requirement::UnpaidAndExpired if paid_in_full => Err(UnmetRequirement::AlreadyPaid),
        Requirement::UnpaidAndExpired if !facts.payment_window_expired => {
            Err(UnmetRequirement::PaymentWindowOpen)
        }
        Requirement::Free if !facts.is_free() => Err(UnmetRequirement::OrderIsNotFree),
        Requirement::NothingPaid if facts.paid_amount_fen > 0 => {
            Err(UnmetRequirement::PaidOrderRejected)
        }
        Requirement::SomethingPaid if facts.paid_amount_fen == 0 => {
            Err(UnmetRequirement::NothingPaid)
        }
        Requirement::Delivery(method) if facts.delivery != method => {
            Err(UnmetRequirement::WrongDelivery {
                actual: facts.delivery,
            })
        }
        _ => Ok(()),
    }
}

/// "399.00" for 39900 fen.
fn yuan(fen: &u64) -> String {
    crate::product::yuan(i64::try_from(*fen).unwrap_or(i64::MAX))
}

/// The working-day SLA of the step an order in `status` waits for, when it has one:
///
/// - 待初审: 1 — "initial review (1 working day)" (DOMAIN.md, 新办).
/// - 待复审: 1 — the CA's review; guide 004 gives "复审及制证1-2个工作日" and DOMAIN.md gives
///   replacement and change reviews 1 working day.
/// - 制证中: 3 — "issuance (1–3 working days)" (DOMAIN.md), the upper bound.
/// - 已发证: 1 — handing over to courier or counter; guide 002: within 1 working day after
///   approval the key is made and sent.
/// - 退款中: 15 — "refunded (3–15 working days)" (DOMAIN.md), the upper bound.
///
/// Every other status waits for the supplier (草稿, 审核未通过, 待领取), a courier (配送中), a
/// 30-minute timer rather than working days (待支付, see [`PAYMENT_WINDOW`]), or nothing at all.
pub fn current_step_working_days(status: OrderStatus) -> Option<u32> {
    match status {
        OrderStatus::AwaitingInitialReview => Some(1),
        OrderStatus::AwaitingSecondReview => Some(1),
        OrderStatus::Issuing => Some(3),
        OrderStatus::Issued => Some(1),
        OrderStatus::Refunding => Some(15),
        OrderStatus::Draft
        | OrderStatus::Rejected
        | OrderStatus::AwaitingPayment
        | OrderStatus::Closed
        | OrderStatus::Shipping
        | OrderStatus::AwaitingPickup
        | OrderStatus::Completed
        | OrderStatus::Withdrawn
        | OrderStatus::Refunded => None,
    }
}

/// When the current step of an order that entered `status` at `entered_at` (Beijing time) is
/// due, if the step has a working-day SLA.
pub fn current_step_deadline(
    calendar: &WorkCalendar,
    status: OrderStatus,
    entered_at: DateTime,
) -> Option<Deadline> {
    current_step_working_days(status).map(|days| calendar.working_day_deadline(entered_at, days))
}

/// An order number: Beijing time `yyyyMMddHHmmssSSS` followed by `random` as 10 digits, 27
/// digits in all (guide 003 shows the same shape, time first). Numbers sort by time; two numbers
/// made in the same millisecond differ by `random`, so the caller passes a fresh random value and
/// the store still keeps a unique index. Meant for years 1000–9999, where the width is fixed.
pub fn order_number(now: Timestamp, random: u32) -> String {
    let t = BEIJING.to_datetime(now);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:03}{:010}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
        random
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    /// Facts that between them meet and miss every requirement.
    fn sample_facts() -> Vec<OrderFacts> {
        use DeliveryMethod::*;
        vec![
            facts(39900, 0, false, Mail),       // unpaid, window open
            facts(39900, 0, true, Pickup),      // unpaid, window over
            facts(39900, 10000, true, Mail),    // partly paid, window over
            facts(39900, 39900, false, Pickup), // paid in full
            facts(39900, 50000, true, Online),  // overpaid
            facts(0, 0, true, Online),          // free
            facts(0, 0, false, Mail),           // free
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
            (_, A::ApproveSecond) => Ok(S::Issuing),
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
            (_, A::Ship | A::ReadyForPickup) => unreachable!("only from 已发证"),
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
        // + 2 of 1 + 1 of 2 + 2 of 1 + 3 of 2 + 5 of 2 + 3 of 2 + 1 of 2.
        assert_eq!(
            allowed_triples,
            2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 6 + 10 + 6 + 2
        );
    }

    #[test]
    fn the_table_has_one_row_per_status_and_action() {
        for status in OrderStatus::ALL {
            for action in OrderAction::ALL {
                let rows = TRANSITIONS
                    .iter()
                    .filter(|r| r.action == action && r.from.contains(&status))
                    .count();
                assert!(rows <= 1, "{status} {action}: {rows} rows");
            }
        }
        for rule in TRANSITIONS {
            assert!(!rule.from.is_empty() && !rule.actors.is_empty(), "{rule:?}");
        }
        // Every action appears in the table.
        for action in OrderAction::ALL {
            assert!(TRANSITIONS.iter().any(|r| r.action == action), "{action}");
        }
    }

    #[test]
    fn terminal_statuses_have_no_way_out_and_every_other_status_has_one() {
        for status in OrderStatus::ALL {
            let has_way_out = TRANSITIONS.iter().any(|r| r.from.contains(&status));
            assert_eq!(has_way_out, !status.is_terminal(), "{status}");
        }
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
    fn the_payment_window_is_thirty_minutes() {
        let since: Timestamp = "2026-03-02T02:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(!payment_window_expired(
            since,
            at("2026-03-02T02:29:59.999Z")
        ));
        assert!(payment_window_expired(since, at("2026-03-02T02:30:00Z")));
        assert!(!payment_window_expired(since, at("2026-03-02T01:00:00Z")));
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
            available_actions(S::AwaitingInitialReview, OP, &f),
            vec![A::ApproveInitial, A::RejectInitial, A::Withdraw]
        );
        assert_eq!(
            available_actions(S::AwaitingInitialReview, ADMIN, &f),
            vec![A::Withdraw]
        );
        assert!(available_actions(S::AwaitingInitialReview, EMPLOYEE, &f).is_empty());
        assert!(available_actions(S::Completed, OP, &f).is_empty());
    }

    #[test]
    fn names_are_stable_and_round_trip() {
        let statuses: Vec<(&str, &str)> = OrderStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label_zh()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("draft", "草稿"),
                ("awaiting_initial_review", "待初审"),
                ("rejected", "审核未通过"),
                ("awaiting_payment", "待支付"),
                ("closed", "已关闭"),
                ("awaiting_second_review", "待复审"),
                ("issuing", "制证中"),
                ("issued", "已发证"),
                ("shipping", "配送中"),
                ("awaiting_pickup", "待领取"),
                ("completed", "已完成"),
                ("withdrawn", "已撤销"),
                ("refunding", "退款中"),
                ("refunded", "已退款"),
            ]
        );
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
            // serde uses the same names as the database.
            let json = serde_name(&status);
            assert_eq!(json, status.as_str());
        }
        let actions: Vec<&str> = OrderAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "submit",
                "approve_initial",
                "reject_initial",
                "edit_and_resubmit",
                "pay_confirmed",
                "close_unpaid",
                "skip_payment_free",
                "approve_second",
                "reject_second",
                "mark_issued",
                "ship",
                "ready_for_pickup",
                "confirm_receipt",
                "withdraw",
                "start_refund",
                "refund_completed",
            ]
        );
        for action in OrderAction::ALL {
            assert_eq!(action.as_str().parse::<OrderAction>(), Ok(action));
            assert_eq!(serde_name(&action), action.as_str());
            assert!(!action.label_zh().is_empty());
        }
        assert!("paid".parse::<OrderStatus>().is_err());
        assert!("pay".parse::<OrderAction>().is_err());
    }

    /// The serde name of a unit variant, without a JSON dependency: TOML serialises a bare
    /// value inside a table.
    fn serde_name<T: Serialize>(value: &T) -> String {
        #[derive(Serialize)]
        struct Wrap<'a, T> {
            v: &'a T,
        }
        let text = toml::to_string(&Wrap { v: value }).unwrap();
        text.trim()
            .strip_prefix("v = \"")
            .and_then(|s| s.strip_suffix('"'))
            .unwrap()
            .to_string()
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
            assert_eq!(current_step_working_days(status), days, "{status}");
        }
        for status in OrderStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert_eq!(current_step_working_days(status), None, "{status}");
        }
    }

    #[test]
    fn step_deadlines_use_the_calendar() {
        let calendar = WorkCalendar::china_builtin();
        let entered: DateTime = "2026-09-30T16:45:00".parse().unwrap();
        let review = current_step_deadline(&calendar, S::AwaitingInitialReview, entered).unwrap();
        assert_eq!(review.due.to_string(), "2026-10-08T23:59:59.999999999");
        let issuing = current_step_deadline(&calendar, S::Issuing, entered).unwrap();
        assert_eq!(issuing.due_date().to_string(), "2026-10-10");
        assert!(current_step_deadline(&calendar, S::Draft, entered).is_none());
    }

    #[test]
    fn order_numbers() {
        // 2024-08-08 16:47:26.282 in Beijing (guide 003 shows an order paid then).
        let paid: Timestamp = "2024-08-08T08:47:26.282Z".parse().unwrap();
        assert_eq!(order_number(paid, 7), "202408081647262820000000007");
        assert_eq!(order_number(paid, u32::MAX), "202408081647262824294967295");
        // Beijing's date, not UTC's: 2026-12-31T16:00Z is already 2027 in Beijing.
        let new_year: Timestamp = "2026-12-31T16:00:00Z".parse().unwrap();
        assert!(order_number(new_year, 0).starts_with("20270101000000000"));

        let times = [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.001Z",
            "2026-01-01T00:00:01Z",
            "2026-06-30T23:59:59.999Z",
            "2026-12-31T15:59:59.999Z",
            "2026-12-31T16:00:00Z",
            "2099-12-31T23:59:59.999Z",
        ];
        let randoms = [u32::MAX, 0, 12345, 999, 1, 4_000_000_000, 42];
        let numbers: Vec<String> = times
            .iter()
            .zip(randoms)
            .map(|(t, r)| order_number(t.parse().unwrap(), r))
            .collect();
        for n in &numbers {
            assert_eq!(n.len(), 27, "{n}");
            assert!(n.len() >= 19);
            assert!(n.bytes().all(|b| b.is_ascii_digit()), "{n}");
        }
        // Later times sort later, whatever the random part.
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        // Within one millisecond, the random part tells numbers apart.
        let t: Timestamp = times[0].parse().unwrap();
        assert_ne!(order_number(t, 1), order_number(t, 2));
        assert!(order_number(t, 1) < order_number(t, 2));
    }
}
