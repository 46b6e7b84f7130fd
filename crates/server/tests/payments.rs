//! Payment notifications: applied exactly once however often and in whatever order they
//! arrive; forged ones change nothing.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use certdesk_domain::Role;
use certdesk_server::payments::{sandbox_signature, SandboxNotification, SIGNATURE_HEADER};
use certdesk_server::AppState;
use certdesk_store::{NewAccount, NewOrder};
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::SANDBOX_SECRET as SECRET;

struct Fixture {
    store: certdesk_store::Store,
    state: AppState,
    app: axum::Router,
    org: certdesk_store::Organisation,
    admin: certdesk_store::Account,
    _dir: tempfile::TempDir,
}

/// A server with a CA, a known sandbox secret, and one registered organisation with its admin.
async fn fixture() -> Fixture {
    let common::TestServer {
        store,
        state,
        router: app,
        dir,
        ..
    } = common::test_server().await;
    let (org, admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            "91350100M000100Y43",
            &NewAccount {
                username: "fz.admin",
                display_name: "张经理",
                role: Role::OrgAdmin,
                org_id: None,
                password_hash: "x",
                created_at: 0,
            },
            "test",
        )
        .await
        .unwrap();
    Fixture {
        store,
        state,
        app,
        org,
        admin,
        _dir: dir,
    }
}

/// A new order of 399.00 waiting for payment, numbered by `sequence`: its number and row.
async fn awaiting_payment(
    store: &certdesk_store::Store,
    org: &certdesk_store::Organisation,
    admin: &certdesk_store::Account,
    sequence: u32,
) -> (String, certdesk_store::Order) {
    let order_no = certdesk_domain::order_number(jiff::Timestamp::now(), sequence);
    let order = store
        .create_order_in_status(
            "awaiting_payment",
            &NewOrder {
                order_no: &order_no,
                org_id: org.id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 39_900,
                created_by: admin.id,
                on_behalf: false,
                created_at: 0,
            },
        )
        .await
        .unwrap();
    (order_no, order)
}

fn signed(notification: &SandboxNotification, secret: &[u8]) -> Request<Body> {
    let body = serde_json::to_vec(notification).unwrap();
    Request::post("/api/v1/payments/sandbox/notify")
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sandbox_signature(secret, &body))
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_payment_is_applied_once_and_forgeries_change_nothing() {
    let Fixture {
        store,
        app,
        org,
        admin,
        _dir,
        ..
    } = fixture().await;
    let (order_no, order) = awaiting_payment(&store, &org, &admin, 42).await;

    let notification = |status: &str, at: i64| SandboxNotification {
        gateway_txn: "2026112322001400000000001".into(),
        order_no: order_no.clone(),
        amount_fen: 39_900,
        trade_status: status.into(),
        notified_at: at,
    };
    // 20 notifications at once: the gateway's repeats of "success", and late "waiting" ones
    // that arrive after it, shuffled.
    let mut batch: Vec<SandboxNotification> = (0..20)
        .map(|i| {
            if i % 4 == 0 {
                notification("WAIT_BUYER_PAY", 100 - i)
            } else {
                notification("TRADE_SUCCESS", 200 + i)
            }
        })
        .collect();
    batch.reverse();
    batch.swap(3, 17);
    batch.swap(8, 11);
    let tasks: Vec<_> = batch
        .into_iter()
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move { app.oneshot(signed(&n, SECRET)).await.unwrap() })
        })
        .collect();
    for task in tasks {
        let response = task.await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, &b"success"[..]),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    let payments = store.payments_of_order(order.id).await.unwrap();
    assert_eq!(payments.len(), 1, "the money is recorded once");
    assert_eq!(payments[0].amount_fen, 39_900);
    let paid = store.order_by_no(&order_no).await.unwrap().unwrap();
    assert_eq!(
        paid.status,
        "awaiting_second_review"
            .parse::<certdesk_domain::OrderStatus>()
            .unwrap(),
        "paid once, and a late 'waiting' does not undo it"
    );
    let events = store.order_events(order.id).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].action.as_str(), events[0].from_status.as_str()),
        ("pay_confirmed", "awaiting_payment")
    );

    // A forged notification (wrong key) for another order changes nothing.
    let (other_no, other) = awaiting_payment(&store, &org, &admin, 43).await;
    let forged = SandboxNotification {
        order_no: other_no.clone(),
        gateway_txn: "forged-1".into(),
        ..notification("TRADE_SUCCESS", 1)
    };
    let response = app
        .clone()
        .oneshot(signed(&forged, b"not-the-secret"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "signature_invalid");
    // Tampering with a signed body breaks its signature too.
    let mut tampered = signed(
        &SandboxNotification {
            order_no: other_no.clone(),
            gateway_txn: "t-1".into(),
            amount_fen: 1,
            ..notification("TRADE_SUCCESS", 1)
        },
        SECRET,
    );
    let signature = tampered.headers()[SIGNATURE_HEADER].clone();
    let good_body = serde_json::to_vec(&SandboxNotification {
        order_no: other_no.clone(),
        gateway_txn: "t-1".into(),
        ..notification("TRADE_SUCCESS", 1)
    })
    .unwrap();
    *tampered.body_mut() = Body::from(good_body);
    tampered.headers_mut().insert(SIGNATURE_HEADER, signature);
    assert_eq!(
        app.clone().oneshot(tampered).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // A correctly signed notification with the wrong amount is refused for a person to check.
    let short = SandboxNotification {
        order_no: other_no.clone(),
        gateway_txn: "short-1".into(),
        amount_fen: 100,
        ..notification("TRADE_SUCCESS", 1)
    };
    assert_eq!(
        app.clone()
            .oneshot(signed(&short, SECRET))
            .await
            .unwrap()
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(store.payments_of_order(other.id).await.unwrap().is_empty());
    assert_eq!(
        store.order_by_no(&other_no).await.unwrap().unwrap().status,
        "awaiting_payment"
            .parse::<certdesk_domain::OrderStatus>()
            .unwrap()
    );
}

/// An order paid twice (say the QR code after a confirmed bank transfer): the second money is
/// kept apart, paid back through its gateway, and the order stays paid once.
#[tokio::test]
async fn money_paid_twice_is_paid_back_and_the_order_stays_paid_once() {
    let Fixture {
        store,
        app,
        org,
        admin,
        _dir,
        ..
    } = fixture().await;
    let (order_no, order) = awaiting_payment(&store, &org, &admin, 44).await;
    let note = |txn: &str, status: &str| SandboxNotification {
        gateway_txn: txn.into(),
        order_no: order_no.clone(),
        amount_fen: 39_900,
        trade_status: status.into(),
        notified_at: 1,
    };
    let send = |n: SandboxNotification| {
        let app = app.clone();
        async move {
            let response = app.oneshot(signed(&n, SECRET)).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let success = (StatusCode::OK, "success".to_string());
    assert_eq!(send(note("first", "TRADE_SUCCESS")).await, success);
    // The second payment, and the gateway's repeat of it.
    assert_eq!(send(note("second", "TRADE_SUCCESS")).await, success);
    assert_eq!(send(note("second", "TRADE_SUCCESS")).await, success);

    let payments = store.payments_of_order(order.id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].gateway_txn, "first");
    let duplicates = store.duplicate_payments_of_order(order.id).await.unwrap();
    assert_eq!(duplicates.len(), 1, "kept once: {duplicates:?}");
    assert_eq!(
        (duplicates[0].gateway_txn.as_str(), duplicates[0].amount_fen),
        ("second", 39_900)
    );
    assert!(
        duplicates[0].refund_requested_at.is_some(),
        "asked of the gateway"
    );
    assert_eq!(duplicates[0].refunded_at, None);
    let paid = store.order_by_no(&order_no).await.unwrap().unwrap();
    assert_eq!(
        paid.status,
        "awaiting_second_review"
            .parse::<certdesk_domain::OrderStatus>()
            .unwrap()
    );

    // The gateway pays it back (and says so twice): recorded once; the order is untouched.
    assert_eq!(send(note("second", "REFUND_SUCCESS")).await, success);
    assert_eq!(send(note("second", "REFUND_SUCCESS")).await, success);
    let duplicates = store.duplicate_payments_of_order(order.id).await.unwrap();
    assert!(duplicates[0].refunded_at.is_some());
    assert_eq!(
        store.order_by_no(&order_no).await.unwrap().unwrap().status,
        "awaiting_second_review"
            .parse::<certdesk_domain::OrderStatus>()
            .unwrap()
    );
    let audited: Vec<String> = store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "duplicate_payment")
        .map(|e| e.detail)
        .collect();
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited[0].ends_with("将原路退回") && audited[1].ends_with("退款已到账"));
}

#[tokio::test]
async fn unpaid_orders_close_after_thirty_minutes_and_late_money_is_kept_for_refund() {
    let Fixture {
        store,
        state,
        app,
        org,
        admin,
        _dir,
    } = fixture().await;
    let now = jiff::Timestamp::now().as_second();
    let order = |no: &'static str, waiting_since: i64| NewOrder {
        order_no: no,
        org_id: org.id,
        kind: certdesk_domain::BusinessType::NewCertificate,
        amount_fen: 39_900,
        created_by: admin.id,
        on_behalf: false,
        created_at: waiting_since,
    };
    let stale = store
        .create_order_in_status(
            "awaiting_payment",
            &order("20261123100000000001", now - 31 * 60),
        )
        .await
        .unwrap();
    store
        .create_order_in_status(
            "awaiting_payment",
            &order("20261123100000000002", now - 29 * 60),
        )
        .await
        .unwrap();
    // The stale order took a voucher when its price was fixed.
    store
        .create_voucher(
            &certdesk_store::NewVoucher {
                code: "CLOSE-BACK",
                amount_fen: 5_000,
                valid_until: now + 86_400,
                org_id: Some(org.id),
                created_at: now,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .redeem_voucher("CLOSE-BACK", org.id, stale.id, now)
            .await
            .unwrap(),
        certdesk_store::Redemption::Redeemed(_)
    ));

    assert_eq!(
        certdesk_server::payments::close_unpaid_orders(&state, now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .order_by_no("20261123100000000001")
            .await
            .unwrap()
            .unwrap()
            .status,
        "closed".parse::<certdesk_domain::OrderStatus>().unwrap()
    );
    assert_eq!(
        store
            .order_by_no("20261123100000000002")
            .await
            .unwrap()
            .unwrap()
            .status,
        "awaiting_payment"
            .parse::<certdesk_domain::OrderStatus>()
            .unwrap()
    );
    assert_eq!(
        certdesk_server::payments::close_unpaid_orders(&state, now)
            .await
            .unwrap(),
        0,
        "closing twice closes nothing"
    );
    let voucher = store.voucher_by_code("CLOSE-BACK").await.unwrap().unwrap();
    assert_eq!(
        voucher.redeemed_order_id, None,
        "the closed order's voucher can be used again"
    );

    // The money for the closed order still arrives: it is recorded and refunded (已关闭 → 退款中).
    let late = SandboxNotification {
        gateway_txn: "late-1".into(),
        order_no: "20261123100000000001".into(),
        amount_fen: 39_900,
        trade_status: "TRADE_SUCCESS".into(),
        notified_at: now,
    };
    assert_eq!(
        app.oneshot(signed(&late, SECRET)).await.unwrap().status(),
        StatusCode::OK
    );
    let closed = store
        .order_by_no("20261123100000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        closed.status,
        "refunding".parse::<certdesk_domain::OrderStatus>().unwrap()
    );
    assert_eq!(store.payments_of_order(closed.id).await.unwrap().len(), 1);
    let refund = store.refund_of_order(closed.id).await.unwrap().unwrap();
    assert_eq!(
        (
            refund.gateway.as_str(),
            refund.gateway_txn.as_str(),
            refund.amount_fen
        ),
        ("sandbox", "late-1", 39_900)
    );
}

#[tokio::test]
async fn the_order_list_and_detail_show_the_timeline_and_the_step_deadline() {
    let Fixture {
        store,
        app,
        org,
        admin,
        _dir,
        ..
    } = fixture().await;
    let token = "cdk_orders_test";
    common::give_api_token(&store, admin.id, token).await;
    // Submitted 2026-09-30 17:00 Beijing time: after the 16:40 cut-off, before 国庆节 (Oct 1–7),
    // so the one working day of the initial review is Thursday Oct 8.
    let submitted = jiff::civil::date(2026, 9, 30)
        .at(17, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .unwrap()
        .timestamp()
        .as_second();
    store
        .create_order_in_status(
            "awaiting_initial_review",
            &NewOrder {
                order_no: "20260930170000000001",
                org_id: org.id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 39_900,
                created_by: admin.id,
                on_behalf: true,
                created_at: submitted,
            },
        )
        .await
        .unwrap();

    let get = |uri: &str| {
        Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let response = app
        .clone()
        .oneshot(get("/api/v1/orders?status=awaiting_initial_review"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let list: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["status_label"], "待初审");
    assert_eq!(list[0]["kind_label"], "新办");
    assert_eq!(list[0]["amount"], "399.00");
    assert_eq!(list[0]["made_by"], "操作员代办");
    let none: serde_json::Value = serde_json::from_slice(
        &app.clone()
            .oneshot(get("/api/v1/orders?status=completed"))
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);

    let response = app
        .clone()
        .oneshot(get("/api/v1/orders/20260930170000000001"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let detail: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(detail["current_step"]["working_days"], 1);
    assert_eq!(detail["current_step"]["due"], "2026-10-08 23:59");
    assert_eq!(
        detail["current_step"]["overdue"], true,
        "it is long past now"
    );
    let missing = app
        .oneshot(get("/api/v1/orders/99999999999999999999"))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

async fn staff_token(store: &certdesk_store::Store, username: &'static str, role: Role) -> String {
    let account = store
        .create_account(
            &NewAccount {
                username,
                display_name: username,
                role,
                org_id: None,
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

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn operators_review_first_ca_officers_second_and_rejections_carry_their_reason() {
    let Fixture {
        store,
        app,
        org,
        admin,
        _dir,
        ..
    } = fixture().await;
    let operator = staff_token(&store, "operator", Role::PlatformOperator).await;
    let officer = staff_token(&store, "officer", Role::CaOfficer).await;
    let now = jiff::Timestamp::now().as_second();
    for (no, amount, at) in [
        ("20261123000000000011", 39_900, now - 100),
        ("20261123000000000012", 39_900, now - 50),
        ("20261123000000000013", 0, now),
    ] {
        store
            .create_order_in_status(
                "awaiting_initial_review",
                &NewOrder {
                    order_no: no,
                    org_id: org.id,
                    kind: certdesk_domain::BusinessType::NewCertificate,
                    amount_fen: amount,
                    created_by: admin.id,
                    on_behalf: false,
                    created_at: at,
                },
            )
            .await
            .unwrap();
    }
    let (status, queue) = call(&app, "GET", "/api/v1/reviews/initial", &operator, None).await;
    assert_eq!(status, StatusCode::OK);
    let numbers: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["order"]["order_no"].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            "20261123000000000011",
            "20261123000000000012",
            "20261123000000000013"
        ],
        "oldest first"
    );
    assert!(queue[0]["due"].is_string());

    // Rejection needs a reason; the reason is in the order's timeline.
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000011/review",
        &operator,
        Some(serde_json::json!({"decision": "reject"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason_required"))
    );
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000011/review",
        &operator,
        Some(serde_json::json!({"decision": "reject", "reason": "营业执照副本不清晰，请重新上传"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "{body}"
    );
    let order = store
        .order_by_no("20261123000000000011")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.order_events(order.id).await.unwrap()[0].note,
        "营业执照副本不清晰，请重新上传"
    );

    // A CA officer cannot do the initial review; the operator approves; a free order skips the cashier.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000012/review",
        &officer,
        Some(serde_json::json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, body) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000012/review",
        &operator,
        Some(serde_json::json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(body["status"], "awaiting_payment");
    let (_, body) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000013/review",
        &operator,
        Some(serde_json::json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(
        body["status"], "awaiting_second_review",
        "free orders skip payment"
    );
    // Reviewing again what has moved on is refused and changes nothing.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000012/review",
        &operator,
        Some(serde_json::json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (_, queue) = call(&app, "GET", "/api/v1/reviews/second", &officer, None).await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000013/review",
        &operator,
        Some(serde_json::json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the second review is the CA officer's"
    );
    let (_, body) = call(
        &app,
        "POST",
        "/api/v1/orders/20261123000000000013/review",
        &officer,
        Some(serde_json::json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(body["status"], "issuing");
}

#[tokio::test]
async fn money_that_lands_on_a_withdrawn_order_is_refunded() {
    let Fixture {
        store,
        app,
        org,
        admin,
        _dir,
        ..
    } = fixture().await;
    let now = jiff::Timestamp::now().as_second();
    let order = store
        .create_order_in_status(
            "withdrawn",
            &NewOrder {
                order_no: "20261123100000000077",
                org_id: org.id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 39_900,
                created_by: admin.id,
                on_behalf: false,
                created_at: now,
            },
        )
        .await
        .unwrap();
    // The supplier paid on the phone while it withdrew on the computer.
    let late = SandboxNotification {
        gateway_txn: "late-withdrawn-1".into(),
        order_no: "20261123100000000077".into(),
        amount_fen: 39_900,
        trade_status: "TRADE_SUCCESS".into(),
        notified_at: now,
    };
    for _ in 0..3 {
        assert_eq!(
            app.clone()
                .oneshot(signed(&late, SECRET))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let withdrawn = store
        .order_by_no("20261123100000000077")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        withdrawn.status,
        "refunding".parse::<certdesk_domain::OrderStatus>().unwrap()
    );
    assert_eq!(store.payments_of_order(order.id).await.unwrap().len(), 1);
    let refund = store.refund_of_order(order.id).await.unwrap().unwrap();
    assert_eq!(refund.amount_fen, 39_900);
}
