//! One set of limits for the RA and the CA (issue 10): a product of too many years and an
//! organisation name longer than a certificate holds are refused with a field error where they
//! are typed; no order reaches 制证中 that the CA would refuse; an order the CA can no longer
//! issue is ended by an operator (无法制证退款) with its money refunded.

mod common;

use axum::http::StatusCode;
use certdesk_ca::{Algorithm, CertificateAuthority};
use certdesk_domain::limits::validity_days;
use certdesk_domain::product::{KeyAlgorithm, Medium, ProductSpec};
use certdesk_domain::Role;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{csr_to_pem, make_csr, SoftwareKey};
use certdesk_server::{router, AppState, ServerConfig};
use common::{call, organisation_with_admin, staff_token, test_server, TestServer};
use serde_json::{json, Value};
use std::str::FromStr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use tower::ServiceExt;

/// A valid 统一社会信用代码 for the n-th organisation of a test: the region varies, the
/// organisation code (GB 11714, with its own check) is a known good one, the last character is
/// the GB 32100 check.
fn credit_code(n: u32) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("91{:06}M000100Y4", 350_100 + n);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| CHARS.iter().position(|c| *c == b).unwrap() as u32 * w)
        .sum();
    let code = format!("{body}{}", CHARS[((31 - sum % 31) % 31) as usize] as char);
    certdesk_domain::validate_credit_code(&code).unwrap();
    code
}

/// The system admin's API token.
async fn system_admin(server: &TestServer) -> String {
    staff_token(&server.store, "sysadmin", Role::SystemAdmin).await
}

fn product_body(max_years: u32) -> Value {
    json!({
        "name": "SM2 双证书 UKey",
        "medium": "ukey",
        "algorithm": "sm2",
        "dual": true,
        "min_years": 1,
        "max_years": max_years,
        "price_per_year": "399.00",
        "sub_price_per_year": "200.00",
    })
}

/// Posts a form with a bearer token (no CSRF field needed); answers status and page.
async fn post_form(
    app: &axum::Router,
    path: &str,
    token: Option<&str>,
    cookie: Option<&str>,
    form: &str,
) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let mut request =
        axum::http::Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app
        .clone()
        .oneshot(
            request
                .body(axum::body::Body::from(form.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get_page(app: &axum::Router, path: &str, token: &str) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn url_encoded(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)]).unwrap()[2..].to_string()
}

fn assert_field_error(status: StatusCode, body: &Value, code: &str, words: &[&str]) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for word in words {
        assert!(message.contains(word), "{word:?} in {message}");
    }
}

#[tokio::test]
async fn a_ten_year_product_is_refused_on_its_years_field() {
    let server = test_server().await;
    let app = &server.router;
    let admin = system_admin(&server).await;

    // The API: 422 naming the years, nothing saved.
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(product_body(10)),
    )
    .await;
    assert_field_error(
        status,
        &body,
        "invalid_years",
        &["有效期年限最多5年", "当前为10年"],
    );
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(product_body(6)),
    )
    .await;
    assert_field_error(status, &body, "invalid_years", &["当前为6年"]);
    assert!(server.store.products(false).await.unwrap().is_empty());
    // The longest allowed is made.
    let (status, created) = call(
        app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(product_body(5)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let before = server.store.product_by_id(id).await.unwrap().unwrap();
    // An update to 10 years is refused the same way and changes nothing.
    let (status, body) = call(
        app,
        "PUT",
        &format!("/api/v1/products/{id}"),
        Some(&admin),
        Some(json!({"max_years": 10})),
    )
    .await;
    assert_field_error(status, &body, "invalid_years", &["有效期年限最多5年"]);
    assert_eq!(
        server.store.product_by_id(id).await.unwrap().unwrap(),
        before
    );

    // The admin page: the form comes back as typed with the reason; nothing saved.
    let form = "provider_id=&name=SM2&medium=ukey&algorithm=sm2&min_years=1&max_years=10\
                &price_per_year=399&sub_price_per_year=200.00&dual=1&active=1";
    let (status, html) = post_form(app, "/admin/products", Some(&admin), None, form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("有效期年限最多5年（CA所能签发的最长有效期），最长年限当前为10年"),
        "{html}"
    );
    let new_form = html.split("<h2>新建产品</h2>").nth(1).unwrap();
    assert!(
        new_form.contains(r#"name="max_years" value="10""#),
        "{new_form}"
    );
    assert_eq!(server.store.products(false).await.unwrap().len(), 1);
    let (status, html) = post_form(
        app,
        &format!("/admin/products/{id}"),
        Some(&admin),
        None,
        &form.replace("provider_id=&", ""),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("有效期年限最多5年"), "{html}");
    assert_eq!(
        server.store.product_by_id(id).await.unwrap().unwrap(),
        before
    );
}

#[tokio::test]
async fn a_product_longer_than_the_issuing_ca_has_left_is_refused() {
    let server = test_server().await;
    let admin = system_admin(&server).await;
    // Two years and a day before the SM2 issuing CA ends (the RA's clock; the CA's end is its
    // certificate's notAfter).
    let ca_until = server.ca.ca(Algorithm::Sm2Sm3).unwrap().issuing_until();
    let clock = Arc::new(AtomicI64::new(ca_until - (2 * 365 + 1) * 24 * 60 * 60));
    let app = router(server.state.clone().with_clock(clock));
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(product_body(3)),
    )
    .await;
    assert_field_error(
        status,
        &body,
        "invalid_years",
        &["最长年限不能签发", "签发CA的有效期"],
    );
    // Two years fit today, but not a week from now, when the key holder may send the CSR.
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(product_body(2)),
    )
    .await;
    assert_field_error(status, &body, "invalid_years", &["签发CA的有效期"]);
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(product_body(1)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A product not on sale need not be issuable.
    let mut stopped = product_body(3);
    stopped["active"] = json!(false);
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/products",
        Some(&admin),
        Some(stopped),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn an_organisation_name_of_70_characters_is_refused_on_registration() {
    let server = test_server().await;
    let app = &server.router;
    let seventy = "福".repeat(70);
    let registration = |name: &str, code: String, user: &str| {
        json!({
            "organisation_name": name, "credit_code": code,
            "admin_username": user, "admin_name": "张经理", "password": "Registration-pass-1",
        })
    };
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/organisations",
        None,
        Some(registration(&seventy, credit_code(1), "long.admin")),
    )
    .await;
    assert_field_error(
        status,
        &body,
        "invalid_organisation_name",
        &["单位名称最多64个字", "当前70个"],
    );
    assert!(server
        .store
        .organisation_by_credit_code(&credit_code(1))
        .await
        .unwrap()
        .is_none());
    // 64 characters fit: what a certificate subject holds.
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/organisations",
        None,
        Some(registration(&"福".repeat(64), credit_code(2), "fits.admin")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The registration page: the reason, and the name as typed.
    let form = format!(
        "csrf=prelogin-token&organisation_name={}&credit_code={}&admin_username=page.admin\
         &admin_name=%E5%BC%A0&password=Registration-pass-1&password_again=Registration-pass-1",
        url_encoded(&seventy),
        credit_code(3)
    );
    let (status, html) = post_form(
        app,
        "/register",
        None,
        Some("certdesk_csrf=prelogin-token"),
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("单位名称最多64个字"), "{html}");
    assert!(html.contains(&format!(r#"value="{seventy}""#)), "{html}");
    assert!(server
        .store
        .organisation_by_credit_code(&credit_code(3))
        .await
        .unwrap()
        .is_none());
}

// --- applications, all the way to the CA -------------------------------------------------------

fn form(name: &str, code: &str) -> Value {
    json!({
        "organisation": {
            "name": name, "credit_code": code, "org_type": "企业",
            "address": "福建省福州市鼓楼区五四路100号", "phone": "0591-87654321",
            "registration_place": "福建省福州市"
        },
        "legal_rep": {"name": "张三", "id_number": "11010519491231002X", "mobile": "13800138000", "email": "boss@example.com"},
        "handler": {"name": "李四", "id_number": "440524188001010014", "mobile": "13900139000", "email": "handler@example.com"},
        "delivery": {"method": "mail", "recipient": "李四", "phone": "13900139000", "address": "福建省福州市鼓楼区五四路100号"},
        "terms_accepted": true
    })
}

async fn upload_all_documents(app: &axum::Router, token: &str, order_no: &str) {
    for (i, kind) in [
        "business_licence",
        "id_card_front",
        "id_card_back",
        "authorisation_letter",
        "service_agreement",
    ]
    .into_iter()
    .enumerate()
    {
        let request = axum::http::Request::post(format!(
            "/api/v1/applications/{order_no}/uploads/{kind}?file_name=scan.png"
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(axum::body::Body::from(common::png(i as u8)))
        .unwrap();
        let status = app.clone().oneshot(request).await.unwrap().status();
        assert_eq!(status, StatusCode::CREATED, "{kind}");
    }
}

/// An SM2 dual UKey product made straight in the store, as one made before these limits (or of
/// another time) may be: its years are not checked here.
async fn stored_product(server: &TestServer, max_years: u32, price_per_year_fen: i64) -> i64 {
    let provider = server.store.ca_providers().await.unwrap()[0].id;
    server
        .store
        .create_product(
            provider,
            &ProductSpec {
                name: format!("SM2 双证书 UKey {max_years}年"),
                medium: Medium::UKey,
                algorithm: KeyAlgorithm::Sm2,
                dual: true,
                min_years: 1,
                max_years,
                price_per_year_fen,
                sub_price_per_year_fen: 0,
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

struct Staff {
    operator: String,
    officer: String,
}

/// How far an application got.
#[derive(Debug)]
enum Outcome {
    /// Refused at `step` with this answer; the order never reached 制证中.
    Refused { step: &'static str, body: Value },
    /// Waiting in 待复审 (when asked to stop there).
    AwaitingSecondReview,
    /// In 制证中.
    Issuing,
}

/// Applies for `years` of `product` for an organisation registered (straight in the store, as
/// an older registration may be) as `name`, and takes it as far as the rules let it: submit,
/// 初审, payment, and 复审 unless `stop_before_second_review`.
async fn apply(
    server: &TestServer,
    staff: &Staff,
    (n, name): (u32, &str),
    (product, years): (i64, u32),
    stop_before_second_review: bool,
) -> (String, String, Outcome) {
    let app = &server.router;
    let code = credit_code(100 + n);
    let username: &'static str = Box::leak(format!("admin{n}").into_boxed_str());
    let (_, supplier) = organisation_with_admin(&server.store, name, &code, username).await;
    let (status, draft) = call(
        app,
        "POST",
        "/api/v1/applications",
        Some(&supplier),
        Some(json!({"product_id": product, "years": years, "form": form(name, &code)})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    upload_all_documents(app, &supplier, &order_no).await;
    common::pass_identity_check(server, &supplier, &order_no).await;
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/applications/{order_no}/submit"),
        Some(&supplier),
        None,
    )
    .await;
    if status != StatusCode::OK {
        return (
            order_no,
            supplier,
            Outcome::Refused {
                step: "submit",
                body,
            },
        );
    }
    let review = format!("/api/v1/orders/{order_no}/review");
    let approve = Some(json!({"decision": "approve"}));
    let (status, body) = call(app, "POST", &review, Some(&staff.operator), approve.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    if body["status"] == "awaiting_payment" {
        let amount = server
            .store
            .order_by_no(&order_no)
            .await
            .unwrap()
            .unwrap()
            .amount_fen;
        common::pay(app, &order_no, amount).await;
    }
    if stop_before_second_review {
        return (order_no, supplier, Outcome::AwaitingSecondReview);
    }
    let (status, body) = call(app, "POST", &review, Some(&staff.officer), approve).await;
    if status != StatusCode::OK {
        return (
            order_no,
            supplier,
            Outcome::Refused {
                step: "approve_second",
                body,
            },
        );
    }
    assert_eq!(body["status"], "issuing", "{body}");
    (order_no, supplier, Outcome::Issuing)
}

/// The key holder's CSR for an order in 制证中, as the supplier sends it.
async fn send_csr(app: &axum::Router, supplier: &str, order_no: &str) -> (StatusCode, Value) {
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = csr_to_pem(&make_csr(&key, Name::from_str("CN=ukey").unwrap()).unwrap()).unwrap();
    call(
        app,
        "POST",
        &format!("/api/v1/orders/{order_no}/csr"),
        Some(supplier),
        Some(json!({ "csr": csr })),
    )
    .await
}

fn field_errors(body: &Value) -> Vec<(String, String)> {
    body["field_errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["message"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn ever_issuing(server: &TestServer, order_no: &str) -> bool {
    let order = server.store.order_by_no(order_no).await.unwrap().unwrap();
    server
        .store
        .order_events(order.id)
        .await
        .unwrap()
        .iter()
        .any(|e| e.to_status == "issuing".parse::<certdesk_domain::OrderStatus>().unwrap())
}

#[tokio::test]
async fn no_order_reaches_issuing_that_the_ca_would_refuse() {
    let server = test_server().await;
    let staff = Staff {
        operator: staff_token(&server.store, "operator", Role::PlatformOperator).await,
        officer: staff_token(&server.store, "officer", Role::CaOfficer).await,
    };
    let free_five = stored_product(&server, 5, 0).await;
    let free_six = stored_product(&server, 6, 0).await;
    let free_ten = stored_product(&server, 10, 0).await;
    let name_64 = "闽".repeat(64);
    let name_65 = "闽".repeat(65);
    // (name, product, years, the field the submission is refused on if it is, whether the CA
    // itself would refuse it; 6 years the CA would sign, but no product may offer them)
    let cases: [(&str, i64, u32, Option<&str>, bool); 6] = [
        (&name_64, free_five, 1, None, false),
        (&name_65, free_five, 1, Some("organisation.name"), true),
        ("福州五年科技有限公司", free_five, 5, None, false),
        ("福州六年科技有限公司", free_six, 6, Some("years"), false),
        ("福州十年科技有限公司", free_ten, 10, Some("years"), true),
        (&name_65, free_ten, 10, Some("organisation.name"), true),
    ];
    for (n, (name, product, years, refused_on, ca_refuses)) in cases.into_iter().enumerate() {
        let case = format!("{} chars, {years} years", name.chars().count());
        let (order_no, supplier, outcome) =
            apply(&server, &staff, (n as u32, name), (product, years), false).await;
        match (refused_on, outcome) {
            (
                Some(field),
                Outcome::Refused {
                    step: "submit",
                    body,
                },
            ) => {
                let errors = field_errors(&body);
                assert!(errors.iter().any(|(f, _)| f == field), "{case}: {errors:?}");
                assert!(!ever_issuing(&server, &order_no).await, "{case}");
                // What the CA itself says of it (the RA may be stricter, never looser).
                let org = server.store.order_by_no(&order_no).await.unwrap().unwrap();
                let org = server
                    .store
                    .organisation_by_id(org.org_id)
                    .await
                    .unwrap()
                    .unwrap();
                let now = jiff::Timestamp::now().as_second();
                assert_eq!(
                    server
                        .ca
                        .check_limits(Algorithm::Sm2Sm3, &org.name, validity_days(years), now)
                        .is_err(),
                    ca_refuses,
                    "{case}"
                );
            }
            (None, Outcome::Issuing) => {
                // Reached 制证中: the real CA issues it.
                let (status, issued) = send_csr(&server.router, &supplier, &order_no).await;
                assert_eq!(status, StatusCode::CREATED, "{case}: {issued}");
                assert_eq!(issued["order"]["status"], "issued", "{case}");
            }
            (expected, outcome) => {
                panic!("{case}: expected refusal on {expected:?}, got {outcome:?}")
            }
        }
    }
    // The messages say what is wrong, in the user's words.
    let (_, _, outcome) = apply(&server, &staff, (50, &name_65), (free_five, 1), false).await;
    let Outcome::Refused { body, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        field_errors(&body).contains(&(
            "organisation.name".to_string(),
            "单位名称最多64个字，当前65个".to_string()
        )),
        "{body}"
    );
    let (_, _, outcome) = apply(
        &server,
        &staff,
        (51, "福州十年二公司"),
        (free_ten, 10),
        false,
    )
    .await;
    let Outcome::Refused { body, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        field_errors(&body).contains(&(
            "years".to_string(),
            "所选有效期不能签发：有效期年限应为1至5年的整数，当前为10年".to_string()
        )),
        "{body}"
    );
}

/// The same application with a CA that has no SM2 issuing CA any more (a CA change): a CA opened
/// on a store without CA keys, behind the same orders.
async fn after_a_ca_change(server: &TestServer) -> axum::Router {
    let (empty, dir) = certdesk_store::testing::sqlite_store().await;
    let passphrase = zeroize::Zeroizing::new("server-test-passphrase".to_string());
    let ca =
        CertificateAuthority::open(std::sync::Arc::new(empty), common::PUBLIC_URL, &passphrase)
            .await
            .unwrap();
    assert!(ca.cas().is_empty());
    // The test keeps the directory for the test's life.
    std::mem::forget(dir);
    let mut config = ServerConfig::new(common::PUBLIC_URL.into(), 3600)
        .with_sandbox_payment_secret(common::SANDBOX_SECRET.to_vec());
    // The same installation: forms saved under its data key must open.
    config.personal_data = server.state.config.personal_data.clone();
    let state = AppState::new(
        server.store.clone(),
        Arc::new(ca),
        config,
        server.state.blobs.clone(),
    );
    router(state)
}

#[tokio::test]
async fn an_order_the_ca_can_no_longer_issue_is_refused_at_review_and_refunded() {
    let server = test_server().await;
    let staff = Staff {
        operator: staff_token(&server.store, "operator", Role::PlatformOperator).await,
        officer: staff_token(&server.store, "officer", Role::CaOfficer).await,
    };
    let paid = stored_product(&server, 3, 39_900).await;
    let free = stored_product(&server, 3, 0).await;
    let (waiting, supplier, outcome) = apply(
        &server,
        &staff,
        (1, "福州待审科技有限公司"),
        (paid, 2),
        true,
    )
    .await;
    assert!(
        matches!(outcome, Outcome::AwaitingSecondReview),
        "{outcome:?}"
    );
    let (issuing, _, outcome) = apply(
        &server,
        &staff,
        (2, "福州制证科技有限公司"),
        (free, 1),
        false,
    )
    .await;
    assert!(matches!(outcome, Outcome::Issuing), "{outcome:?}");

    // While the CA would issue them, the operator cannot end them this way.
    for order_no in [&waiting, &issuing] {
        let (status, body) = call(
            &server.router,
            "POST",
            &format!("/api/v1/orders/{order_no}/refund-unissuable"),
            Some(&staff.operator),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("仍可制证"),
            "{body}"
        );
    }

    let changed = after_a_ca_change(&server).await;
    // 复审 is refused with the reason; the order stays in 待复审.
    let (status, body) = call(
        &changed,
        "POST",
        &format!("/api/v1/orders/{waiting}/review"),
        Some(&staff.officer),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"]["message"],
        "不能复审通过：CA无法为该订单制证：没有可用的SM2签发CA，请联系CA管理员"
    );
    assert_eq!(
        server
            .store
            .order_by_no(&waiting)
            .await
            .unwrap()
            .unwrap()
            .status,
        "awaiting_second_review"
            .parse::<certdesk_domain::OrderStatus>()
            .unwrap()
    );
    assert!(!ever_issuing(&server, &waiting).await);

    // The order page tells the operator why and offers 无法制证退款; the supplier cannot.
    let (status, html) = get_page(&changed, &format!("/orders/{waiting}"), &staff.operator).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-testid="cannot-issue""#), "{html}");
    assert!(
        html.contains(r#"data-testid="refund-unissuable""#),
        "{html}"
    );
    let (status, _) = call(
        &changed,
        "POST",
        &format!("/api/v1/orders/{waiting}/refund-unissuable"),
        Some(&supplier),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The paid one goes to 退款中 with its refund asked of the gateway, through the page's button.
    let (status, _) = post_form(
        &changed,
        &format!("/orders/{waiting}/refund-unissuable"),
        Some(&staff.operator),
        None,
        "reason=%E7%AD%BE%E5%8F%91CA%E5%B7%B2%E6%9B%B4%E6%8D%A2",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let order = server.store.order_by_no(&waiting).await.unwrap().unwrap();
    assert_eq!(
        order.status,
        "refunding".parse::<certdesk_domain::OrderStatus>().unwrap()
    );
    let refund = server
        .store
        .refund_of_order(order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refund.amount_fen, order.amount_fen);
    let events = server.store.order_events(order.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        last.action,
        "refund_unissuable"
            .parse::<certdesk_domain::OrderAction>()
            .unwrap()
    );
    assert!(
        last.note.contains("没有可用的SM2签发CA") && last.note.contains("签发CA已更换"),
        "{}",
        last.note
    );

    // The free one, already in 制证中, is ended without money to move: 已撤销.
    let (status, body) = call(
        &changed,
        "POST",
        &format!("/api/v1/orders/{issuing}/refund-unissuable"),
        Some(&staff.operator),
        Some(json!({"reason": "签发CA已更换"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "withdrawn", "{body}");
}
