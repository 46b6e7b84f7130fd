//! 新办 through the API: a draft, its checks, uploads, submission, rejection and resubmission,
//! both reviews, payment, issuance from the key holder's CSR (SM2 dual: two certificates and
//! the sealed encryption key), delivery and receipt.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use certdesk_domain::Role;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{csr_to_pem, make_csr, Algorithm, SoftwareKey};
use common::{call, organisation_with_admin, staff_token, test_server, upload};
use serde_json::{json, Value};
use std::str::FromStr;
use tower::ServiceExt;

const CREDIT_CODE: &str = "91350100M000100Y43";

fn valid_form() -> Value {
    json!({
        "organisation": {
            "name": "福州测试科技有限公司",
            "credit_code": CREDIT_CODE,
            "org_type": "企业",
            "address": "福建省福州市鼓楼区五四路100号",
            "phone": "0591-87654321",
            "registration_place": "福建省福州市"
        },
        "legal_rep": {"name": "张三", "id_number": "11010519491231002X", "mobile": "13800138000", "email": "boss@example.com"},
        "handler": {"name": "李四", "id_number": "440524188001010014", "mobile": "13900139000", "email": "handler@example.com"},
        "delivery": {"method": "mail", "recipient": "李四", "phone": "13900139000", "address": "福建省福州市鼓楼区五四路100号"},
        "terms_accepted": true
    })
}

const DOCUMENTS: [&str; 5] = [
    "business_licence",
    "id_card_front",
    "id_card_back",
    "authorisation_letter",
    "service_agreement",
];

/// The id of one of the default products (made as `certdesk serve` makes them), as the
/// catalogue API lists it.
async fn default_product(server: &common::TestServer, token: &str, name: &str) -> i64 {
    certdesk_server::products::ensure_default_products(&server.store)
        .await
        .unwrap();
    let (_, products) = call(&server.router, "GET", "/api/v1/products", Some(token), None).await;
    products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no default product {name}: {products}"))["id"]
        .as_i64()
        .unwrap()
}

/// Uploads a real scan for each of the five documents.
async fn upload_all_documents(app: &axum::Router, token: &str, order_no: &str) {
    for (i, kind) in DOCUMENTS.into_iter().enumerate() {
        let (status, body) =
            upload(app, token, order_no, kind, "scan.png", common::png(i as u8)).await;
        assert_eq!(status, StatusCode::CREATED, "{kind}: {body}");
        assert_eq!(body["format"], "PNG");
    }
}

fn files_in(dir: &std::path::Path) -> usize {
    walk(dir)
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn csr_of(key: &SoftwareKey) -> String {
    csr_to_pem(&make_csr(key, Name::from_str("CN=ukey").unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_new_certificate_from_draft_to_receipt_with_a_rejection_on_the_way() {
    let server = test_server().await;
    let app = &server.router;
    let store = &server.store;
    let (_, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let (_, stranger) =
        organisation_with_admin(store, "乙公司", "91110108MA01W4JK2X", "stranger").await;
    let operator = staff_token(store, "operator", Role::PlatformOperator).await;
    let officer = staff_token(store, "officer", Role::CaOfficer).await;
    let product = common::paid_sm2_dual_product(&server).await;

    // A draft, with the organisation's registered name and code filled in.
    let (status, draft) = call(
        app,
        "POST",
        "/api/v1/applications",
        Some(&supplier),
        Some(json!({"product_id": product, "years": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    assert!(order_no.len() >= 19);
    assert_eq!(draft["order"]["status"], "draft");
    assert_eq!(draft["form"]["organisation"]["credit_code"], CREDIT_CODE);
    let app_uri = format!("/api/v1/applications/{order_no}");

    // Submitting the empty draft names what is missing, and changes nothing.
    let (status, refusal) = call(
        app,
        "POST",
        &format!("{app_uri}/submit"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
    let fields: Vec<&str> = refusal["field_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "legal_rep.id_number",
        "handler.mobile",
        "delivery.method",
        "terms_accepted",
        "uploads.business_licence",
        "uploads.service_agreement",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert_eq!(
        store.order_by_no(&order_no).await.unwrap().unwrap().status,
        certdesk_domain::OrderStatus::Draft
    );

    // Another organisation cannot see or change it.
    let (status, _) = call(app, "GET", &app_uri, Some(&stranger), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        app,
        "PUT",
        &app_uri,
        Some(&stranger),
        Some(json!({"product_id": product, "years": 1, "form": valid_form()})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The form, saved; ID numbers come back masked.
    let (status, saved) = call(
        app,
        "PUT",
        &app_uri,
        Some(&supplier),
        Some(json!({"product_id": product, "years": 1, "form": valid_form()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        saved["form"]["legal_rep"]["id_number"],
        "110***********002X"
    );
    // The 授权委托书 template comes filled in from the saved form, for its owner only.
    let letter_uri = format!("/orders/{order_no}/authorisation-letter");
    let (status, letter) = page(app, &letter_uri, &supplier).await;
    assert_eq!(status, StatusCode::OK);
    assert!(letter.contains("授权委托书") && letter.contains("福州测试科技有限公司"));
    assert!(letter.contains("李四") && letter.contains("440524188001010014"));
    let (status, _) = page(app, &letter_uri, &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // At rest the saved row holds no ID number, mobile or e-mail in clear: it is sealed.
    let order_id = store.order_by_no(&order_no).await.unwrap().unwrap().id;
    let row = store
        .application(order_id)
        .await
        .unwrap()
        .unwrap()
        .form_json;
    assert!(row.starts_with("pd1:"), "{row}");
    for clear in [
        "11010519491231002X",
        "440524188001010014",
        "13800138000",
        "13900139000",
        "boss@example.com",
        "张三",
    ] {
        assert!(!row.contains(clear), "{clear} in the saved row");
    }

    // Uploads: an executable named .jpg and a 6 MB image are refused and leave nothing.
    let blob_dir = server.state.blobs.root().to_path_buf();
    let elf = std::fs::read("/usr/bin/true").unwrap();
    let (status, body) = upload(
        app,
        &supplier,
        &order_no,
        "business_licence",
        "licence.jpg",
        elf,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("licence.jpg"),
        "{body}"
    );
    let mut big = common::png(1);
    big.resize(6 * 1024 * 1024, 0);
    let (status, body) = upload(
        app,
        &supplier,
        &order_no,
        "business_licence",
        "big.png",
        big,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("5"),
        "{body}"
    );
    assert_eq!(files_in(&blob_dir), 0, "refused uploads leave no file");
    upload_all_documents(app, &supplier, &order_no).await;
    assert_eq!(files_in(&blob_dir), 5);

    common::pass_identity_check(&server, &supplier, &order_no).await;
    let (status, submitted) = call(
        app,
        "POST",
        &format!("{app_uri}/submit"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["status"], "awaiting_initial_review");
    // Submitted: no more edits.
    let (status, _) = call(
        app,
        "PUT",
        &app_uri,
        Some(&supplier),
        Some(json!({"product_id": product, "years": 2, "form": valid_form()})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // 初审 rejects with a reason; the supplier sees it, edits, resubmits.
    let review = format!("/api/v1/orders/{order_no}/review");
    let (status, body) = call(
        app,
        "POST",
        &review,
        Some(&operator),
        Some(json!({"decision": "reject", "reason": "营业执照未加盖公章"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = call(
        app,
        "GET",
        &format!("/api/v1/orders/{order_no}"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(detail["order"]["status_label"], "审核未通过");
    assert!(detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["note"] == "营业执照未加盖公章"));
    let (status, body) = upload(
        app,
        &supplier,
        &order_no,
        "business_licence",
        "stamped.png",
        common::png(99),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, resubmitted) = call(
        app,
        "POST",
        &format!("{app_uri}/submit"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resubmitted}");
    assert_eq!(resubmitted["status"], "awaiting_initial_review");

    // 初审 passes → payment → 复审 passes → 制证中.
    let (status, body) = call(
        app,
        "POST",
        &review,
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("awaiting_payment")),
        "{body}"
    );
    let amount = store
        .order_by_no(&order_no)
        .await
        .unwrap()
        .unwrap()
        .amount_fen;
    assert!(amount > 0);
    common::pay(app, &order_no, amount).await;
    let (status, body) = call(
        app,
        "POST",
        &review,
        Some(&officer),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("issuing")),
        "{body}"
    );

    // The key holder's CSR: a P-256 key for an SM2 product and a tampered CSR are refused,
    // and refusals leave the order ready for a good request.
    let csr_uri = format!("/api/v1/orders/{order_no}/csr");
    let p256 = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let (status, body) = call(
        app,
        "POST",
        &csr_uri,
        Some(&supplier),
        Some(json!({"csr": csr_of(&p256)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "csr_algorithm_mismatch");
    let (status, body) = call(app, "POST", &csr_uri, Some(&supplier), Some(json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Staff lists name the applicant (申请单位); the supplier's own list has no such column.
    let (status, html) = page(app, "/orders", &operator).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<th>申请单位</th>") && html.contains("福州测试科技有限公司"));
    let (_, html) = page(app, "/orders", &supplier).await;
    assert!(!html.contains("<th>申请单位</th>"));
    // The reviewer sees the whole ID number (to compare with the ID card scan) and the
    // identity check, and that viewing is audited; the supplier's page masks the number.
    let (_, html) = page(app, &format!("/orders/{order_no}"), &operator).await;
    assert!(
        html.contains("11010519491231002X"),
        "full ID for the reviewer"
    );
    assert!(
        html.contains("身份核验") && html.contains("核验通过"),
        "the identity check"
    );
    // Documents as thumbnails, each with a viewer that turns the scan.
    assert!(
        html.contains(&format!(
            r#"<img src="/orders/{order_no}/uploads/business_licence" alt="营业执照" class="thumb""#
        )),
        "{html}"
    );
    assert!(html.contains(r#"id="r90-business_licence""#));
    let (_, html) = page(app, &format!("/orders/{order_no}"), &supplier).await;
    assert!(!html.contains("11010519491231002X") && html.contains("110***********002X"));
    assert!(store
        .audit_chain()
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "personal_data_viewed" && e.object == format!("order:{order_no}")));
    // Back to the form of a submitted application: the order page, not an error.
    let response = app
        .clone()
        .oneshot(
            Request::get(format!("/orders/{order_no}/edit"))
                .header("authorization", format!("Bearer {supplier}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        format!("/orders/{order_no}").as_str()
    );
    // Order steps read in Chinese in the audit log.
    let steps: Vec<String> = store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "order_transition" && e.object == format!("order:{order_no}"))
        .map(|e| e.detail)
        .collect();
    assert!(
        steps.iter().any(|d| d == "提交审核：草稿 → 待初审"),
        "{steps:?}"
    );
    assert!(steps.iter().all(|d| !d.contains("->")), "{steps:?}");
    // Every entry about the order reads as Chinese, not as key=value pairs.
    let english: Vec<String> = store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.object == format!("order:{order_no}") && e.detail.contains('='))
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    assert!(english.is_empty(), "{english:?}");
    // Told in Chinese, by what it means for the key holder: no codec English, no DER offsets.
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("无法读取证书请求"), "{message}");
    assert!(!message.contains("DER") && !message.is_ascii(), "{message}");
    let certificates_before = store.count_certificates().await.unwrap();
    let sm2 = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let (status, issued) = call(
        app,
        "POST",
        &csr_uri,
        Some(&supplier),
        Some(json!({"csr": csr_of(&sm2)})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!(issued["order"]["status"], "issued");
    assert!(issued["signing_certificate"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(issued["encryption_certificate"].is_string());
    assert!(issued["envelope_gmt0009"].is_string() && issued["envelope_skf"].is_string());
    assert_eq!(
        store.count_certificates().await.unwrap(),
        certificates_before + 2
    );
    // Issued once: a second CSR is refused and makes nothing.
    let (status, _) = call(
        app,
        "POST",
        &csr_uri,
        Some(&supplier),
        Some(json!({"csr": csr_of(&sm2)})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        store.count_certificates().await.unwrap(),
        certificates_before + 2
    );

    // Delivery: the supplier cannot ship; a bad tracking number is refused; then shipped.
    let ship = format!("/api/v1/orders/{order_no}/ship");
    let (status, _) = call(
        app,
        "POST",
        &ship,
        Some(&supplier),
        Some(json!({"courier": "顺丰速运", "tracking_no": "SF1234567890"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(
        app,
        "POST",
        &ship,
        Some(&operator),
        Some(json!({"courier": "顺丰速运", "tracking_no": "单号"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = call(
        app,
        "POST",
        &ship,
        Some(&operator),
        Some(json!({"courier": "顺丰速运", "tracking_no": "SF1234567890"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("shipping")),
        "{body}"
    );
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/orders/{order_no}/confirm-receipt"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("completed")),
        "{body}"
    );

    let order = store.order_by_no(&order_no).await.unwrap().unwrap();
    let actions: Vec<String> = store
        .order_events(order.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action.as_str().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "submit",
            "reject_initial",
            "edit_and_resubmit",
            "approve_initial",
            "pay_confirmed",
            "approve_second",
            "mark_issued",
            "ship",
            "confirm_receipt"
        ]
    );
    let certificates = store.org_certificates(order.org_id).await.unwrap();
    assert_eq!(certificates.len(), 2);
    assert!(certificates.iter().all(|c| c.order_status == "completed"));
}

#[tokio::test]
async fn an_operator_applies_for_a_mobile_certificate_whose_keys_the_ca_holds() {
    let server = test_server().await;
    let app = &server.router;
    let store = &server.store;
    let (org_id, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let operator = staff_token(store, "operator", Role::PlatformOperator).await;
    let officer = staff_token(store, "officer", Role::CaOfficer).await;
    let mobile = default_product(&server, &supplier, "SM2 移动版").await;

    // 操作员代办: the operator applies for the supplier, named by its credit code.
    let mut form = valid_form();
    form["delivery"] = json!({"method": "online"});
    let (status, draft) = call(
        app,
        "POST",
        "/api/v1/applications",
        Some(&operator),
        Some(
            json!({"product_id": mobile, "years": 1, "for_credit_code": CREDIT_CODE, "form": form}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["made_by"], "操作员代办");
    // The first certificate of the organisation is free: no cashier.
    assert_eq!(draft["order"]["amount"], "0.00");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    upload_all_documents(app, &operator, &order_no).await;
    // Staff never read the supplier's codes: the supplier tells the operator, as on the phone.
    let (status, _) = call(
        app,
        "GET",
        &format!("/api/v1/orders/{order_no}/identity/sandbox"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    common::pass_identity_check_told_by(&server, &operator, &supplier, &order_no).await;
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/applications/{order_no}/submit"),
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Separation of duties: the operator who made the 代办 order does not pass its 初审;
    // another operator does.
    let review = format!("/api/v1/orders/{order_no}/review");
    let (status, body) = call(
        app,
        "POST",
        &review,
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "own_order");
    let second_operator = staff_token(store, "operator2", Role::PlatformOperator).await;
    let (_, body) = call(
        app,
        "POST",
        &review,
        Some(&second_operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(body["status"], "awaiting_second_review", "free: {body}");
    // 复审 passes: the CA makes the key pairs and certificates at once; no CSR is asked for.
    let (_, body) = call(
        app,
        "POST",
        &review,
        Some(&officer),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(body["status"], "issued", "{body}");
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/orders/{order_no}/csr"),
        Some(&supplier),
        Some(json!({"csr": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let certificates = store.org_certificates(org_id).await.unwrap();
    assert_eq!(certificates.len(), 2, "SM2 mobile: signing and encryption");
    // Both private keys are held, sealed, by the CA.
    for certificate in &certificates {
        assert!(
            store
                .key_archive(certificate.certificate_id)
                .await
                .unwrap()
                .is_some(),
            "{} has its key archived",
            certificate.profile
        );
    }
    // Online delivery: the supplier confirms once it has the certificate in its app.
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/orders/{order_no}/confirm-receipt"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("completed")),
        "{body}"
    );
    let order = store.order_by_no(&order_no).await.unwrap().unwrap();
    assert!(order.on_behalf);
    let labels: Vec<String> = store
        .order_events(order.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.actor_label))
        .collect();
    assert!(
        labels.contains(&"submit:operator（操作员代办）".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"mark_issued:系统".to_string()),
        "{labels:?}"
    );
}

#[tokio::test]
async fn a_draft_is_priced_again_when_it_is_submitted() {
    let server = test_server().await;
    let app = &server.router;
    let store = &server.store;
    let (org_id, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let sm2_dual = default_product(&server, &supplier, "SM2 双证书 UKey").await;
    let (status, draft) = call(
        app,
        "POST",
        "/api/v1/applications",
        Some(&supplier),
        Some(json!({"product_id": sm2_dual, "years": 1, "form": valid_form()})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["amount"], "0.00", "首张免费 while drafting");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    // ¥0.00 says why.
    let (status, html) = page(app, &format!("/orders/{order_no}/edit"), &supplier).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("标准价 ¥399.00/年 × 1年 = ¥399.00"), "{html}");
    assert!(html.contains("首张免费（首年）：-¥399.00"), "{html}");

    // Meanwhile another order of the organisation got its certificate: 首张免费 is spent, and
    // this one is its second certificate (子证书 ¥200/年).
    let admin = store.account_by_username("boss").await.unwrap().unwrap();
    store
        .create_order_in_status(
            "completed",
            &certdesk_store::NewOrder {
                order_no: "20261123100000000999",
                org_id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 0,
                created_by: admin.id,
                on_behalf: false,
                created_at: 0,
            },
        )
        .await
        .unwrap();
    upload_all_documents(app, &supplier, &order_no).await;
    common::pass_identity_check(&server, &supplier, &order_no).await;
    let (status, submitted) = call(
        app,
        "POST",
        &format!("/api/v1/applications/{order_no}/submit"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["amount"], "200.00", "priced again on submitting");
    let (_, html) = page(app, &format!("/orders/{order_no}"), &supplier).await;
    assert!(html.contains("¥200.00"), "{html}");
    assert_eq!(
        store
            .order_by_no(&order_no)
            .await
            .unwrap()
            .unwrap()
            .amount_fen,
        20_000
    );
}

/// A certificate names the organisation that applied: the form may not name another one,
/// however valid that one's name and code are.
#[tokio::test]
async fn an_application_cannot_name_another_organisation() {
    let server = test_server().await;
    let app = &server.router;
    let store = &server.store;
    let (_, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    organisation_with_admin(store, "乙公司", "91350200M000100225", "other").await;
    let product = default_product(&server, &supplier, "SM2 双证书 UKey").await;
    let mut form = valid_form();
    form["organisation"]["name"] = json!("乙公司");
    form["organisation"]["credit_code"] = json!("91350200M000100225");
    let (status, draft) = call(
        app,
        "POST",
        "/api/v1/applications",
        Some(&supplier),
        Some(json!({"product_id": product, "years": 1, "form": form})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    upload_all_documents(app, &supplier, &order_no).await;
    common::pass_identity_check(&server, &supplier, &order_no).await;
    let submit = format!("/api/v1/applications/{order_no}/submit");

    let (status, refusal) = call(app, "POST", &submit, Some(&supplier), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
    let errors = refusal["field_errors"].as_array().unwrap();
    let named = |field: &str| {
        errors
            .iter()
            .find(|e| e["field"] == field)
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        named("organisation.name").contains("福州测试科技有限公司"),
        "{refusal}"
    );
    assert!(
        named("organisation.credit_code").contains(CREDIT_CODE),
        "{refusal}"
    );
    assert_eq!(
        store.order_by_no(&order_no).await.unwrap().unwrap().status,
        certdesk_domain::OrderStatus::Draft,
        "nothing changed"
    );

    // With its own name and code it goes to review.
    let (status, saved) = call(
        app,
        "PUT",
        &format!("/api/v1/applications/{order_no}"),
        Some(&supplier),
        Some(json!({"product_id": product, "years": 1, "form": valid_form()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, submitted) = call(app, "POST", &submit, Some(&supplier), None).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
}

/// GET a page with a bearer token; the status and the HTML.
async fn page(app: &axum::Router, uri: &str, token: &str) -> (StatusCode, String) {
    use http_body_util::BodyExt;
    let response = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_order_list_filters_by_number_type_status_provider_and_time_and_pages() {
    let server = test_server().await;
    let store = &server.store;
    let (org_id, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let (other_org, _) =
        organisation_with_admin(store, "乙公司", "91350200M000100225", "other").await;
    let operator = staff_token(store, "operator", Role::PlatformOperator).await;
    let providers = store.ca_providers().await.unwrap();
    let admin = store.account_by_username("boss").await.unwrap().unwrap();
    // 2026-11-01 00:00 Beijing, then one order a day: 25 of ours, alternating providers and
    // statuses, and one of another organisation.
    let first_day = 1_793_462_400;
    let create = |n: i64, org: i64, provider: i64, status: &'static str| {
        let order_no = format!("202611{:02}1000000{:05}", n + 1, n);
        async move {
            store
                .create_application_order_in_status(
                    status,
                    &certdesk_store::NewOrder {
                        order_no: &order_no,
                        org_id: org,
                        kind: certdesk_domain::BusinessType::NewCertificate,
                        amount_fen: 39_900,
                        created_by: admin.id,
                        on_behalf: false,
                        created_at: first_day + n * 86_400,
                    },
                    &certdesk_store::NewApplication {
                        provider_id: provider,
                        product_id: 1,
                        years: 1,
                        voucher_code: None,
                        delivery_method: "mail",
                        form_json: "{}",
                    },
                )
                .await
                .unwrap();
            order_no
        }
    };
    let mut ours = Vec::new();
    for n in 0..25 {
        let provider = providers[(n % 2) as usize].id;
        let status = if n % 5 == 0 {
            "completed"
        } else {
            "awaiting_initial_review"
        };
        ours.push(create(n, org_id, provider, status).await);
    }
    let theirs = create(99, other_org, providers[0].id, "completed").await;
    let app = &server.router;

    // Newest first, 20 a page; the other organisation's order is never listed for the supplier.
    let (status, first) = page(app, "/orders", &supplier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first.matches("查看</a>").count(), 20, "{first}");
    assert!(first.contains(&ours[24]) && !first.contains(&ours[4]));
    assert!(first.contains("下一页") && !first.contains("上一页"));
    assert!(!first.contains(&theirs));
    let (_, second) = page(app, "/orders?page=2", &supplier).await;
    assert_eq!(second.matches("查看</a>").count(), 5);
    assert!(second.contains(&ours[0]) && second.contains("上一页") && !second.contains("下一页"));
    // A page far beyond the end (even i64::MAX) is an empty page, not an overflow.
    let (status, beyond) = page(app, &format!("/orders?page={}", i64::MAX), &supplier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(beyond.matches("查看</a>").count(), 0);
    let (status, api_beyond) = call(
        app,
        "GET",
        &format!("/api/v1/orders?page={}", i64::MAX),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{api_beyond}");

    // By number, status, provider and creation dates (Beijing days, both ends included).
    let (_, by_number) = page(app, &format!("/orders?order_no={}", ours[7]), &supplier).await;
    assert_eq!(by_number.matches("查看</a>").count(), 1);
    let (_, completed) = page(app, "/orders?status=completed", &supplier).await;
    assert_eq!(completed.matches("查看</a>").count(), 5);
    let (_, by_provider) = page(
        app,
        &format!("/orders?provider={}", providers[1].id),
        &supplier,
    )
    .await;
    assert_eq!(by_provider.matches("查看</a>").count(), 12);
    let (_, by_days) = page(app, "/orders?from=2026-11-03&to=2026-11-05", &supplier).await;
    assert_eq!(by_days.matches("查看</a>").count(), 3, "{by_days}");
    for n in [2, 3, 4] {
        assert!(by_days.contains(&ours[n]));
    }
    let (_, by_type) = page(app, "/orders?kind=renewal", &supplier).await;
    assert_eq!(by_type.matches("查看</a>").count(), 0);
    let (_, bad_date) = page(app, "/orders?from=11/03", &supplier).await;
    assert!(bad_date.contains("开始日期应为日期"), "{bad_date}");

    // Staff see every organisation's.
    let (_, all) = page(app, "/orders?status=completed", &operator).await;
    assert_eq!(all.matches("查看</a>").count(), 6);
    assert!(all.contains(&theirs));
}

#[tokio::test]
async fn only_one_application_at_a_time_takes_the_first_certificate_free() {
    let server = test_server().await;
    let app = &server.router;
    let store = &server.store;
    let (_, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let sm2_dual = default_product(&server, &supplier, "SM2 双证书 UKey").await;
    let mut drafts = Vec::new();
    for _ in 0..3 {
        let (status, draft) = call(
            app,
            "POST",
            "/api/v1/applications",
            Some(&supplier),
            Some(json!({"product_id": sm2_dual, "years": 1, "form": valid_form()})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        assert_eq!(
            draft["order"]["amount"], "0.00",
            "every draft shows 首张免费"
        );
        let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
        upload_all_documents(app, &supplier, &order_no).await;
        common::pass_identity_check(&server, &supplier, &order_no).await;
        drafts.push(order_no);
    }
    let token = supplier.as_str();
    let submit = |order_no: &str| {
        let uri = format!("/api/v1/applications/{order_no}/submit");
        async move { call(app, "POST", &uri, Some(token), None).await }
    };
    let (_, first) = submit(&drafts[0]).await;
    assert_eq!(first["amount"], "0.00", "{first}");
    let (_, second) = submit(&drafts[1]).await;
    assert_eq!(
        second["amount"], "200.00",
        "the first one is on its way: this is a second certificate (子证书): {second}"
    );
    // Once the free one is withdrawn, the next application is free again.
    let (status, body) = call(
        app,
        "POST",
        &format!("/api/v1/orders/{}/withdraw", drafts[0]),
        Some(&supplier),
        Some(json!({"reason": "重复申请"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, third) = submit(&drafts[2]).await;
    assert_eq!(third["amount"], "0.00", "{third}");
}

#[tokio::test]
async fn the_face_check_takes_a_photo_from_the_application_page() {
    let server = test_server().await;
    let app = &server.router;
    let (_, supplier) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let product = common::paid_sm2_dual_product(&server).await;
    let (_, draft) = call(
        app,
        "POST",
        "/api/v1/applications",
        Some(&supplier),
        Some(json!({"product_id": product, "years": 1, "form": valid_form()})),
    )
    .await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let post_photo = |name: &'static str, bytes: Vec<u8>| {
        let boundary = "certdesk-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Request::post(format!("/orders/{order_no}/identity-photo"))
            .header("authorization", format!("Bearer {supplier}"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    };
    // Back to the form's identity section; what happened is the session's one-time notice,
    // never text in the address.
    let location = |response: axum::response::Response| {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let raw = response.headers()["location"].to_str().unwrap().to_string();
        assert!(!raw.contains('?'), "{raw}");
        raw
    };
    // Not a photo: refused with the reason, and the check is not passed.
    let elf = std::fs::read("/usr/bin/true").unwrap();
    let said = location(
        app.clone()
            .oneshot(post_photo("me.jpg", elf))
            .await
            .unwrap(),
    );
    assert_eq!(said, format!("/orders/{order_no}/edit#identity"));
    let (_, view) = call(
        app,
        "GET",
        &format!("/api/v1/orders/{order_no}/identity"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(view["passed"], false, "{view}");
    // A real photo of the legal representative: the sandbox's face match passes.
    let said = location(
        app.clone()
            .oneshot(post_photo("me.png", common::png(3)))
            .await
            .unwrap(),
    );
    assert_eq!(said, format!("/orders/{order_no}/edit#identity"));
    // Text put in the address is not shown as a notice.
    let (status, html) = page(
        app,
        &format!("/orders/{order_no}/edit?identity=%E4%BC%AA%E9%80%A0&upload_error=FORGED"),
        &supplier,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("伪造") && !html.contains("FORGED"));
    let (status, html) = page(
        app,
        &format!("/orders/{order_no}?done=%E4%BC%AA%E9%80%A0&error=FORGED"),
        &supplier,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("伪造") && !html.contains("FORGED"));
    let (_, view) = call(
        app,
        "GET",
        &format!("/api/v1/orders/{order_no}/identity"),
        Some(&supplier),
        None,
    )
    .await;
    assert_eq!(view["passed"], true, "{view}");
}

#[tokio::test]
async fn a_key_for_pickup_is_not_shipped_and_is_collected_at_the_counter() {
    let server = test_server().await;
    let app = &server.router;
    let store = &server.store;
    let (org_id, supplier) =
        organisation_with_admin(store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let operator = staff_token(store, "operator", Role::PlatformOperator).await;
    let admin = store.account_by_username("boss").await.unwrap().unwrap();
    let order = store
        .create_application_order_in_status(
            "issued",
            &certdesk_store::NewOrder {
                order_no: "20261123100000000555",
                org_id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 39_900,
                created_by: admin.id,
                on_behalf: false,
                created_at: 0,
            },
            &certdesk_store::NewApplication {
                provider_id: store.ca_providers().await.unwrap()[0].id,
                product_id: 1,
                years: 1,
                voucher_code: None,
                delivery_method: "pickup",
                form_json: "{}",
            },
        )
        .await
        .unwrap();
    let uri = |action: &str| format!("/api/v1/orders/{}/{action}", order.order_no);
    // Picked up at the counter: shipping is refused and changes nothing.
    let (status, body) = call(
        app,
        "POST",
        &uri("ship"),
        Some(&operator),
        Some(json!({"courier": "顺丰速运", "tracking_no": "SF1234567890"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("现场领取"),
        "{body}"
    );
    assert!(store.delivery(order.id).await.unwrap().is_none());
    // The supplier cannot call it ready; the operator does.
    let (status, _) = call(app, "POST", &uri("ready-for-pickup"), Some(&supplier), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(app, "POST", &uri("ready-for-pickup"), Some(&operator), None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("awaiting_pickup")),
        "{body}"
    );
    // Handed over at the counter: the operator confirms receipt for the supplier (代办).
    let (status, body) = call(app, "POST", &uri("confirm-receipt"), Some(&operator), None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("completed")),
        "{body}"
    );
    let events = store.order_events(order.id).await.unwrap();
    assert_eq!(
        events.last().map(|e| e.actor_label.as_str()),
        Some("operator（操作员代办）")
    );
    assert!(store
        .delivery(order.id)
        .await
        .unwrap()
        .unwrap()
        .received_at
        .is_some());
}

/// Six uploads of one document arriving together: one is kept, and the files of the five it
/// replaced are gone (none is left in the blob store with nothing referring to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_of_one_document_at_once_leave_no_file_behind() {
    let server = test_server().await;
    let (_, supplier) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let product = common::paid_sm2_dual_product(&server).await;
    let (status, draft) = call(
        &server.router,
        "POST",
        "/api/v1/applications",
        Some(&supplier),
        Some(json!({"product_id": product, "years": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let blob_dir = server.state.blobs.root().to_path_buf();
    let before = files_in(&blob_dir);
    let uploads: Vec<_> = (0..6u8)
        .map(|n| {
            let (app, token, no) = (server.router.clone(), supplier.clone(), order_no.clone());
            tokio::spawn(async move {
                upload(
                    &app,
                    &token,
                    &no,
                    "business_licence",
                    "scan.png",
                    common::png(100 + n),
                )
                .await
            })
        })
        .collect();
    for upload in uploads {
        let (status, body) = upload.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(files_in(&blob_dir), before + 1, "one file, the one kept");
}
