//! The vocabulary of orders (业务单, DOMAIN.md "Order statuses", "Payments"): statuses,
//! actions, who acts, how a certificate is delivered, the facts the rules read, the payment
//! window and order numbers. The flows themselves are tables in [`crate::workflow`], one per
//! business type.

use crate::account::Role;
use crate::limits::LimitError;
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

    /// The statuses whose application the supplier may still edit: a draft, and one sent back.
    pub const EDITABLE: [OrderStatus; 2] = [OrderStatus::Draft, OrderStatus::Rejected];

    pub fn is_editable(self) -> bool {
        OrderStatus::EDITABLE.contains(&self)
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
    /// An operator ends an order the CA can no longer issue (无法制证退款).
    RefundUnissuable,
    /// 吊销 of a lost or compromised key, without waiting for review.
    RevokeAtOnce,
}

impl OrderAction {
    pub const ALL: [OrderAction; 18] = [
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
        OrderAction::RefundUnissuable,
        OrderAction::RevokeAtOnce,
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
            OrderAction::RefundUnissuable => "refund_unissuable",
            OrderAction::RevokeAtOnce => "revoke_at_once",
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
            OrderAction::RefundUnissuable => "无法制证退款",
            OrderAction::RevokeAtOnce => "立即吊销（密钥泄露）",
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
    /// Why the CA would refuse the order's certificate now, for an order waiting for or in
    /// issuance (待复审, 制证中); `None` when nothing stands in the way (or it was not asked).
    pub cannot_issue: Option<LimitError>,
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
                "refund_unissuable",
                "revoke_at_once",
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

/// Separation of duties: the operator who made an order on a supplier's behalf (代办) does not
/// review it; another operator does. Answers whether `reviewer` would review their own order.
pub fn reviews_own_order(on_behalf: bool, created_by: i64, reviewer: i64) -> bool {
    on_behalf && created_by == reviewer
}

#[cfg(test)]
mod separation_of_duties {
    use super::reviews_own_order;

    #[test]
    fn an_operator_does_not_review_a_proxy_order_they_made() {
        assert!(reviews_own_order(true, 7, 7));
        assert!(!reviews_own_order(true, 7, 8));
        // A supplier's own order was made by the supplier: any operator reviews it.
        assert!(!reviews_own_order(false, 7, 7));
    }
}
