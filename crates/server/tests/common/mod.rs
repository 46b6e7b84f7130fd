//! The set-up every server test shares: a SQLite store with both CA hierarchies, and the
//! application on it.
#![allow(dead_code)]

pub mod held;

use axum::Router;
use certdesk_ca::{ensure_hierarchies, CertificateAuthority};
use certdesk_server::{router, AppState, ServerConfig};
use certdesk_store::testing::sqlite_store;
use certdesk_store::{BlobStore, Store};
use std::sync::Arc;

pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// The sandbox payment gateway's secret in tests.
pub const SANDBOX_SECRET: &[u8] = b"sandbox-test-secret";

pub struct TestServer {
    pub store: Store,
    pub ca: Arc<CertificateAuthority>,
    pub state: AppState,
    pub router: Router,
    /// The SQLite file lives as long as this.
    pub dir: tempfile::TempDir,
}

pub async fn test_server() -> TestServer {
    test_server_at(PUBLIC_URL).await
}

/// The set-up with the public URL the sandbox gateway sends its notifications to.
pub async fn test_server_at(public_url: &str) -> TestServer {
    test_server_notified_at(public_url, None).await
}

/// The set-up whose sandbox gateway notifies `notify_base` rather than the public URL.
pub async fn test_server_notified_at(public_url: &str, notify_base: Option<&str>) -> TestServer {
    let (store, dir) = sqlite_store().await;
    let passphrase = zeroize::Zeroizing::new("server-test-passphrase".to_string());
    ensure_hierarchies(&store, &passphrase, "certdesk test")
        .await
        .unwrap();
    let ca = Arc::new(
        CertificateAuthority::open(Arc::new(store.clone()), public_url, &passphrase)
            .await
            .unwrap()
            .with_key_management(certdesk_ca::KeyManagementKey::generate("kmk-test").unwrap()),
    );
    let config = ServerConfig::new(public_url.into(), 3600)
        .with_sandbox_payment_secret(SANDBOX_SECRET.to_vec());
    let config = match notify_base {
        Some(base) => config.with_sandbox_notify_base(base.to_string()),
        None => config,
    };
    let blobs = BlobStore::open(dir.path().join("blobs")).unwrap();
    let state = AppState::new(store.clone(), ca.clone(), config, blobs);
    TestServer {
        router: router(state.clone()),
        store,
        ca,
        state,
        dir,
    }
}

/// Gives an account an API token with this exact text (stored hashed, as the server does).
pub async fn give_api_token(store: &Store, account_id: i64, token: &str) {
    store
        .create_api_token(
            account_id,
            "test",
            &certdesk_server::auth::token_hash(token),
            0,
            i64::MAX,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
}

/// Sends one API request with a bearer token (and a JSON body, if any); answers the status and
/// the JSON body (`Null` when the body is not JSON).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            axum::body::Body::from(json.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// A staff account (operator, CA officer, system admin) and its API token.
pub async fn staff_token(
    store: &Store,
    username: &'static str,
    role: certdesk_domain::Role,
) -> String {
    let account = store
        .create_account(
            &certdesk_store::NewAccount {
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
    give_api_token(store, account.id, &token).await;
    token
}

/// A registered organisation and its admin's API token.
pub async fn organisation_with_admin(
    store: &Store,
    name: &str,
    credit_code: &str,
    username: &'static str,
) -> (i64, String) {
    let (org, admin) = store
        .register_organisation(
            name,
            credit_code,
            &certdesk_store::NewAccount {
                username,
                display_name: username,
                role: certdesk_domain::Role::OrgAdmin,
                org_id: None,
                password_hash: "x",
                created_at: 0,
            },
            "test",
        )
        .await
        .unwrap();
    let token = format!("cdk_{username}");
    give_api_token(store, admin.id, &token).await;
    (org.id, token)
}

/// An SM2 dual-certificate UKey product that costs money even for a first certificate
/// (the default one is 首张免费), so that the order goes through the cashier.
pub async fn paid_sm2_dual_product(server: &TestServer) -> i64 {
    use certdesk_domain::product::{KeyAlgorithm, Medium, ProductSpec};
    let provider = server.store.ca_providers().await.unwrap()[0].id;
    server
        .store
        .create_product(
            provider,
            &ProductSpec {
                name: "SM2 双证书 UKey（测试）".into(),
                medium: Medium::UKey,
                algorithm: KeyAlgorithm::Sm2,
                dual: true,
                min_years: 1,
                max_years: 3,
                price_per_year_fen: 39_900,
                sub_price_per_year_fen: 20_000,
                first_free: false,
                active: true,
            },
            0,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap()
        .id
}

/// Passes the legal representative's mobile check (法人手机号实名核验) of an order through the
/// sandbox: start, read the code from the sandbox outbox, type it.
pub async fn pass_identity_check(server: &TestServer, token: &str, order_no: &str) {
    pass_identity_check_told_by(server, token, token, order_no).await
}

/// [`pass_identity_check`] run by `token` (an operator's 代办) with the code read from the
/// sandbox outbox by `supplier`, whose phone it went to, and told to the operator.
pub async fn pass_identity_check_told_by(
    server: &TestServer,
    token: &str,
    supplier: &str,
    order_no: &str,
) {
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/orders/{order_no}/identity/mobile/start"),
        Some(token),
        Some(serde_json::json!({"name": "张三", "id_number": "11010519491231002X", "mobile": "13800138000"})),
    )
    .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{body}");
    let (status, outbox) = call(
        &server.router,
        "GET",
        &format!("/api/v1/orders/{order_no}/identity/sandbox"),
        Some(supplier),
        None,
    )
    .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{outbox}");
    let text = outbox["notices"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|n| n["kind"] == "sms")
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let code: String = text[text.find("验证码").unwrap() + "验证码".len()..]
        .chars()
        .take(6)
        .collect();
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/orders/{order_no}/identity/mobile/verify"),
        Some(token),
        Some(serde_json::json!({ "code": code })),
    )
    .await;
    assert_eq!(status, axum::http::StatusCode::OK, "{body}");
    assert_eq!(body["status"], "passed", "{body}");
}

/// Pays an order in full through the sandbox gateway's signed notification.
pub async fn pay(app: &Router, order_no: &str, amount_fen: i64) {
    gateway_says(
        app,
        order_no,
        &format!("txn-{order_no}"),
        amount_fen,
        "TRADE_SUCCESS",
    )
    .await
}

/// The sandbox gateway's notification that it paid back the payment [`pay`] made.
pub async fn refunded(app: &Router, order_no: &str, amount_fen: i64) {
    gateway_says(
        app,
        order_no,
        &format!("txn-{order_no}"),
        amount_fen,
        "REFUND_SUCCESS",
    )
    .await
}

async fn gateway_says(
    app: &Router,
    order_no: &str,
    gateway_txn: &str,
    amount_fen: i64,
    trade_status: &str,
) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use certdesk_server::payments::{sandbox_signature, SandboxNotification, SIGNATURE_HEADER};
    use tower::ServiceExt;
    let notification = SandboxNotification {
        gateway_txn: gateway_txn.to_string(),
        order_no: order_no.to_string(),
        amount_fen,
        trade_status: trade_status.into(),
        notified_at: 0,
    };
    let body = serde_json::to_vec(&notification).unwrap();
    let request = Request::post("/api/v1/payments/sandbox/notify")
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sandbox_signature(SANDBOX_SECRET, &body))
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// A small real PNG.
pub fn png(seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([seed, (x * 3 % 256) as u8, (y * 2 % 256) as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Uploads one document of an order as the raw request body.
pub async fn upload(
    app: &Router,
    token: &str,
    order_no: &str,
    kind: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = Request::post(format!(
        "/api/v1/applications/{order_no}/uploads/{kind}?file_name={file_name}"
    ))
    .header("authorization", format!("Bearer {token}"))
    .header("content-type", "application/octet-stream")
    .body(Body::from(bytes))
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}
