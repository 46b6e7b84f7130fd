//! 制证 through the API as the CA's station page uses it: only CA officers; bad input changes
//! nothing; of keys offered at the same instant one becomes the order's; a repeat (a request
//! that died after the CA signed) gives the same certificates; the envelope opens with the
//! key's signing key; the SO PIN is kept sealed and answers a 解锁授权码 only for the key the
//! CA made here, sealed to the agent's one-time key — and a key made elsewhere leaves the code
//! unused.

mod common;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use certdesk_domain::{BusinessType, Role};
use certdesk_pki::der::{Decode, Encode};
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{make_csr, open_skf_envelope, Algorithm, Signer, SoftwareKey};
use certdesk_store::{NewApplication, NewOrder};
use common::held::{held_key, setup, Setup};
use common::{call, pass_identity_check, staff_token};
use serde_json::{json, Value};
use std::str::FromStr;

async fn post(s: &Setup, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    call(&s.server.router, "POST", uri, Some(token), Some(body)).await
}

/// A 新办 order of the SM2 dual product waiting in 制证中.
async fn order_in_issuing(s: &Setup, order_no: &str) -> i64 {
    order_in_status(s, "issuing", order_no).await
}

/// A 新办 order of the SM2 dual product in `status` (its stored name).
async fn order_in_status(s: &Setup, status: &str, order_no: &str) -> i64 {
    let provider_id = s.server.store.ca_providers().await.unwrap()[0].id;
    s.server
        .store
        .create_application_order_in_status(
            status,
            &NewOrder {
                order_no,
                org_id: s.org_id,
                kind: BusinessType::NewCertificate,
                amount_fen: 39_900,
                created_by: s.admin_id,
                on_behalf: false,
                created_at: 0,
            },
            &NewApplication {
                provider_id,
                product_id: s.product_id,
                years: 1,
                voucher_code: None,
                delivery_method: "mail",
                form_json: "{}",
            },
        )
        .await
        .unwrap()
        .id
}

/// The order's 制证 record, if any.
async fn recorded(s: &Setup, order_id: i64) -> Option<certdesk_store::KeyProduction> {
    s.server.store.key_production(order_id).await.unwrap()
}

/// A UKey's SM2 signing key and its request (DER, base64), as the agent sends it.
fn ukey() -> (SoftwareKey, String) {
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let csr = make_csr(&key, Name::from_str("CN=SW0001").unwrap()).unwrap();
    (key, B64.encode(csr))
}

/// The agent's one-time SM2 key and its public half (DER SPKI, base64).
fn transport_key() -> (SoftwareKey, String) {
    let key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let spki = B64.encode(key.public_key_spki().to_der().unwrap());
    (key, spki)
}

fn opened(key: &SoftwareKey, sealed: &Value) -> String {
    let bytes = key
        .sm2_decrypt(&B64.decode(sealed.as_str().unwrap()).unwrap())
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ca_makes_a_key_once_and_keeps_its_so_pin_for_the_unlock_code() {
    let s = setup().await;
    let officer = staff_token(&s.server.store, "prod_officer", Role::CaOfficer).await;
    let operator = staff_token(&s.server.store, "prod_operator", Role::PlatformOperator).await;
    let order_no = "2026120800000000001";
    let order_id = order_in_issuing(&s, order_no).await;
    let uri = format!("/api/v1/orders/{order_no}/production");
    let (signing_key, csr) = ukey();
    let (transport, challenge) = transport_key();

    // Only the CA's officers make keys: not the supplier (its admin), not the operator.
    for token in [&s.admin, &operator] {
        let (status, body) = post(
            &s,
            token,
            &uri,
            json!({"key_serial": "SW0001", "csr": csr, "challenge": challenge}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    // Bad input is named and records nothing.
    for (body, code) in [
        (
            json!({"key_serial": "锁 1", "csr": csr, "challenge": challenge}),
            "invalid_key_serial",
        ),
        (
            json!({"key_serial": "SW0001", "csr": "not base64!", "challenge": challenge}),
            "malformed",
        ),
        (
            json!({"key_serial": "SW0001", "csr": B64.encode(b"not a request"), "challenge": challenge}),
            "malformed",
        ),
        (
            json!({"key_serial": "SW0001", "csr": csr, "challenge": B64.encode(b"junk")}),
            "malformed",
        ),
    ] {
        let (status, answer) = post(&s, &officer, &uri, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    assert!(recorded(&s, order_id).await.is_none());

    // Six keys offered at the same instant: one becomes the order's, the others are told which.
    let mut tries = Vec::new();
    for i in 0..6 {
        let router = s.server.router.clone();
        let officer = officer.clone();
        let uri = uri.clone();
        let body = json!({"key_serial": format!("SW10{i}"), "csr": csr, "challenge": challenge});
        tries.push(tokio::spawn(async move {
            call(&router, "POST", &uri, Some(&officer), Some(body)).await
        }));
    }
    let mut made = Vec::new();
    for t in tries {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => made.push(body),
            StatusCode::CONFLICT => assert!(body["error"]["code"] == "other_key", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    let production = recorded(&s, order_id).await.unwrap();
    assert_eq!(made.len(), 1, "one key made: {made:?}");
    let key_serial = production.key_serial.clone();
    // The order's key again (as after a request that died once the CA had signed): the same
    // certificates, and the order has moved to 已发证 once.
    let (status, first) = post(
        &s,
        &officer,
        &uri,
        json!({"key_serial": key_serial, "csr": csr, "challenge": challenge}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["order"]["status"], "issued");
    if let Some(earlier) = made.first() {
        assert_eq!(earlier["signing_certificate"], first["signing_certificate"]);
    }
    let (_, again) = post(
        &s,
        &officer,
        &uri,
        json!({"key_serial": key_serial, "csr": csr, "challenge": challenge}),
    )
    .await;
    assert_eq!(again["signing_certificate"], first["signing_certificate"]);
    let (status, other) = post(
        &s,
        &officer,
        &uri,
        json!({"key_serial": "SW9999", "csr": csr, "challenge": challenge}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");
    assert!(other["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&key_serial));

    // What the agent writes: the envelope opens with the key's signing key and holds the
    // encryption certificate's key; the SO PIN opens only with the agent's one-time key, and
    // is not kept in clear.
    let encryption = certdesk_pki::x509_cert::Certificate::from_der(
        &B64.decode(first["encryption_certificate"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let envelope = B64.decode(first["envelope_skf"].as_str().unwrap()).unwrap();
    let encryption_key = open_skf_envelope(&envelope, &signing_key).unwrap();
    assert_eq!(
        encryption_key.public_key_spki(),
        encryption.tbs_certificate().subject_public_key_info()
    );
    let so_pin = opened(&transport, &first["so_pin_sealed"]);
    assert_eq!(so_pin.len(), 16);
    let stored = production.so_pin_sealed.clone().unwrap();
    assert!(!stored.contains(&so_pin), "sealed at rest");
    assert!(certdesk_pki::PersonalDataKey::is_sealed(&stored));

    // Written: only for the order's key, once.
    let written = format!("{uri}/written");
    let (status, body) = post(&s, &officer, &written, json!({"key_serial": "SW9999"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = post(&s, &officer, &written, json!({"key_serial": key_serial})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let production = recorded(&s, order_id).await.unwrap();
    assert!(production.written_at.is_some());

    // 解锁授权码 for the key: the answer is the same SO PIN, sealed to a new one-time key.
    let signing = certdesk_pki::x509_cert::Certificate::from_der(
        &B64.decode(first["signing_certificate"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let serial = hex::encode(signing.tbs_certificate().serial_number().as_bytes());
    let code = unlock_code(&s, &operator, &serial).await;
    // A key the CA did not make here has no SO PIN to answer with: refused, the code unused.
    let elsewhere = held_key(&s, 200).await;
    let elsewhere_code = unlock_code(&s, &operator, &elsewhere.serial).await;
    let (_, fresh) = transport_key();
    let (status, body) = post(
        &s,
        &s.admin,
        "/api/v1/unlock-codes/use",
        json!({"key_serial": elsewhere.serial, "code": elsewhere_code, "challenge": fresh}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_made_here");
    let (status, body) = post(
        &s,
        &s.admin,
        "/api/v1/unlock-codes/use",
        json!({"key_serial": elsewhere.serial, "code": elsewhere_code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the code was not spent: {body}");
    assert_eq!(body["response"], Value::Null);

    let (holder_transport, holder_challenge) = transport_key();
    let (status, used) = post(
        &s,
        &s.admin,
        "/api/v1/unlock-codes/use",
        json!({"key_serial": serial.to_uppercase(), "code": code, "challenge": holder_challenge}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{used}");
    assert_eq!(opened(&holder_transport, &used["response"]), so_pin);
    assert!(
        B64.decode(used["response"].as_str().unwrap()).is_ok()
            && transport
                .sm2_decrypt(&B64.decode(used["response"].as_str().unwrap()).unwrap())
                .is_err(),
        "only the one-time key it was sealed to opens it"
    );
    let (status, body) = post(
        &s,
        &s.admin,
        "/api/v1/unlock-codes/use",
        json!({"key_serial": serial, "code": code, "challenge": holder_challenge}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "used once: {body}");
}

/// An approved unlock of the organisation's key `serial`: its 解锁授权码.
async fn unlock_code(s: &Setup, operator: &str, serial: &str) -> String {
    let (status, draft) = post(
        s,
        &s.admin,
        "/api/v1/unlocks",
        json!({
            "key_serial": serial.to_uppercase(),
            "holder_name": "张三",
            "holder_id_number": "11010519491231002X",
            "holder_mobile": "13800138000",
            "reason": "PIN码输错次数过多被锁定"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    pass_identity_check(&s.server, &s.admin, &order_no).await;
    let (status, body) = post(
        s,
        &s.admin,
        &format!("/api/v1/unlocks/{order_no}/submit"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        s,
        operator,
        &format!("/api/v1/orders/{order_no}/review"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/unlocks/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    view["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_order_not_in_issuing_is_not_made() {
    let s = setup().await;
    let officer = staff_token(&s.server.store, "prod_officer2", Role::CaOfficer).await;
    let order_id = order_in_status(&s, "awaiting_second_review", "2026120800000000002").await;
    let (_, csr) = ukey();
    let (status, body) = post(
        &s,
        &officer,
        "/api/v1/orders/2026120800000000002/production",
        json!({"key_serial": "SW0002", "csr": csr}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_issuing");
    assert!(recorded(&s, order_id).await.is_none());
    let (status, _) = post(
        &s,
        &officer,
        "/api/v1/orders/2026120899999999999/production",
        json!({"key_serial": "SW0002", "csr": csr}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
