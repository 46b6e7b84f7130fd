//! What payments can fail with.

use crate::pipeline::StepError;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::Refusal;
use certdesk_domain::upload::UploadRefusal;
use certdesk_domain::OrderStatus;
use certdesk_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// A gateway notification whose signature does not verify.
    #[error("{0}")]
    SignatureInvalid(String),
    #[error("{0}")]
    InvalidNotification(String),
    /// A notification or transfer names an order there is none of.
    #[error("请求的业务单不存在")]
    OrderNotFound,
    #[error("付款凭证不存在")]
    TransferNotFound,
    /// A refund notification for an order with no refund asked.
    #[error("该订单没有退款申请")]
    RefundNotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("支付金额与订单金额不一致，已记录待人工核对")]
    AmountMismatch,
    #[error("退款通知与退款申请不一致，已记录待人工核对")]
    RefundMismatch,
    #[error("该订单没有待处理的退款")]
    NoRefund,
    #[error("该退款由支付网关原路退回，网关确认后自动完成，无需人工确认")]
    RefundByGateway,
    #[error("该退款已确认完成")]
    RefundDone,
    #[error("该款项不经当前支付网关退回，请人工退款后确认退款完成")]
    RefundByHand,
    /// The payment gateway could not be reached or refused the request.
    #[error("{0}")]
    GatewayUnavailable(String),
    #[error("订单当前为“{}”状态，无需付款", .0.label_zh())]
    NotAwaitingPayment(OrderStatus),
    #[error("免费订单无需支付")]
    OrderIsFree,
    #[error("该订单已提交付款凭证，正在等待平台确认，请勿重复提交")]
    TransferPending,
    #[error("付款凭证文件超过 5 MB 的上限，请压缩后重新上传")]
    UploadTooLarge,
    #[error(transparent)]
    UploadRefused(#[from] UploadRefusal),
    #[error("该付款凭证已处理，请刷新后查看")]
    TransferDecided,
    #[error("驳回时请填写原因，付款单位将看到这一原因")]
    ReasonRequired,
    #[error("该订单已通过其他方式付款，请驳回此凭证并将转账款项退回")]
    AlreadyPaid,
    #[error("处理结论应为 confirm（确认到账）或 reject（驳回）")]
    InvalidDecision,
    #[error("操作应为 pay（确认支付）或 cancel（取消）")]
    InvalidPayerAction,
    #[error("表单内容无法识别，请刷新页面后重试")]
    InvalidForm,
    /// A sandbox trade, or its order, that is not there.
    #[error("支付交易不存在")]
    TradeNotFound,
    #[error("付款凭证文件不存在")]
    ReceiptNotFound,
    /// Records that do not fit, or a step applied the wrong way: ours.
    #[error("{0}")]
    Inconsistent(String),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FeatureError for PaymentError {
    fn failure(&self) -> Failure {
        use PaymentError::*;
        match self {
            SignatureInvalid(_) | InvalidNotification(_) | InvalidPayerAction | InvalidForm => {
                Failure::Malformed
            }
            TradeNotFound | ReceiptNotFound => Failure::NotFound,
            OrderNotFound | TransferNotFound | RefundNotFound => Failure::NotFound,
            Refused(refusal) => refusal.failure(),
            AmountMismatch | RefundMismatch | UploadRefused(_) | ReasonRequired
            | InvalidDecision => Failure::Invalid,
            NoRefund
            | RefundByGateway
            | RefundDone
            | RefundByHand
            | NotAwaitingPayment(_)
            | OrderIsFree
            | TransferPending
            | TransferDecided
            | AlreadyPaid => Failure::Conflict,
            GatewayUnavailable(_) => Failure::Unavailable,
            UploadTooLarge => Failure::TooLarge,
            Inconsistent(_) => Failure::Internal,
            Step(err) => err.failure(),
            Store(err) => err.failure(),
        }
    }

    fn code(&self) -> &'static str {
        use PaymentError::*;
        match self {
            SignatureInvalid(_) => "signature_invalid",
            InvalidNotification(_) => "invalid_notification",
            OrderNotFound | TransferNotFound | RefundNotFound => "not_found",
            Refused(refusal) => refusal.code(),
            AmountMismatch => "amount_mismatch",
            RefundMismatch => "refund_mismatch",
            NoRefund => "no_refund",
            RefundByGateway => "refund_by_gateway",
            RefundDone => "refund_done",
            RefundByHand => "refund_by_hand",
            GatewayUnavailable(_) => "gateway_unavailable",
            NotAwaitingPayment(_) => "not_awaiting_payment",
            OrderIsFree => "order_is_free",
            TransferPending => "transfer_pending",
            UploadTooLarge => "upload_too_large",
            UploadRefused(refusal) => refusal.code(),
            TransferDecided => "transfer_decided",
            ReasonRequired => "reason_required",
            AlreadyPaid => "already_paid",
            InvalidDecision => "invalid_decision",
            InvalidPayerAction => "invalid_action",
            InvalidForm => "invalid_form",
            TradeNotFound | ReceiptNotFound => "not_found",
            Inconsistent(_) => "internal_error",
            Step(err) => err.code(),
            Store(err) => err.code(),
        }
    }
}
