//! 解锁 through the API: ask for one of the organisation's keys, check the holder, submit, be
//! rejected and resubmit, be approved with a one-time 解锁授权码 bound to the key, and use it —
//! once, within 24 hours, on that key only, however many tries arrive at once.

mod common;

use axum::http::StatusCode;
use certdesk_domain::Role;
use certdesk_store::testing::put_held_certificate;
use common::{call, organisation_with_admin, pass_identity_check, staff_token, test_server};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const KEY: &str = "0a1b2c3d";
const OTHER_KEY: &str = "0a1b2c3e";

fn request(serial: &str) -> Value {
    // The holder pass_identity_check checks (the sandbox's 张三).
    json!({
        "key_serial": serial.to_uppercase(),
        "holder_name": "张三",
        "holder_id_number": "11010519491231002X",
        "holder_mobile": "13800138000",
        "reason": "PIN码输错次数过多被锁定"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unlock_code_opens_its_own_key_once_within_a_day() {
    let server = test_server().await;
    let clock = Arc::new(AtomicI64::new(1_900_000_000));
    let app = certdesk_server::router(server.state.clone().with_clock(clock.clone()));
    let store = &server.store;
    let (org_a, admin) =
        organisation_with_admin(store, "福州测试科技有限公司", "91350100M000100Y43", "boss").await;
    let (_, other_admin) =
        organisation_with_admin(store, "北京其他有限公司", "91110108MA01W4JK85", "other").await;
    let operator = staff_token(store, "operator", Role::PlatformOperator).await;
    let boss = store.account_by_username("boss").await.unwrap().unwrap();
    let expires = 1_900_000_000 + 300 * 86_400;
    put_held_certificate(store, org_a, boss.id, KEY, expires).await;
    put_held_certificate(store, org_a, boss.id, OTHER_KEY, expires).await;

    // Only the organisation's own keys, and a well-formed request.
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/unlocks",
        Some(&admin),
        Some(request("ffff")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "unknown_key");
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/unlocks",
        Some(&other_admin),
        Some(request(KEY)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another organisation's key: {body}"
    );
    let mut no_reason = request(KEY);
    no_reason["reason"] = json!("");
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/unlocks",
        Some(&admin),
        Some(no_reason),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/unlocks",
        Some(&operator),
        Some(request(KEY)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the organisation asks, not the operator"
    );

    let (status, draft) = call(
        &app,
        "POST",
        "/api/v1/unlocks",
        Some(&admin),
        Some(request(KEY)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["status"], "draft");
    assert_eq!(draft["order"]["kind"], "unlock");
    assert_eq!(draft["holder_id_number"], "110***********002X");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let submit = format!("/api/v1/unlocks/{order_no}/submit");
    // The holder's identity first.
    let (status, body) = call(&app, "POST", &submit, Some(&admin), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "identity_not_checked");
    let clocked = common::TestServer {
        router: app.clone(),
        store: server.store.clone(),
        ca: server.ca.clone(),
        state: server.state.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    pass_identity_check(&clocked, &admin, &order_no).await;
    let (status, body) = call(&app, "POST", &submit, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["status"], "awaiting_initial_review");

    // Rejected with a reason, resubmitted, approved: the code is the admin's to read.
    let review = format!("/api/v1/orders/{order_no}/review");
    let (status, body) = call(
        &app,
        "POST",
        &review,
        Some(&operator),
        Some(json!({"decision": "reject", "reason": "持锁人与单位不符"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&app, "POST", &submit, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        "POST",
        &review,
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = format!("/api/v1/unlocks/{order_no}");
    let (_, approved) = call(&app, "GET", &view, Some(&admin), None).await;
    assert_eq!(approved["order"]["status"], "completed", "{approved}");
    let code = approved["code"]
        .as_str()
        .expect("the admin reads the code")
        .to_string();
    assert_eq!(code.len(), 19, "{code}");
    // The admin is told in 消息.
    let (_, messages) = call(&app, "GET", "/api/v1/messages", Some(&admin), None).await;
    assert_eq!(messages[0]["title"], "解锁申请已通过", "{messages}");
    let (_, seen_by_operator) = call(&app, "GET", &view, Some(&operator), None).await;
    assert_eq!(
        seen_by_operator["code"],
        Value::Null,
        "the approving operator never reads it"
    );

    // Another key, another organisation, a wrong code: refused, and nothing used.
    let use_code = |serial: &str, code: &str| json!({"key_serial": serial, "code": code});
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/unlock-codes/use",
        Some(&admin),
        Some(use_code(OTHER_KEY, &code)),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("unlock_code_other_key")
        ),
        "{body}"
    );
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/unlock-codes/use",
        Some(&other_admin),
        Some(use_code(KEY, &code)),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("unlock_code_unknown")
        ),
        "{body}"
    );

    // Eight tries at once, typed in lower case without dashes: one unlocks.
    let typed = code.replace('-', "").to_lowercase();
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (app, admin, body) = (app.clone(), admin.clone(), use_code(KEY, &typed));
            tokio::spawn(async move {
                call(
                    &app,
                    "POST",
                    "/api/v1/unlock-codes/use",
                    Some(&admin),
                    Some(body),
                )
                .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in tries {
        answers.push(attempt.await.unwrap());
    }
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == StatusCode::OK).count(),
        1,
        "{answers:?}"
    );
    // The others are told the code is used — or, once refusals for the key pass five an hour
    // (a used code tried again counts like a wrong one), to wait.
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        let refusal = (*status, body["error"]["code"].clone());
        assert!(
            refusal == (StatusCode::CONFLICT, json!("unlock_code_used"))
                || refusal == (StatusCode::TOO_MANY_REQUESTS, json!("too_many_requests")),
            "{refusal:?}"
        );
    }
    let (_, used) = call(&app, "GET", &view, Some(&admin), None).await;
    assert_eq!(used["code"], Value::Null, "a used code is no longer shown");
    assert!(used["code_used_at"].is_string(), "{used}");

    // A second unlock, approved, and tried after 24 hours: expired.
    let (_, second) = call(
        &app,
        "POST",
        "/api/v1/unlocks",
        Some(&admin),
        Some(request(OTHER_KEY)),
    )
    .await;
    let second_no = second["order"]["order_no"].as_str().unwrap().to_string();
    pass_identity_check(&clocked, &admin, &second_no).await;
    call(
        &app,
        "POST",
        &format!("/api/v1/unlocks/{second_no}/submit"),
        Some(&admin),
        None,
    )
    .await;
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/orders/{second_no}/review"),
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, second) = call(
        &app,
        "GET",
        &format!("/api/v1/unlocks/{second_no}"),
        Some(&admin),
        None,
    )
    .await;
    let second_code = second["code"].as_str().unwrap().to_string();
    clock.fetch_add(24 * 3600, Ordering::SeqCst);
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/unlock-codes/use",
        Some(&admin),
        Some(use_code(OTHER_KEY, &second_code)),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("unlock_code_expired")),
        "{body}"
    );

    // Every use is on the audit chain.
    let used: Vec<_> = store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "unlock_code_used")
        .collect();
    assert_eq!(used.len(), 1);
}

#[tokio::test]
async fn an_unlock_may_be_withdrawn_before_its_approval_and_wrong_codes_are_limited() {
    let server = test_server().await;
    let store = &server.store;
    let app = &server.router;
    let (org_a, admin) =
        organisation_with_admin(store, "福州测试科技有限公司", "91350100M000100Y43", "boss").await;
    let boss = store.account_by_username("boss").await.unwrap().unwrap();
    put_held_certificate(store, org_a, boss.id, KEY, 4_000_000_000).await;
    let (_, draft) = call(
        app,
        "POST",
        "/api/v1/unlocks",
        Some(&admin),
        Some(request(KEY)),
    )
    .await;
    let order_no = draft["order"]["order_no"].as_str().unwrap();
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/orders/{order_no}/withdraw"),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, withdrawn) = call(
        app,
        "GET",
        &format!("/api/v1/unlocks/{order_no}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(withdrawn["order"]["status"], "withdrawn", "{withdrawn}");
    // Five wrong codes an hour per key; the sixth is told to wait.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, _) = call(
            app,
            "POST",
            "/api/v1/unlock-codes/use",
            Some(&admin),
            Some(json!({"key_serial": KEY, "code": "2222-3333-4444-5555"})),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [StatusCode::UNPROCESSABLE_ENTITY; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
}

/// The page a supplier uses: choose the key, check the holder by SMS (the sandbox's code shown
/// on the page), submit; once approved the code is on the page.
#[tokio::test]
async fn the_unlock_page_walks_a_supplier_from_request_to_code() {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let server = test_server().await;
    let store = &server.store;
    let (org_a, admin) =
        organisation_with_admin(store, "福州测试科技有限公司", "91350100M000100Y43", "boss").await;
    let operator = staff_token(store, "operator", Role::PlatformOperator).await;
    let boss = store.account_by_username("boss").await.unwrap().unwrap();
    put_held_certificate(store, org_a, boss.id, KEY, 4_000_000_000).await;
    let page = |method: &'static str, uri: String, form: Option<String>| {
        let router = server.router.clone();
        let admin = admin.clone();
        async move {
            let mut request = axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {admin}"));
            if form.is_some() {
                request = request.header("content-type", "application/x-www-form-urlencoded");
            }
            let response = router
                .oneshot(request.body(Body::from(form.unwrap_or_default())).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let text =
                String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
                    .into_owned();
            (status, text)
        }
    };
    let (status, text) = page("GET", "/ca/unlock".into(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("0A1B2C3D"), "the key is offered: {text}");
    let form = format!(
        "csrf=sent-by-the-browser&key_serial=0A1B2C3D&holder_name={}&holder_id_number=11010519491231002X&holder_mobile=13800138000&reason={}",
        "%E5%BC%A0%E4%B8%89",
        "PIN%E9%94%81%E5%AE%9A"
    );
    let (status, _) = page("POST", "/ca/unlock".into(), Some(form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let order_no = store
        .orders(&certdesk_store::OrderFilter {
            org_id: Some(org_a),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.kind == certdesk_domain::BusinessType::Unlock)
        .unwrap()
        .order_no;
    let identity = format!("/ca/unlock/{order_no}/identity");
    let (status, _) = page("POST", identity.clone(), Some("intent=start".into())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, text) = page("GET", "/ca/unlock".into(), None).await;
    let at = text.find("验证码").expect("the sandbox SMS is on the page") + "验证码".len();
    let code: String = text[at..]
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(6)
        .collect();
    let (status, _) = page("POST", identity, Some(format!("intent=verify&code={code}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = page(
        "POST",
        format!("/ca/unlock/{order_no}/submit"),
        Some(String::new()),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, text) = page("GET", "/ca/unlock".into(), None).await;
    assert!(text.contains("待初审"), "{text}");
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/orders/{order_no}/review"),
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, text) = page("GET", "/ca/unlock".into(), None).await;
    assert!(text.contains("data-testid=\"unlock-code\""), "{text}");
    // The reviewer's order page shows the key, the holder and the identity check.
    let (_, order_page) = {
        let request = axum::http::Request::get(format!("/orders/{order_no}"))
            .header("authorization", format!("Bearer {operator}"))
            .body(Body::empty())
            .unwrap();
        let response = server.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        (
            status,
            String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
                .into_owned(),
        )
    };
    assert!(
        order_page.contains("0A1B2C3D") && order_page.contains("持锁人身份核验"),
        "{order_page}"
    );
}

/// Ten wrong codes for one key at the same instant: five are told the code is wrong, the rest to
/// wait — the per-key limit holds when the tries arrive together.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_sent_at_once_are_limited_per_key() {
    let server = test_server().await;
    let (org_a, admin) = organisation_with_admin(
        &server.store,
        "福州测试科技有限公司",
        "91350100M000100Y43",
        "boss",
    )
    .await;
    let boss = server
        .store
        .account_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    put_held_certificate(&server.store, org_a, boss.id, KEY, 4_000_000_000).await;
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let (router, admin) = (server.router.clone(), admin.clone());
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    "/api/v1/unlock-codes/use",
                    Some(&admin),
                    Some(json!({"key_serial": KEY, "code": "2222-3333-4444-5555"})),
                )
                .await
                .0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tries {
        statuses.push(task.await.unwrap());
    }
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((wrong, limited), (5, 5), "{statuses:?}");
}
