//! The cashier (收银台), the sandbox gateway over real HTTP, withdrawal with refunds, and offline
//! bank transfers confirmed by an operator.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use certdesk_domain::Role;
use certdesk_server::payments::{sandbox_signature, SandboxNotification, SIGNATURE_HEADER};
use certdesk_store::{Account, NewAccount, NewOrder, Order, Store};
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// A port nothing listens on: the sandbox's own deliveries fail there, so a test decides alone
/// which notifications arrive.
const NOWHERE: &str = "http://127.0.0.1:9";

struct World {
    server: common::TestServer,
    admin: Account,
    admin_token: String,
    other_token: String,
    operator_token: String,
    officer_token: String,
}

async fn token_for(store: &Store, username: &str, role: Role, org_id: Option<i64>) -> String {
    let account = store
        .create_account(
            &NewAccount {
                username,
                display_name: username,
                role,
                org_id,
                password_hash: "x",
                created_at: 0,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let token = format!("cdk_{username}");
    common::give_api_token(store, account.id, &token).await;
    token
}

async fn world(public_url: &str) -> World {
    world_notified_at(public_url, None).await
}

async fn world_notified_at(public_url: &str, notify_base: Option<&str>) -> World {
    let server = common::test_server_notified_at(public_url, notify_base).await;
    let store = &server.store;
    let admin_of = |username| NewAccount {
        username,
        display_name: "张经理",
        role: Role::OrgAdmin,
        org_id: None,
        password_hash: "x",
        created_at: 0,
    };
    let (_, admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            "91350100M000100Y43",
            &admin_of("fz.admin"),
            "test",
        )
        .await
        .unwrap();
    let (_, other) = store
        .register_organisation("乙公司", "91110108MA01W4JK2X", &admin_of("b.admin"), "test")
        .await
        .unwrap();
    let admin_token = "cdk_fz_admin".to_string();
    common::give_api_token(store, admin.id, &admin_token).await;
    let other_token = "cdk_b_admin".to_string();
    common::give_api_token(store, other.id, &other_token).await;
    let operator_token = token_for(store, "operator", Role::PlatformOperator, None).await;
    let officer_token = token_for(store, "officer", Role::CaOfficer, None).await;
    World {
        server,
        admin,
        admin_token,
        other_token,
        operator_token,
        officer_token,
    }
}

async fn order(world: &World, order_no: &str, status: &str, amount_fen: i64) -> Order {
    world
        .server
        .store
        .create_order_in_status(
            status,
            &NewOrder {
                order_no,
                org_id: world.admin.org_id.unwrap(),
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen,
                created_by: world.admin.id,
                on_behalf: false,
                created_at: jiff::Timestamp::now().as_second(),
            },
        )
        .await
        .unwrap()
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn get(uri: &str, token: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn post_json(uri: &str, token: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// Waits until `check` holds, polling; fails after a generous minute.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting: {what}");
}

async fn status_of(store: &Store, order_no: &str) -> String {
    store
        .order_by_no(order_no)
        .await
        .unwrap()
        .unwrap()
        .status
        .to_string()
}

/// The href of the cashier's sandbox link.
fn sandbox_link(html: &str) -> &str {
    let end = html
        .find("\" target=\"_blank\" rel=\"noopener\" data-testid=\"sandbox-link\"")
        .unwrap_or_else(|| panic!("no sandbox link in {html}"));
    let start = html[..end].rfind('"').unwrap() + 1;
    &html[start..end]
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

#[tokio::test]
async fn the_cashier_shows_amount_order_payee_qr_and_closing_time_to_its_organisation_only() {
    let w = world(NOWHERE).await;
    let app = &w.server.router;
    let unpaid = order(&w, "20261123120000000000000001", "awaiting_payment", 39_900).await;

    let (status, html) = send(
        app,
        get("/orders/20261123120000000000000001/pay", &w.admin_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("收银台"));
    assert!(html.contains(">399.00</span> 元"), "amount in yuan");
    assert!(html.contains("20261123120000000000000001"));
    assert!(html.contains("certdesk CA证书服务平台"), "payee");
    assert!(html.contains("福州测试科技有限公司"), "payer");
    assert!(html.contains("<svg"), "the QR code, inline");
    assert!(html.contains("支付宝") && html.contains("微信支付") && html.contains("线下转账"));
    assert!(html.contains("请在 30 分钟内完成支付，超时订单将自动关闭"));
    let close_at = certdesk_ca::trust::format_time(unpaid.updated_at + 30 * 60);
    assert!(
        html.contains(&close_at),
        "closes at {close_at} (Beijing time)"
    );
    assert!(html.contains("沙箱：模拟手机扫码支付"));
    let link = sandbox_link(&html);
    assert!(
        link.starts_with("http://127.0.0.1:9/sandbox/pay/"),
        "{link}"
    );
    // A second look gets the same trade.
    let (_, again) = send(
        app,
        get("/orders/20261123120000000000000001/pay", &w.admin_token),
    )
    .await;
    assert!(again.contains(link));

    // Another organisation's admin: no such order. An operator may look.
    let (status, _) = send(
        app,
        get("/orders/20261123120000000000000001/pay", &w.other_token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        app,
        get("/orders/20261123120000000000000001/pay", &w.operator_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // An order not waiting for payment says why; a free one needs no cashier.
    order(
        &w,
        "20261123120000000000000002",
        "awaiting_initial_review",
        39_900,
    )
    .await;
    let (status, html) = send(
        app,
        get("/orders/20261123120000000000000002/pay", &w.admin_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("初审通过后才能支付") && !html.contains("<svg"),
        "{html}"
    );
    order(&w, "20261123120000000000000003", "awaiting_payment", 0).await;
    let (_, html) = send(
        app,
        get("/orders/20261123120000000000000003/pay", &w.admin_token),
    )
    .await;
    assert!(html.contains("免费订单无需支付") && !html.contains("<svg"));
}

/// Counts the notifications the server acknowledged with `success`.
async fn count_acks(
    counter: axum::extract::State<Arc<AtomicUsize>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let notify = request.uri().path() == "/api/v1/payments/sandbox/notify";
    let response = next.run(request).await;
    if notify && response.status() == StatusCode::OK {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_payment_over_http_pays_once_and_a_withdrawal_is_refunded_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // The public URL is https behind a proxy; the sandbox notifies the listening address.
    let public = "https://certdesk.example.cn";
    let w = world_notified_at(public, Some(&url)).await;
    let acks = Arc::new(AtomicUsize::new(0));
    let served = w
        .server
        .router
        .clone()
        .layer(axum::middleware::from_fn_with_state(
            acks.clone(),
            count_acks,
        ));
    let server = tokio::spawn(async move { axum::serve(listener, served).await });
    let app = &w.server.router;
    let store = &w.server.store;
    let no = "20261123130000000000000001";
    let paying = order(&w, no, "awaiting_payment", 39_900).await;

    let (_, cashier) = send(app, get(&format!("/orders/{no}/pay"), &w.admin_token)).await;
    let link = sandbox_link(&cashier);
    let path = link.strip_prefix(public).unwrap().to_string();

    // The phone: the payer page, then 确认支付 (a form without an account: pre-login CSRF).
    let response = app
        .clone()
        .oneshot(Request::get(&path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
        .into_owned();
    assert!(page.contains("399.00") && page.contains(no) && page.contains("确认支付"));
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let pay = |action: &str| {
        Request::post(&path)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}&action={action}")))
            .unwrap()
    };
    let (status, answer) = send(app, pay("pay")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("支付成功（沙箱）"), "{answer}");
    let (_, again) = send(app, pay("pay")).await;
    assert!(again.contains("该交易已处理"), "a double click pays once");

    // The gateway's notifications arrive over HTTP: three TRADE_SUCCESS and a late waiting one.
    eventually("four notifications acknowledged", || {
        let acks = acks.clone();
        async move { acks.load(Ordering::SeqCst) >= 4 }
    })
    .await;
    assert_eq!(status_of(store, no).await, "awaiting_second_review");
    let payments = store.payments_of_order(paying.id).await.unwrap();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(
        (payments[0].gateway.as_str(), payments[0].amount_fen),
        ("sandbox", 39_900)
    );
    let events = store.order_events(paying.id).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let (_, detail) = send(app, get(&format!("/api/v1/orders/{no}"), &w.admin_token)).await;
    assert_eq!(json(&detail)["order"]["status_label"], "待复审");

    // Withdrawal: 退款中, then the sandbox's signed REFUND_SUCCESS makes it 已退款.
    let (status, body) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/withdraw"),
            &w.admin_token,
            serde_json::json!({"reason": "项目取消"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["status"], "refunding");
    eventually("the refund completes", || async {
        status_of(store, no).await == "refunded"
    })
    .await;
    let refund = store.refund_of_order(paying.id).await.unwrap().unwrap();
    assert_eq!(
        (
            refund.status.as_str(),
            refund.gateway.as_str(),
            refund.amount_fen
        ),
        ("completed", "sandbox", 39_900)
    );
    let events = store.order_events(paying.id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.to_status.as_str())
            .collect::<Vec<_>>(),
        ["awaiting_second_review", "refunding", "refunded"]
    );
    assert!(events[1].note.contains("项目取消"));
    server.abort();
}

fn signed_notification(n: &SandboxNotification, secret: &[u8]) -> Request<Body> {
    let body = serde_json::to_vec(n).unwrap();
    Request::post("/api/v1/payments/sandbox/notify")
        .header(header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sandbox_signature(secret, &body))
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn forged_or_mismatched_refund_notifications_change_nothing() {
    let w = world(NOWHERE).await;
    let app = &w.server.router;
    let store = &w.server.store;
    let no = "20261123140000000000000001";
    let o = order(&w, no, "awaiting_payment", 39_900).await;
    let note = |status: &str, amount_fen: i64| SandboxNotification {
        gateway_txn: "SBX-1".into(),
        order_no: no.into(),
        amount_fen,
        trade_status: status.into(),
        notified_at: 1,
    };
    let (status, _) = send(
        app,
        signed_notification(&note("TRADE_SUCCESS", 39_900), common::SANDBOX_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/withdraw"),
            &w.admin_token,
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(store, no).await, "refunding");

    let (status, body) = send(
        app,
        signed_notification(&note("REFUND_SUCCESS", 39_900), b"not-the-secret"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(json(&body)["error"]["code"], "signature_invalid");
    let (status, body) = send(
        app,
        signed_notification(&note("REFUND_SUCCESS", 1), common::SANDBOX_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(status_of(store, no).await, "refunding");
    assert_eq!(
        store.refund_of_order(o.id).await.unwrap().unwrap().status,
        "requested"
    );
    // A sandbox refund is the gateway's to confirm, not an operator's.
    let (status, _) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/refund/confirm"),
            &w.operator_token,
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Asking the gateway again is the operators' and changes nothing by itself.
    let retry = format!("/api/v1/orders/{no}/refund/retry");
    let (status, _) = send(
        app,
        post_json(&retry, &w.admin_token, serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        app,
        post_json(&retry, &w.operator_token, serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(status_of(store, no).await, "refunding");

    for _ in 0..3 {
        let (status, _) = send(
            app,
            signed_notification(&note("REFUND_SUCCESS", 39_900), common::SANDBOX_SECRET),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(status_of(store, no).await, "refunded");
    assert_eq!(
        store.order_events(o.id).await.unwrap().len(),
        3,
        "paid, withdrawn, refunded: once each"
    );
}

#[tokio::test]
async fn withdrawal_follows_the_rules_and_stays_in_the_organisation() {
    let w = world(NOWHERE).await;
    let app = &w.server.router;
    let store = &w.server.store;
    order(
        &w,
        "20261123150000000000000001",
        "awaiting_initial_review",
        39_900,
    )
    .await;
    order(&w, "20261123150000000000000002", "issuing", 39_900).await;
    order(&w, "20261123150000000000000003", "awaiting_payment", 39_900).await;
    let withdraw = |no: &str, token: &str| {
        post_json(
            &format!("/api/v1/orders/{no}/withdraw"),
            token,
            serde_json::json!({}),
        )
    };

    let (status, _) = send(app, withdraw("20261123150000000000000001", &w.other_token)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another organisation's order"
    );
    let (status, _) = send(
        app,
        withdraw("20261123150000000000000001", &w.officer_token),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(app, withdraw("20261123150000000000000002", &w.admin_token)).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "not once the certificate is being made"
    );
    assert!(json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("制证中"));
    assert_eq!(
        status_of(store, "20261123150000000000000002").await,
        "issuing"
    );

    let (status, body) = send(app, withdraw("20261123150000000000000001", &w.admin_token)).await;
    assert_eq!(
        (status, json(&body)["status"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
    let (status, _) = send(app, withdraw("20261123150000000000000001", &w.admin_token)).await;
    assert_eq!(status, StatusCode::CONFLICT, "once");

    // An operator on the supplier's behalf (代办), recorded as such; by the page form.
    let form = Request::post("/orders/20261123150000000000000003/withdraw")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", w.operator_token),
        )
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("reason=%E7%94%B5%E8%AF%9D%E7%94%B3%E8%AF%B7"))
        .unwrap();
    let response = app.clone().oneshot(form).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/orders/20261123150000000000000003"
    );
    let o = store
        .order_by_no("20261123150000000000000003")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        o.status,
        "withdrawn".parse::<certdesk_domain::OrderStatus>().unwrap()
    );
    let events = store.order_events(o.id).await.unwrap();
    assert_eq!(events[0].note, "操作员代办撤销：电话申请");
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn upload(no: &str, token: &str, file_name: &str, bytes: Vec<u8>) -> Request<Body> {
    Request::post(format!(
        "/api/v1/orders/{no}/offline-transfer?file_name={file_name}"
    ))
    .header(header::AUTHORIZATION, format!("Bearer {token}"))
    .header(header::CONTENT_TYPE, "application/octet-stream")
    .body(Body::from(bytes))
    .unwrap()
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        files_under(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn an_offline_transfer_needs_a_real_receipt_and_an_operator_pays_it_once() {
    let w = world(NOWHERE).await;
    let app = &w.server.router;
    let store = &w.server.store;
    let blobs = w.server.state.blobs.root().to_path_buf();
    let no = "20261123160000000000000001";
    let o = order(&w, no, "awaiting_payment", 39_900).await;

    // An executable named receipt.jpg: refused, nothing stored.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.resize(4096, 0);
    let (status, body) = send(app, upload(no, &w.admin_token, "receipt.jpg", exe)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(json(&body)["error"]["code"], "upload_not_an_image");
    assert!(json(&body)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("receipt.jpg"));
    assert!(store
        .offline_transfers_of_order(o.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(files_under(&blobs), 0);

    let (status, body) = send(
        app,
        upload(no, &w.admin_token, "huge.png", vec![0u8; 7 * 1024 * 1024]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(&body)["error"]["code"], "upload_too_large");
    assert_eq!(files_under(&blobs), 0);

    // Paying is the organisation admin's: an operator may not upload, another organisation sees nothing.
    let (status, _) = send(app, upload(no, &w.operator_token, "r.png", png(200, 120))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(app, upload(no, &w.other_token, "r.png", png(200, 120))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = send(app, upload(no, &w.admin_token, "回单.png", png(200, 120))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let transfer_id = json(&body)["id"].as_i64().unwrap();
    assert_eq!(json(&body)["status"], "pending");
    assert_eq!(files_under(&blobs), 1);
    let (status, _) = send(app, upload(no, &w.admin_token, "again.png", png(201, 120))).await;
    assert_eq!(status, StatusCode::CONFLICT, "one receipt waits at a time");
    // Waiting for the operator keeps the order from closing.
    let later = jiff::Timestamp::now().as_second() + 3600;
    assert_eq!(
        certdesk_server::payments::close_unpaid_orders(&w.server.state, later)
            .await
            .unwrap(),
        0
    );

    // The operator's list and decision.
    let (status, list) = send(app, get("/api/v1/transfers", &w.operator_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&list)[0]["order_no"], no);
    let (status, page) = send(app, get("/admin/transfers", &w.operator_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(no) && page.contains("确认到账"));
    let (status, _) = send(
        app,
        get(
            &format!("/admin/transfers/{transfer_id}/receipt"),
            &w.operator_token,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let decide = |decision: &str, reason: &str| {
        post_json(
            &format!("/api/v1/transfers/{transfer_id}/decision"),
            &w.operator_token,
            serde_json::json!({"decision": decision, "reason": reason}),
        )
    };
    let (status, _) = send(app, decide("reject", "")).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs its reason"
    );
    let (status, body) = send(app, decide("confirm", "")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = send(app, decide("confirm", "")).await;
    assert_eq!(status, StatusCode::CONFLICT, "once");
    let (status, _) = send(app, decide("reject", "未到账")).await;
    assert_eq!(status, StatusCode::CONFLICT);

    assert_eq!(status_of(store, no).await, "awaiting_second_review");
    let payments = store.payments_of_order(o.id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(
        (
            payments[0].gateway.as_str(),
            payments[0].gateway_txn.as_str()
        ),
        ("offline", format!("offline-{transfer_id}").as_str())
    );

    // Withdrawn after an offline payment: the operator pays it back and confirms.
    let (status, _) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/withdraw"),
            &w.admin_token,
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(store, no).await, "refunding");
    let (status, body) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/refund/confirm"),
            &w.operator_token,
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(store, no).await, "refunded");
    let (status, _) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/refund/confirm"),
            &w.operator_token,
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_paid_order_rejected_at_second_review_is_refunded_by_the_system() {
    let w = world(NOWHERE).await;
    let app = &w.server.router;
    let store = &w.server.store;
    let no = "20261123170000000000000001";
    let o = order(&w, no, "awaiting_payment", 39_900).await;
    let paid = SandboxNotification {
        gateway_txn: "SBX-7".into(),
        order_no: no.into(),
        amount_fen: 39_900,
        trade_status: "TRADE_SUCCESS".into(),
        notified_at: 1,
    };
    let (status, _) = send(app, signed_notification(&paid, common::SANDBOX_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(
        app,
        post_json(
            &format!("/api/v1/orders/{no}/review"),
            &w.officer_token,
            serde_json::json!({"decision": "reject", "reason": "授权书未盖章"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["status"], "refunding");
    assert_eq!(status_of(store, no).await, "refunding");
    let refund = store.refund_of_order(o.id).await.unwrap().unwrap();
    assert_eq!(
        (
            refund.gateway.as_str(),
            refund.gateway_txn.as_str(),
            refund.status.as_str()
        ),
        ("sandbox", "SBX-7", "requested")
    );
    let events = store.order_events(o.id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.to_status.as_str())
            .collect::<Vec<_>>(),
        ["awaiting_second_review", "rejected", "refunding"]
    );
}

#[tokio::test]
async fn the_sandbox_retries_a_notification_until_the_server_says_success() {
    // A stand-in merchant server that fails twice, then acknowledges.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let tries = Arc::new(AtomicUsize::new(0));
    let seen = tries.clone();
    let merchant = axum::Router::new().route(
        "/api/v1/payments/sandbox/notify",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let signature = headers[SIGNATURE_HEADER].to_str().unwrap().to_string();
                    assert_eq!(signature, sandbox_signature(common::SANDBOX_SECRET, &body));
                    if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                        (StatusCode::INTERNAL_SERVER_ERROR, "busy")
                    } else {
                        (StatusCode::OK, "success")
                    }
                }
            },
        ),
    );
    let server = tokio::spawn(async move { axum::serve(listener, merchant).await });
    let (store, _dir) = certdesk_store::testing::sqlite_store().await;
    let sandbox =
        certdesk_server::payments::SandboxGateway::new(store, common::SANDBOX_SECRET, &url);
    let notification = SandboxNotification {
        gateway_txn: "SBX-R".into(),
        order_no: "1".into(),
        amount_fen: 100,
        trade_status: "TRADE_SUCCESS".into(),
        notified_at: 1,
    };
    assert!(sandbox.deliver(&notification).await);
    assert_eq!(
        tries.load(Ordering::SeqCst),
        3,
        "two refusals, then acknowledged"
    );
    server.abort();
}

/// Without the sandboxes nothing is simulated (issue 11): the cashier offers offline transfer
/// only and says so, the sandbox gateway's routes do not exist, identity checks say no provider
/// is configured, and pages carry no 演示环境 ribbon (which the demo's pages do).
#[tokio::test]
async fn without_sandboxes_the_cashier_offers_offline_transfer_only_and_nothing_is_simulated() {
    let w = world(NOWHERE).await;
    order(&w, "20261123120000000000000009", "awaiting_payment", 39_900).await;
    let (_, demo_page) = send(
        &w.server.router,
        get("/orders/20261123120000000000000009/pay", &w.admin_token),
    )
    .await;
    assert!(demo_page.contains("演示环境"), "the demo says so");

    let config =
        certdesk_server::ServerConfig::new(NOWHERE.into(), 3600).with_sandboxes(false, false);
    let blobs = certdesk_store::BlobStore::open(w.server.dir.path().join("real-blobs")).unwrap();
    let state =
        certdesk_server::AppState::new(w.server.store.clone(), w.server.ca.clone(), config, blobs);
    let app = certdesk_server::router(state);
    let (status, html) = send(
        &app,
        get("/orders/20261123120000000000000009/pay", &w.admin_token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("本平台暂未接入在线支付"), "{html}");
    assert!(
        !html.contains("<svg") && !html.contains("沙箱"),
        "no QR code, no sandbox"
    );
    assert!(html.contains("上传付款凭证"), "offline transfer is offered");
    assert!(!html.contains("演示环境"));

    let (status, _) = send(
        &app,
        Request::post("/api/v1/payments/sandbox/notify")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no sandbox notify route");
    let (status, _) = send(
        &app,
        Request::get("/sandbox/pay/anything")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let draft = order(&w, "20261123120000000000000010", "draft", 39_900).await;
    let (status, body) = send(
        &app,
        post_json(
            &format!("/api/v1/orders/{}/identity/mobile/start", draft.order_no),
            &w.admin_token,
            serde_json::json!({"name": "张三", "id_number": "11010519491231002X", "mobile": "13800138000"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        json(&body)["error"]["code"],
        "identity_provider_not_configured"
    );
    let (status, _) = send(
        &app,
        get(
            &format!("/api/v1/orders/{}/identity/sandbox", draft.order_no),
            &w.admin_token,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no sandbox outbox");
}
