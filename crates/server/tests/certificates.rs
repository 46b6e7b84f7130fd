//! Certificate login, binding through the API, CA mutual recognition, and password throttling.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::Engine;
use certdesk_ca::{CertificateAuthority, IssueRequest};
use certdesk_domain::Role;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{make_csr, Algorithm, LeafProfile, Signer, SoftwareKey};
use certdesk_store::{NewAccount, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::str::FromStr;
use std::sync::Arc;
use tower::ServiceExt;

const CREDIT_CODE: &str = "91350100M000100Y43";
const PASSWORD: &str = "org-admin-pass-1";

struct App {
    router: Router,
    store: Store,
    ca: Arc<CertificateAuthority>,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let server = common::test_server().await;
    App {
        router: server.router,
        store: server.store,
        ca: server.ca,
        _dir: server.dir,
    }
}

async fn call(
    app: &App,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let (status, body, _) = call_as_browser(app, method, uri, auth, None, body).await;
    (status, body)
}

/// [`call`] with the browser's cookie (`name=value`), if any; answers the cookie the reply sets.
async fn call_as_browser(
    app: &App,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = auth {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let response = app
        .router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        set_cookie,
    )
}

/// Registers the organisation and answers an API token of its admin.
async fn organisation_admin(app: &App) -> String {
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/organisations",
        None,
        json!({
            "organisation_name": "福州测试科技有限公司", "credit_code": CREDIT_CODE,
            "admin_username": "fz.admin", "admin_name": "张经理", "password": PASSWORD,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["organisation"]["credit_code"], "91****Y43",
        "the credit code is shown masked"
    );
    let (status, session) = call(
        app,
        "POST",
        "/api/v1/session",
        None,
        json!({"username": "fz.admin", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let account = app
        .store
        .account_by_username("fz.admin")
        .await
        .unwrap()
        .unwrap();
    let token = "cdk_certificates_test_token";
    common::give_api_token(&app.store, account.id, token).await;
    token.to_string()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A key holder: its key and the certificate our CA issued for it.
async fn key_holder(app: &App, algorithm: Algorithm) -> (SoftwareKey, String, String) {
    let key = SoftwareKey::generate(algorithm).unwrap();
    let csr = make_csr(&key, Name::from_str("CN=ukey").unwrap()).unwrap();
    let issued = app
        .ca
        .issue(&IssueRequest {
            csr: &csr,
            profile: LeafProfile::Sign,
            org_name: "福州测试科技有限公司",
            credit_code: CREDIT_CODE,
            validity_days: 365,
        })
        .await
        .unwrap();
    (key, issued.pem, issued.record.serial_hex)
}

async fn challenge(app: &App, path: &str, auth: Option<&str>) -> (String, String) {
    let (status, body) = call(app, "POST", path, auth, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["challenge_id"].as_str().unwrap().to_string(),
        body["message"].as_str().unwrap().to_string(),
    )
}

async fn bind(
    app: &App,
    token: &str,
    account_id: i64,
    key: &SoftwareKey,
    certificate: &str,
) -> (StatusCode, Value) {
    let (id, message) = challenge(app, "/api/v1/bindings/challenge", Some(token)).await;
    call(
        app,
        "POST",
        "/api/v1/bindings",
        Some(token),
        json!({
            "account_id": account_id, "challenge_id": id, "certificate": certificate,
            "signature": b64(&key.sign(message.as_bytes()).unwrap()),
        }),
    )
    .await
}

/// A certificate-login challenge for a new browser: its id, message and the browser's cookie.
async fn login_challenge(app: &App) -> (String, String, String) {
    let (status, body, cookie) = call_as_browser(
        app,
        "POST",
        "/api/v1/session/challenge",
        None,
        None,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["challenge_id"].as_str().unwrap().to_string(),
        body["message"].as_str().unwrap().to_string(),
        cookie.expect("the challenge gives the browser its pre-login cookie"),
    )
}

async fn certificate_login(
    app: &App,
    key: &SoftwareKey,
    certificate: &str,
) -> (StatusCode, Value, String) {
    let (id, message, cookie) = login_challenge(app).await;
    let signature = b64(&key.sign(message.as_bytes()).unwrap());
    let (status, body, _) = call_as_browser(
        app,
        "POST",
        "/api/v1/session/certificate",
        None,
        Some(&cookie),
        json!({"challenge_id": id, "certificate": certificate, "signature": signature}),
    )
    .await;
    (status, body, signature)
}

#[tokio::test]
async fn certificate_login_with_sm2_and_p256_keys_and_its_refusals() {
    let app = app().await;
    let token = organisation_admin(&app).await;
    let admin_id = app
        .store
        .account_by_username("fz.admin")
        .await
        .unwrap()
        .unwrap()
        .id;
    for algorithm in Algorithm::ALL {
        let (key, certificate, serial) = key_holder(&app, algorithm).await;

        // Not bound yet: refused, with the reason.
        let (status, body, _) = certificate_login(&app, &key, &certificate).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("certificate_unbound")),
            "{body}"
        );

        let (status, body) = bind(&app, &token, admin_id, &key, &certificate).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["provider"], "certdesk CA（本平台）");

        let (status, body, _) = certificate_login(&app, &key, &certificate).await;
        assert_eq!(status, StatusCode::OK, "{algorithm}: {body}");
        assert_eq!(body["account"]["username"], "fz.admin");

        // A challenge names the site and its purpose, belongs to the browser that asked for
        // it, and is answered once.
        let (id, message, cookie) = login_challenge(&app).await;
        assert_eq!(message, format!("certdesk:127.0.0.1:8080:login:{id}"));
        let signature = b64(&key.sign(message.as_bytes()).unwrap());
        let login = json!({"challenge_id": id, "certificate": certificate, "signature": signature});
        let (_, _, other_browser) = login_challenge(&app).await;
        for stranger in [None, Some(other_browser.as_str())] {
            let (status, body, _) = call_as_browser(
                &app,
                "POST",
                "/api/v1/session/certificate",
                None,
                stranger,
                login.clone(),
            )
            .await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("challenge_invalid")),
                "another browser: {body}"
            );
        }
        let answer = |cookie: String, login: Value| {
            let app = &app;
            async move {
                call_as_browser(
                    app,
                    "POST",
                    "/api/v1/session/certificate",
                    None,
                    Some(&cookie),
                    login,
                )
                .await
            }
        };
        assert_eq!(
            answer(cookie.clone(), login.clone()).await.0,
            StatusCode::OK
        );
        let (status, body, _) = answer(cookie, login).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("challenge_used")),
            "{body}"
        );

        // Another key's signature does not log in.
        let other = SoftwareKey::generate(algorithm).unwrap();
        let (status, body, _) = certificate_login(&app, &other, &certificate).await;
        assert_eq!(
            body["error"]["code"], "signature_invalid",
            "{status} {body}"
        );

        // Revoked: refused, with the reason.
        app.ca
            .revoke(&serial, certdesk_pki::CrlReason::KeyCompromise)
            .await
            .unwrap();
        let (status, body, _) = certificate_login(&app, &key, &certificate).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("certificate_revoked")
            ),
            "{body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("吊销"));
    }

    // Every step is in the audit log, chained, with the credit code masked.
    let chain = app.store.audit_chain().await.unwrap();
    assert_eq!(certdesk_domain::verify_chain(&chain), Ok(chain.len()));
    let actions: Vec<&str> = chain.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "organisation_registered",
        "login_succeeded",
        "certificate_bound",
        "certificate_login",
    ] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }
    let registered = chain
        .iter()
        .find(|e| e.action == "organisation_registered")
        .unwrap();
    assert!(
        registered.detail.contains("91****Y43"),
        "{}",
        registered.detail
    );
    assert!(
        chain
            .iter()
            .all(|e| !e.detail.contains(CREDIT_CODE) && !e.object.contains(CREDIT_CODE)),
        "a credit code in clear"
    );
    assert_eq!(
        chain
            .iter()
            .find(|e| e.action == "certificate_bound")
            .unwrap()
            .actor_label,
        "fz.admin"
    );
}

/// A certificate of `foreign`'s issuing CA for a new SM2 key, naming its CRL at `base_url`.
fn foreign_certificate(
    foreign: &certdesk_pki::CaHierarchy,
    base_url: &str,
    serial: certdesk_pki::x509_cert::serial_number::SerialNumber,
) -> (SoftwareKey, String) {
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = certdesk_pki::parse_and_verify_csr(
        &make_csr(&key, Name::from_str("CN=ukey").unwrap()).unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now();
    let leaf = certdesk_pki::issue_leaf(
        &foreign.issuing_key,
        &foreign.issuing_cert,
        &csr,
        &certdesk_pki::LeafRequest {
            profile: LeafProfile::Sign,
            org_name: "福州测试科技有限公司".into(),
            credit_code: CREDIT_CODE.into(),
            not_before: now - std::time::Duration::from_secs(60),
            not_after: now + std::time::Duration::from_secs(86400 * 365),
            serial,
            base_url: base_url.into(),
            ca_name: None,
            policy: certdesk_pki::PLACEHOLDER_POLICY_OID,
        },
    )
    .unwrap();
    (key, certdesk_pki::certificate_to_pem(&leaf).unwrap())
}

/// `foreign`'s CRL revoking `revoked`, valid for an hour from now (DER).
fn foreign_crl(
    foreign: &certdesk_pki::CaHierarchy,
    revoked: &[certdesk_pki::x509_cert::serial_number::SerialNumber],
) -> Vec<u8> {
    use certdesk_pki::der::Encode;
    let now = std::time::SystemTime::now();
    certdesk_pki::build_crl(
        &foreign.issuing_key,
        &foreign.issuing_cert,
        &certdesk_pki::CrlRequest {
            crl_number: 1,
            this_update: now,
            next_update: now + std::time::Duration::from_secs(3600),
            revoked: revoked
                .iter()
                .map(|serial| certdesk_pki::RevokedEntry {
                    serial: serial.clone(),
                    revoked_at: now,
                    reason: certdesk_pki::CrlReason::KeyCompromise,
                })
                .collect(),
        },
    )
    .unwrap()
    .to_der()
    .unwrap()
}

/// The other CA's web server: serves `crl` at /crl/sm2.crl and counts the requests.
async fn serve_foreign_crl(crl: Vec<u8>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let fetched = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = fetched.clone();
    let router = Router::new().route(
        "/crl/sm2.crl",
        axum::routing::get(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let crl = crl.clone();
            async move { crl }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base_url, fetched)
}

#[tokio::test]
async fn certificates_of_imported_cas_bind_and_unknown_ones_do_not() {
    let app = app().await;
    let token = organisation_admin(&app).await;
    let admin_id = app
        .store
        .account_by_username("fz.admin")
        .await
        .unwrap()
        .unwrap()
        .id;

    // Another CA's hierarchy, as CFCA would run it, publishing a CRL that revokes one of its
    // certificates.
    let foreign = certdesk_pki::CaHierarchy::generate(Algorithm::Sm2Sm3, "CFCA test").unwrap();
    let revoked_serial = certdesk_pki::random_serial().unwrap();
    let (base_url, crl_fetches) =
        serve_foreign_crl(foreign_crl(&foreign, std::slice::from_ref(&revoked_serial))).await;
    let (key, certificate) =
        foreign_certificate(&foreign, &base_url, certdesk_pki::random_serial().unwrap());

    let (status, body) = bind(&app, &token, admin_id, &key, &certificate).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_unrecognised")
        ),
        "{body}"
    );
    assert_eq!(
        app.store.bindings(&Default::default()).await.unwrap().len(),
        0
    );

    // The system admin imports CFCA's issuing CA; now the certificate binds, under CFCA.
    let sysadmin = app
        .store
        .create_account(
            &NewAccount {
                username: "root",
                display_name: "系统管理员",
                role: Role::SystemAdmin,
                org_id: None,
                password_hash: "x",
                created_at: 0,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let admin_token = "cdk_sysadmin_test_token";
    common::give_api_token(&app.store, sysadmin.id, admin_token).await;
    let cfca = app
        .store
        .ca_provider_by_name("CFCA")
        .await
        .unwrap()
        .unwrap();
    let ca_pem = certdesk_pki::certificate_to_pem(&foreign.issuing_cert).unwrap();
    let (status, body) = call(
        &app,
        "POST",
        &format!("/api/v1/ca-providers/{}/cas", cfca.id),
        Some(admin_token),
        json!({"certificate": ca_pem}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call(
        &app,
        "POST",
        &format!("/api/v1/ca-providers/{}/cas", cfca.id),
        Some(admin_token),
        json!({"certificate": certificate}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_invalid")
        ),
        "a leaf is not a CA: {body}"
    );

    let (status, body) = bind(&app, &token, admin_id, &key, &certificate).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["provider"], "CFCA");
    let bound_id = body["id"].as_i64().unwrap();
    let (status, _, _) = certificate_login(&app, &key, &certificate).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a recognised foreign certificate logs in too"
    );
    assert_eq!(
        crl_fetches.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the CA's CRL is fetched once and kept until it is due"
    );

    // A certificate that CFCA's CRL revokes neither binds nor logs in.
    let (revoked_key, revoked_certificate) =
        foreign_certificate(&foreign, &base_url, revoked_serial);
    let (status, body) = bind(&app, &token, admin_id, &revoked_key, &revoked_certificate).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_revoked")
        ),
        "{body}"
    );
    let (status, body, _) = certificate_login(&app, &revoked_key, &revoked_certificate).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_revoked")
        ),
        "{body}"
    );

    // When no CRL of the CA can be had (its server does not answer), the certificate is not
    // taken on trust; the message says why and what to do.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    drop(silent);
    let (unknown_key, unknown_certificate) = foreign_certificate(
        &foreign,
        &silent_url,
        certdesk_pki::random_serial().unwrap(),
    );
    let (status, body) = bind(&app, &token, admin_id, &unknown_key, &unknown_certificate).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("certificate_revocation_unknown")
        ),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("无法确认证书的吊销状态") && message.contains("账号密码登录"),
        "{message}"
    );
    assert_eq!(
        app.store.bindings(&Default::default()).await.unwrap().len(),
        1,
        "only the good certificate is bound"
    );

    // Unbinding frees it; listing shows nothing for the organisation afterwards.
    let id = bound_id;
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/api/v1/bindings/{id}"),
            Some(&token),
            Value::Null
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, list) = call(&app, "GET", "/api/v1/bindings", Some(&token), Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
}

/// Captures what the server logs, to check that no password ever reaches it.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn six_wrong_passwords_lock_the_account_and_the_log_shows_no_password() {
    let log = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = app().await;
    organisation_admin(&app).await;
    let wrong: Vec<String> = (1..=5).map(|i| format!("wrong-secret-{i}x")).collect();
    for password in &wrong {
        let (status, body) = call(
            &app,
            "POST",
            "/api/v1/session",
            None,
            json!({"username": "fz.admin", "password": password}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials")),
            "{body}"
        );
    }
    // The sixth try is refused even with the right password, and says how long to wait.
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/session",
        None,
        json!({"username": "fz.admin", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("login_locked")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("15 分钟后再试"), "{message}");
    // Another account is not locked by these failures.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/session",
        None,
        json!({"username": "nobody.else", "password": "whatever-1234"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("password login refused"),
        "the failures are logged: {text}"
    );
    for password in wrong.iter().map(String::as_str).chain([PASSWORD]) {
        assert!(!text.contains(password), "a password reached the log");
    }
}

/// A user name no account can have (here 200,000 characters) is refused like a wrong password,
/// and leaves nothing in the failure counts or the audit chain.
#[tokio::test]
async fn a_name_no_account_can_have_leaves_no_trace() {
    let app = app().await;
    organisation_admin(&app).await;
    let before = app.store.audit_chain().await.unwrap().len();
    let huge = "A".repeat(200_000);
    for username in [huge.as_str(), "x", "名字", "a b c"] {
        let (status, body) = call(
            &app,
            "POST",
            "/api/v1/session",
            None,
            json!({"username": username, "password": "whatever-1"}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials")),
            "{body}"
        );
        let counted = app
            .store
            .rate_taken(&format!("login:account:{username}"))
            .await
            .unwrap();
        assert_eq!(counted, 0);
    }
    assert_eq!(app.store.audit_chain().await.unwrap().len(), before);

    // A real name with a wrong password is still counted and audited.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/session",
        None,
        json!({"username": "fz.admin", "password": "whatever-1"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.store.audit_chain().await.unwrap().len(), before + 1);
}

/// Behind a trusted reverse proxy, failed logins count against the client the proxy names,
/// not against the proxy (which would lock every user out at once); a client that is not
/// behind a trusted proxy cannot choose its address with the header.
#[tokio::test]
async fn failures_count_against_the_client_behind_a_trusted_proxy() {
    let server = common::test_server().await;
    let mut state = server.state.clone();
    state.config = Arc::new(
        (*state.config)
            .clone()
            .with_trusted_proxies(vec!["127.0.0.1/32".parse().unwrap()]),
    );
    let router = certdesk_server::router(state);
    let attempt = |peer: &str, forwarded: &str| {
        let mut request = Request::post("/api/v1/session")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(
                json!({"username": "nobody.here", "password": "wrong-pass-1"}).to_string(),
            ))
            .unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(
            peer.parse::<std::net::SocketAddr>().unwrap(),
        ));
        router.clone().oneshot(request)
    };
    assert_eq!(
        attempt("127.0.0.1:50000", "198.51.100.7")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Not a trusted proxy: its header is ignored.
    assert_eq!(
        attempt("203.0.113.9:50000", "198.51.100.8")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let count = |client: &'static str| {
        let store = server.store.clone();
        async move {
            store
                .rate_taken(&format!("login:client:{client}"))
                .await
                .unwrap()
        }
    };
    assert_eq!(count("198.51.100.7").await, 1);
    assert_eq!(count("127.0.0.1").await, 0, "not the proxy");
    assert_eq!(count("203.0.113.9").await, 1);
    assert_eq!(count("198.51.100.8").await, 0, "an untrusted header");
}
