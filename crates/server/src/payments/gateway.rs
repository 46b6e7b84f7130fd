//! The payment gateway interface, and the built-in **sandbox gateway** behind it.
//!
//! A gateway makes a trade for an order (the URL its QR code encodes), takes refunds, and
//! tells the server what happened by signed asynchronous notifications, which the server
//! verifies with [`PaymentGateway::parse_notification`] and applies exactly once
//! (`payments::apply_notification`). `AppState::gateway` holds the one in use; a real Alipay or
//! WeChat Pay adapter implements the same trait and gets its own notification route.
//!
//! The sandbox gateway is a stand-in for demos and tests, and behaves as real gateways do
//! where it matters: its payer page (`/sandbox/pay/{token}`, what a phone shows after scanning)
//! confirms the payment, and the gateway then delivers, **over real HTTP** to
//! `{public_url}/api/v1/payments/sandbox/notify`, `TRADE_SUCCESS` three times and a late,
//! out-of-order `WAIT_BUYER_PAY`, each signed with HMAC-SHA256 and retried with backoff until
//! the server answers `success` (at most [`DELIVERY_ATTEMPTS`] tries, then it gives up and logs
//! it). A refund is confirmed the same way with `REFUND_SUCCESS`. It speaks plain `http://`
//! only; `certdesk serve` points it at its own listening address
//! (`ServerConfig::sandbox_notify_base`), so an https public URL behind a proxy works too.

use crate::payments::{sandbox_signature, SandboxNotification, SANDBOX_GATEWAY, SIGNATURE_HEADER};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use certdesk_store::{NewSandboxTrade, Order, SandboxTrade, Store, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a gateway call answers, boxed so that the trait can be held as `dyn PaymentGateway`.
pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("支付网关暂时不可用：{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A trade the payer can pay: the gateway's number and the URL its QR code encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub trade_no: String,
    pub pay_url: String,
}

/// A refund to make of a payment the gateway took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order_no: String,
    /// The payment's transaction number at the gateway.
    pub gateway_txn: String,
    pub amount_fen: i64,
}

/// What a verified notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// The payer paid (`TRADE_SUCCESS`).
    Paid,
    /// Anything that changes nothing here: waiting, closed, unknown statuses.
    Informational,
    /// The refund of the payment was made (`REFUND_SUCCESS`).
    Refunded,
}

/// A notification whose signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayNotification {
    pub order_no: String,
    pub gateway_txn: String,
    pub amount_fen: i64,
    pub kind: NotificationKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("支付通知签名无效")]
    BadSignature,
    #[error("支付通知格式错误：{0}")]
    Malformed(String),
}

/// A payment gateway: Alipay, WeChat Pay, or the built-in sandbox.
pub trait PaymentGateway: Send + Sync + 'static {
    /// The name kept with its payments and refunds (`payments.gateway`).
    fn name(&self) -> &'static str;
    /// The trade for an order that waits for payment: made once, the same one afterwards.
    fn create_trade<'a>(&'a self, order: &'a Order, now: i64) -> GatewayFuture<'a, Trade>;
    /// Asks the gateway to pay the money back; it confirms later by notification.
    fn request_refund<'a>(&'a self, refund: RefundRequest) -> GatewayFuture<'a, ()>;
    /// Checks a notification's signature over the exact body bytes and reads it.
    fn parse_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<GatewayNotification, NotificationError>;
}

/// How many times the sandbox tries to deliver one notification before it gives up.
pub const DELIVERY_ATTEMPTS: u32 = 6;
/// The wait before the second try; it doubles after each failure (real gateways wait minutes
/// to hours; the sandbox keeps demos quick).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times the sandbox repeats `TRADE_SUCCESS`, as real gateways do.
const SUCCESS_REPEATS: usize = 3;

/// The built-in sandbox gateway. Cheap to clone.
#[derive(Clone)]
pub struct SandboxGateway {
    store: Store,
    secret: Arc<[u8]>,
    public_url: Arc<str>,
    notify_base: Arc<str>,
}

impl SandboxGateway {
    /// A sandbox that signs with `secret`, whose payer pages are under `public_url` and which
    /// notifies the server there too (see [`SandboxGateway::notifying`]).
    pub fn new(store: Store, secret: &[u8], public_url: &str) -> Self {
        let public_url: Arc<str> = Arc::from(public_url.trim_end_matches('/'));
        SandboxGateway {
            store,
            secret: Arc::from(secret),
            notify_base: public_url.clone(),
            public_url,
        }
    }

    /// The sandbox as the server's configuration sets it up.
    pub fn from_config(store: Store, config: &crate::ServerConfig) -> Self {
        let sandbox =
            SandboxGateway::new(store, &config.sandbox_payment_secret, &config.public_url);
        match &config.sandbox_notify_base {
            Some(base) => sandbox.notifying(base),
            None => sandbox,
        }
    }

    /// Sends notifications to the server at `base` (e.g. its listening address, when the public
    /// URL is https behind a proxy) instead of the public URL.
    pub fn notifying(mut self, base: &str) -> Self {
        self.notify_base = Arc::from(base.trim_end_matches('/'));
        self
    }

    /// The payer page of a trade (what the QR code encodes).
    pub fn pay_url(&self, token: &str) -> String {
        format!("{}/sandbox/pay/{token}", self.public_url)
    }

    fn notify_url(&self) -> String {
        format!("{}/api/v1/payments/sandbox/notify", self.notify_base)
    }

    /// Starts delivering the notifications of a paid trade and returns at once: the server
    /// learns of the payment asynchronously, as from a real gateway.
    pub fn notify_paid(&self, trade: &SandboxTrade, order_no: &str, now: i64) {
        let notification = |trade_status: &str, notified_at: i64| SandboxNotification {
            gateway_txn: trade.trade_no.clone(),
            order_no: order_no.to_string(),
            amount_fen: trade.amount_fen,
            trade_status: trade_status.to_string(),
            notified_at,
        };
        let success = notification("TRADE_SUCCESS", now);
        // Sent last, but stamped with the trade's start: a stale "waiting" arriving late.
        let waiting = notification("WAIT_BUYER_PAY", trade.created_at);
        let sandbox = self.clone();
        tokio::spawn(async move {
            sandbox.deliver(&success).await;
            let mut later = Vec::new();
            for _ in 1..SUCCESS_REPEATS {
                let (sandbox, success) = (sandbox.clone(), success.clone());
                later.push(tokio::spawn(async move { sandbox.deliver(&success).await }));
            }
            let (late, waiting) = (sandbox.clone(), waiting);
            later.push(tokio::spawn(async move { late.deliver(&waiting).await }));
            for task in later {
                let _ = task.await;
            }
        });
    }

    /// Delivers one notification until the server acknowledges it or the tries run out;
    /// answers whether it was acknowledged.
    pub async fn deliver(&self, notification: &SandboxNotification) -> bool {
        let body = match serde_json::to_vec(notification) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(error = %err, "sandbox notification could not be encoded");
                return false;
            }
        };
        let signature = sandbox_signature(&self.secret, &body);
        let url = self.notify_url();
        let mut delay = FIRST_RETRY_DELAY;
        for attempt in 1..=DELIVERY_ATTEMPTS {
            match tokio::time::timeout(DELIVERY_TIMEOUT, post(&url, &body, &signature)).await {
                Ok(Ok(true)) => {
                    tracing::debug!(order = %notification.order_no, status = %notification.trade_status, attempt, "sandbox notification acknowledged");
                    return true;
                }
                Ok(Ok(false)) => {
                    tracing::info!(order = %notification.order_no, attempt, "sandbox notification not acknowledged")
                }
                Ok(Err(err)) => {
                    tracing::info!(order = %notification.order_no, attempt, error = %err, "sandbox notification not delivered")
                }
                Err(_) => {
                    tracing::info!(order = %notification.order_no, attempt, "sandbox notification timed out")
                }
            }
            if attempt < DELIVERY_ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        tracing::warn!(order = %notification.order_no, status = %notification.trade_status, url = %url, "sandbox gateway gave up delivering a notification");
        false
    }
}

/// One POST of a signed notification; `Ok(true)` when the server answered `success`.
async fn post(url: &str, body: &[u8], signature: &str) -> Result<bool, String> {
    let answer = crate::web::http_client::exchange(
        Method::POST,
        url,
        &[
            (header::CONTENT_TYPE, "application/json"),
            (HeaderName::from_static(SIGNATURE_HEADER), signature),
        ],
        body.to_vec(),
        4096,
    )
    .await?;
    Ok(answer.status == StatusCode::OK && answer.body.trim_ascii() == b"success")
}

/// Reads and checks a sandbox notification (shared by the trait and the notify route).
pub(crate) fn parse_sandbox_notification(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<GatewayNotification, NotificationError> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !crate::payments::signature_is_valid(secret, body, signature) {
        return Err(NotificationError::BadSignature);
    }
    let n: SandboxNotification =
        serde_json::from_slice(body).map_err(|e| NotificationError::Malformed(e.to_string()))?;
    let kind = match n.trade_status.as_str() {
        "TRADE_SUCCESS" => NotificationKind::Paid,
        "REFUND_SUCCESS" => NotificationKind::Refunded,
        _ => NotificationKind::Informational,
    };
    Ok(GatewayNotification {
        order_no: n.order_no,
        gateway_txn: n.gateway_txn,
        amount_fen: n.amount_fen,
        kind,
    })
}

impl PaymentGateway for SandboxGateway {
    fn name(&self) -> &'static str {
        SANDBOX_GATEWAY
    }

    fn create_trade<'a>(&'a self, order: &'a Order, now: i64) -> GatewayFuture<'a, Trade> {
        Box::pin(async move {
            let token = crate::web::auth::random_token();
            // Alipay-like: date, then digits; unique because the token behind it is random.
            let trade_no = format!("SBX{}{}", order.order_no, &token[..12]);
            let trade = self
                .store
                .sandbox_trade_for_order(&NewSandboxTrade {
                    order_id: order.id,
                    token: &token,
                    trade_no: &trade_no,
                    amount_fen: order.amount_fen,
                    created_at: now,
                })
                .await?;
            Ok(Trade {
                pay_url: self.pay_url(&trade.token),
                trade_no: trade.trade_no,
            })
        })
    }

    fn request_refund<'a>(&'a self, refund: RefundRequest) -> GatewayFuture<'a, ()> {
        Box::pin(async move {
            // The sandbox pays back at once and says so asynchronously, like a real gateway.
            let notification = SandboxNotification {
                gateway_txn: refund.gateway_txn,
                order_no: refund.order_no,
                amount_fen: refund.amount_fen,
                trade_status: "REFUND_SUCCESS".into(),
                notified_at: jiff::Timestamp::now().as_second(),
            };
            let sandbox = self.clone();
            tokio::spawn(async move { sandbox.deliver(&notification).await });
            Ok(())
        })
    }

    fn parse_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<GatewayNotification, NotificationError> {
        parse_sandbox_notification(&self.secret, headers, body)
    }
}
