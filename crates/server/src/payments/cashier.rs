//! The payment pages: the cashier (收银台) of an order, the withdrawal form, the sandbox
//! gateway's payer page (what a phone shows after scanning the QR code), and the operators'
//! list of bank-transfer receipts to confirm.

use super::PaymentError;
use crate::payments::TransferView;
use crate::pipeline::OrderView;
use crate::web::auth::{self, CurrentUser};
use crate::web::authz::{relation_to, require};
use crate::web::extract::Form;
use crate::web::extract::Path;
use crate::web::pages::PageFailure;
use crate::web::pages::{render, Chrome, PageUser};
use crate::web::routes::Registry;
use crate::{AppState, Payee};
use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use certdesk_domain::product::yuan;
use certdesk_domain::{Action, OrderStatus, Relation, PAYMENT_WINDOW};
use certdesk_store::Order;
use serde::Deserialize;

/// The cashier's routes; the sandbox gateway's payer page only when it is in use.
pub(crate) fn register(registry: Registry, sandbox: bool) -> Registry {
    let registry = if sandbox {
        registry
            .get(
                "/sandbox/pay/{token}",
                Action::UseSandboxGateway,
                sandbox_pay_page,
            )
            .post(
                "/sandbox/pay/{token}",
                Action::UseSandboxGateway,
                sandbox_pay_submit,
            )
    } else {
        registry
    };
    registry
        .get("/orders/{order_no}/pay", Action::ViewCashier, cashier_page)
        .post(
            "/orders/{order_no}/withdraw",
            Action::WithdrawOrder,
            withdraw_form,
        )
        .get(
            "/admin/transfers",
            Action::ConfirmOfflinePayment,
            transfers_page,
        )
        .get(
            "/admin/transfers/{transfer_id}/receipt",
            Action::ConfirmOfflinePayment,
            receipt_image,
        )
        .post(
            "/admin/transfers/{transfer_id}/decision",
            Action::ConfirmOfflinePayment,
            transfer_decision_form,
        )
}

/// An error on a page: the message, with a way back.
#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    chrome: Chrome,
    title: &'static str,
    message: String,
    back: String,
}

fn notice(user: &CurrentUser, err: impl Into<PageFailure>, back: String) -> Response {
    let failure: PageFailure = err.into();
    if !failure.belongs_on_the_page() {
        return failure.into_page();
    }
    let status = failure.failure.status();
    render(
        &NoticePage {
            chrome: Chrome::new(user, "orders"),
            title: "无法完成操作",
            message: failure.message,
            back,
        },
        status,
    )
}

/// The QR code of `text` as inline SVG.
fn qr_svg(text: &str) -> Result<String, PaymentError> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| PaymentError::Inconsistent(format!("a QR code of the pay URL: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // Inline in HTML: without the XML declaration.
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_string(),
        None => svg,
    })
}

/// Why an order in `status` cannot be paid now, in words for the supplier.
fn why_not_payable(status: OrderStatus, free: bool) -> Option<&'static str> {
    use OrderStatus::*;
    match status {
        AwaitingPayment if free => Some("免费订单无需支付。"),
        AwaitingPayment => None,
        Draft => Some("订单尚未提交，提交并通过初审后才能支付。"),
        AwaitingInitialReview => Some("订单正在等待平台初审，初审通过后才能支付。"),
        Rejected => Some("订单审核未通过，请按驳回原因修改后重新提交。"),
        Closed => Some("订单已超时关闭（超过 30 分钟未支付），请重新申领。"),
        AwaitingSecondReview | Issuing | Issued | Shipping | AwaitingPickup | Completed => {
            Some("订单已支付（或为免费订单），无需再次支付。")
        }
        Withdrawn => Some("订单已撤销，无需支付。"),
        Refunding => Some("订单已撤销，已付款项正在原路退回（3–15 个工作日）。"),
        Refunded => Some("订单已撤销，款项已退回。"),
    }
}

#[derive(Template)]
#[template(path = "cashier.html")]
struct CashierPage {
    chrome: Chrome,
    order: OrderView,
    /// 付款单位: the order's organisation.
    payer: String,
    payee: Payee,
    why_not: Option<&'static str>,
    /// An online gateway is configured (its QR code); otherwise offline transfer only.
    online: bool,
    qr_svg: String,
    pay_url: String,
    /// When the order closes, Beijing time.
    close_at: String,
    remaining_seconds: i64,
    /// The organisation admin pays; an operator only looks.
    can_pay: bool,
    can_withdraw: bool,
    transfers: Vec<TransferView>,
    transfer_pending: bool,
}

/// 收银台: amount, order, payee, the QR code of the gateway's trade, offline transfer, and the
/// 30-minute countdown. Another organisation's order does not exist (404).
async fn cashier_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
) -> Result<Response, PageFailure> {
    let order = crate::pipeline::order_for(&state, &user, &order_no, Action::ViewCashier).await?;
    let status = order.status;
    let why_not = why_not_payable(status, order.amount_fen == 0);
    let online = state.gateway.as_ref().filter(|_| why_not.is_none());
    let (qr_svg, pay_url) = if let Some(gateway) = online {
        let trade = gateway
            .create_trade(&order, state.now())
            .await
            .map_err(|err| {
                tracing::error!(order = %order.order_no, error = %err, "no trade from the payment gateway");
                PaymentError::GatewayUnavailable(err.to_string())
            })?;
        (qr_svg(&trade.pay_url)?, trade.pay_url)
    } else {
        (String::new(), String::new())
    };
    let closes = order.updated_at + PAYMENT_WINDOW.as_secs();
    let transfers: Vec<TransferView> = state
        .store
        .offline_transfers_of_order(order.id)
        .await?
        .iter()
        .map(TransferView::from)
        .collect();
    let payer = state
        .store
        .organisation_by_id(order.org_id)
        .await?
        .map(|org| org.name)
        .unwrap_or_default();
    let may = |action| certdesk_domain::permissions::reach(user.role(), action).is_some();
    Ok(render(
        &CashierPage {
            chrome: Chrome::new(&user, "orders"),
            order: OrderView::from(&order),
            payer,
            payee: state.config.payee.clone(),
            why_not,
            online: state.gateway.is_some(),
            qr_svg,
            pay_url,
            close_at: crate::format_beijing(closes),
            remaining_seconds: (closes - state.now()).max(0),
            can_pay: may(Action::PayOrder),
            can_withdraw: crate::payments::can_withdraw(&state, &user, &order).await?,
            transfer_pending: transfers.iter().any(|t| t.status == "pending"),
            transfers,
        },
        StatusCode::OK,
    ))
}

#[derive(Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    reason: String,
}

/// The withdrawal form (撤销) of the order pages (`reason` optional): withdraws, then back to
/// the order page. The body is read only once the order is known to be the user's to see, so
/// another organisation's order answers 404 whatever was sent.
async fn withdraw_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(order_no): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageFailure> {
    let order = crate::pipeline::order_for(&state, &user, &order_no, Action::WithdrawOrder).await?;
    let form: WithdrawForm =
        serde_urlencoded::from_bytes(&body).map_err(|_| PaymentError::InvalidForm)?;
    let back = format!("/orders/{}", order.order_no);
    match crate::payments::withdraw_order(&state, &user, &order, &form.reason).await {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        Err(err) => Ok(notice(&user, err, back)),
    }
}

// --- the sandbox gateway's payer page -----------------------------------------------------------

#[derive(Template)]
#[template(path = "sandbox_pay.html")]
struct SandboxPayPage {
    csrf: String,
    token: String,
    payee: String,
    order_no: String,
    amount: String,
    /// waiting, paid or cancelled.
    status: String,
    message: Option<&'static str>,
}

async fn sandbox_trade_and_order(
    state: &AppState,
    token: &str,
) -> Result<(certdesk_store::SandboxTrade, Order), PaymentError> {
    let trade = state
        .store
        .sandbox_trade_by_token(token)
        .await?
        .ok_or(PaymentError::TradeNotFound)?;
    let order = state
        .store
        .order_by_id(trade.order_id)
        .await?
        .ok_or(PaymentError::TradeNotFound)?;
    Ok((trade, order))
}

fn sandbox_page(
    state: &AppState,
    user: Option<&crate::web::auth::CurrentUser>,
    trade: &certdesk_store::SandboxTrade,
    order: &Order,
    message: Option<&'static str>,
) -> Response {
    // A phone has no account: its form carries the pre-login CSRF token. Opened in a browser
    // that is signed in (a demo on one computer), the session's token is the one checked.
    if let Some(user) = user.filter(|u| !u.csrf_token().is_empty()) {
        return render(
            &SandboxPayPage {
                csrf: user.csrf_token().to_string(),
                token: trade.token.clone(),
                payee: state.config.payee.name.clone(),
                order_no: order.order_no.clone(),
                amount: yuan(trade.amount_fen),
                status: trade.status.clone(),
                message,
            },
            StatusCode::OK,
        );
    }
    let csrf = auth::random_token();
    let mut response = render(
        &SandboxPayPage {
            csrf: csrf.clone(),
            token: trade.token.clone(),
            payee: state.config.payee.name.clone(),
            order_no: order.order_no.clone(),
            amount: yuan(trade.amount_fen),
            status: trade.status.clone(),
            message,
        },
        StatusCode::OK,
    );
    response
        .headers_mut()
        .append(SET_COOKIE, auth::prelogin_csrf_cookie(state, &csrf));
    response
}

/// What the phone shows after scanning the cashier's QR code (sandbox only).
async fn sandbox_pay_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    user: Option<crate::web::auth::CurrentUser>,
) -> Result<Response, PageFailure> {
    let (trade, order) = sandbox_trade_and_order(&state, &token).await?;
    Ok(sandbox_page(&state, user.as_ref(), &trade, &order, None))
}

#[derive(Deserialize)]
struct SandboxPayForm {
    /// `pay` (确认支付) or `cancel` (取消).
    action: String,
}

/// 确认支付 marks the trade paid and starts the gateway's signed notifications to the server
/// (asynchronously, repeated, one late and out of order); 取消 leaves the trade open.
async fn sandbox_pay_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    user: Option<crate::web::auth::CurrentUser>,
    Form(form): Form<SandboxPayForm>,
) -> Result<Response, PageFailure> {
    let (trade, order) = sandbox_trade_and_order(&state, &token).await?;
    let now = state.now();
    let message = match form.action.as_str() {
        "pay" => {
            if state
                .store
                .settle_sandbox_trade(trade.id, "waiting", "paid", now)
                .await?
            {
                let sandbox = crate::payments::gateway::SandboxGateway::from_config(
                    state.store.clone(),
                    &state.config,
                );
                sandbox.notify_paid(&trade, &order.order_no, now);
                tracing::info!(order = %order.order_no, "sandbox trade paid");
                "支付成功（沙箱）。支付结果将通知商户，请返回电脑上的收银台页面。"
            } else {
                "该交易已处理，无需重复操作。"
            }
        }
        // As on a phone: closing the payment leaves the trade open until the order closes.
        "cancel" => "已取消支付。30 分钟内仍可在收银台重新扫码支付。",
        _ => return Err(PaymentError::InvalidPayerAction.into()),
    };
    let (trade, order) = sandbox_trade_and_order(&state, &token).await?;
    Ok(sandbox_page(
        &state,
        user.as_ref(),
        &trade,
        &order,
        Some(message),
    ))
}

// --- operators: bank-transfer receipts ------------------------------------------------------------

#[derive(Template)]
#[template(path = "transfers.html")]
struct TransfersPage {
    chrome: Chrome,
    /// Each receipt with its paying organisation (付款单位).
    transfers: Vec<(TransferView, String)>,
}

/// 线下转账确认: the receipts waiting for an operator, oldest first.
async fn transfers_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
) -> Result<Response, PageFailure> {
    require(&user, Action::ConfirmOfflinePayment, Relation::Platform)?;
    let transfers = state.store.offline_transfers("pending", 200).await?;
    let names = state
        .store
        .organisation_names(transfers.iter().map(|t| t.org_id))
        .await?;
    let rows = transfers
        .iter()
        .map(|t| {
            let org_name = names.get(&t.org_id).cloned().unwrap_or_default();
            (TransferView::from(t), org_name)
        })
        .collect();
    Ok(render(
        &TransfersPage {
            chrome: Chrome::new(&user, "transfers"),
            transfers: rows,
        },
        StatusCode::OK,
    ))
}

/// The receipt image, for the operator who checks it.
async fn receipt_image(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(transfer_id): Path<i64>,
) -> Result<Response, PageFailure> {
    let transfer = state
        .store
        .offline_transfer(transfer_id)
        .await?
        .ok_or(PaymentError::TransferNotFound)?;
    require(
        &user,
        Action::ConfirmOfflinePayment,
        relation_to(&user, None, Some(transfer.org_id)),
    )?;
    crate::web::upload::stored_image(&state, &transfer.receipt_blob)
        .await?
        .ok_or(PaymentError::ReceiptNotFound.into())
}

#[derive(Deserialize)]
struct DecisionForm {
    decision: String,
    #[serde(default)]
    reason: String,
}

async fn transfer_decision_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(transfer_id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let back = "/admin/transfers".to_string();
    let confirm = form.decision == "confirm";
    match crate::payments::decide_transfer(&state, &user, transfer_id, confirm, &form.reason).await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(err) => notice(&user, err, back),
    }
}
