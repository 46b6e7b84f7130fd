//! 补办 through the API: a lost key replaced with its SM2 encryption key restored (a bid sealed
//! by OpenSSL to the old encryption certificate opens with the new key) and the old
//! certificates revoked as keyCompromise once the new ones are issued; a damaged key replaced
//! without restore (a new encryption key, the old certificates superseded); every path
//! (submit, pay, reject and resubmit, approve, issue, ship, receive, withdraw and refund) and the
//! refusals.

mod common;

use axum::http::StatusCode;
use certdesk_domain::Role;
use certdesk_pki::{open_skf_envelope, Algorithm, Signer, SoftwareKey};
use common::held::{csr_of, held_key, setup, HeldKey, Setup, DAY};
use common::{call, organisation_with_admin, pay, refunded, staff_token};
use serde_json::{json, Value};
use std::process::Command;

fn mail() -> Value {
    json!({"method": "mail", "recipient": "李四", "phone": "13900139000", "address": "福建省福州市鼓楼区五四路100号"})
}

async fn post(s: &Setup, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    call(&s.server.router, "POST", uri, Some(token), Some(body)).await
}

/// From 草稿 to 制证中: submitted, paid, rejected once and resubmitted, approved.
async fn to_issuing(s: &Setup, officer: &str, order_no: &str) {
    let submit = format!("/api/v1/replacements/{order_no}/submit");
    let (status, submitted) = post(s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["order"]["status"], "awaiting_payment");
    pay(&s.server.router, order_no, 39_900).await;
    let review = format!("/api/v1/orders/{order_no}/review");
    let (status, rejected) = post(
        s,
        officer,
        &review,
        json!({"decision": "reject", "reason": "请核对收件地址"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (status, resubmitted) = post(s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{resubmitted}");
    assert_eq!(resubmitted["order"]["status"], "awaiting_second_review");
    let (status, approved) = post(s, officer, &review, json!({"decision": "approve"})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "issuing");
}

fn sealed_bid(dir: &std::path::Path, held: &HeldKey) -> Vec<u8> {
    std::fs::write(dir.join("enc.pem"), &held.encryption_pem).unwrap();
    std::fs::write(dir.join("bid.txt"), "去年的投标文件").unwrap();
    for args in [
        vec![
            "x509", "-in", "enc.pem", "-pubkey", "-noout", "-out", "enc.pub",
        ],
        vec![
            "pkeyutl", "-encrypt", "-pubin", "-inkey", "enc.pub", "-in", "bid.txt", "-out",
            "bid.sm2",
        ],
    ] {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(&args)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::read(dir.join("bid.sm2")).unwrap()
}

fn certificate(pem: &Value) -> certdesk_pki::x509_cert::Certificate {
    certdesk_pki::certificate_from_der_or_pem(pem.as_str().unwrap().as_bytes()).unwrap()
}

#[tokio::test]
async fn a_lost_key_is_replaced_with_its_encryption_key_restored_and_revoked_as_compromised() {
    let s = setup().await;
    let held = held_key(&s, 200).await;
    let officer = staff_token(&s.server.store, "replace_officer", Role::CaOfficer).await;
    let operator = staff_token(&s.server.store, "replace_operator", Role::PlatformOperator).await;
    let dir = tempfile::tempdir().unwrap();
    let bid = sealed_bid(dir.path(), &held);

    let body = json!({"key_serial": held.serial, "reason": "lost", "restore_encryption_key": true, "delivery": mail()});
    let (status, draft) = post(&s, &s.admin, "/api/v1/replacements", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["kind_label"], "补办");
    assert_eq!(draft["order"]["amount"], "399.00");
    assert!(draft["encryption_note"]
        .as_str()
        .unwrap()
        .contains("仍可解密"));
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    // One open 补办 per key.
    let (status, again) = post(&s, &s.admin, "/api/v1/replacements", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "already_replacing");

    to_issuing(&s, &officer, &order_no).await;
    // The old key still works until the new one is issued.
    let old = s.server.ca.certificate_record(&held.serial).await.unwrap();
    assert_eq!(old.revoked_at, None);

    // The new key is made: a new signing key pair, the old encryption key pair restored.
    let new_key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let (status, issued) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/csr"),
        json!({"csr": csr_of(&new_key)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!(issued["order"]["status"], "issued");
    let signing = certificate(&issued["signing_certificate"]);
    let encryption = certificate(&issued["encryption_certificate"]);
    let old_encryption =
        certdesk_pki::certificate_from_der_or_pem(held.encryption_pem.as_bytes()).unwrap();
    assert_eq!(
        signing.tbs_certificate().subject_public_key_info(),
        new_key.public_key_spki()
    );
    assert_eq!(
        encryption.tbs_certificate().subject_public_key_info(),
        old_encryption.tbs_certificate().subject_public_key_info()
    );
    use base64::Engine as _;
    let skf = base64::engine::general_purpose::STANDARD
        .decode(issued["envelope_skf"].as_str().unwrap())
        .unwrap();
    let restored = open_skf_envelope(&skf, &new_key).unwrap();
    assert_eq!(
        String::from_utf8(restored.sm2_decrypt(&bid).unwrap().to_vec()).unwrap(),
        "去年的投标文件"
    );
    // The new certificates end with the old ones (补办 does not extend).
    let end = |c: &certdesk_pki::x509_cert::Certificate| {
        i64::try_from(
            c.tbs_certificate()
                .validity()
                .not_after
                .to_unix_duration()
                .as_secs(),
        )
        .unwrap()
    };
    assert!(
        (end(&signing) - old.not_after).abs() <= DAY,
        "ends with the old"
    );

    // The old certificates are revoked as compromised, with the issuance.
    for serial in s
        .server
        .store
        .key_certificate_serials(old.id)
        .await
        .unwrap()
    {
        let record = s.server.ca.certificate_record(&serial).await.unwrap();
        assert_eq!(
            record.revocation_reason.as_deref(),
            Some("keyCompromise"),
            "{serial}"
        );
    }
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/replacements/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    assert!(view["replaced_at"].is_string(), "{view}");
    assert_eq!(
        certdesk_server::issuance::revoke_replaced(&s.server.state)
            .await
            .unwrap(),
        0,
        "nothing left to revoke"
    );

    // Shipped and received as a 新办 is.
    let (status, shipped) = post(
        &s,
        &operator,
        &format!("/api/v1/orders/{order_no}/ship"),
        json!({"courier": "顺丰速运", "tracking_no": "SF0000000001"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let (status, received) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/confirm-receipt"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{received}");
    assert_eq!(received["status"], "completed");
    // The new key is the organisation's: it may be renewed and replaced in its turn.
    let held_now = s.server.store.org_certificates(s.org_id).await.unwrap();
    let serial = held_now
        .iter()
        .find(|c| c.revoked_at.is_none() && c.profile == "sign")
        .unwrap();
    assert_eq!(
        hex::encode(signing.tbs_certificate().serial_number().as_bytes()),
        serial.serial_hex
    );
}

#[tokio::test]
async fn a_damaged_key_gets_a_new_encryption_key_and_the_old_is_superseded() {
    let s = setup().await;
    let held = held_key(&s, 200).await;
    let officer = staff_token(&s.server.store, "damaged_officer", Role::CaOfficer).await;
    let (status, draft) = post(
        &s,
        &s.admin,
        "/api/v1/replacements",
        json!({"key_serial": held.serial.to_uppercase(), "reason": "damaged", "delivery": {"method": "pickup"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert!(draft["encryption_note"]
        .as_str()
        .unwrap()
        .contains("需重新加密"));
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    to_issuing(&s, &officer, &order_no).await;
    let new_key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let (status, issued) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/csr"),
        json!({"csr": csr_of(&new_key)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let old_encryption =
        certdesk_pki::certificate_from_der_or_pem(held.encryption_pem.as_bytes()).unwrap();
    assert_ne!(
        certificate(&issued["encryption_certificate"])
            .tbs_certificate()
            .subject_public_key_info(),
        old_encryption.tbs_certificate().subject_public_key_info()
    );
    let old = s.server.ca.certificate_record(&held.serial).await.unwrap();
    assert_eq!(old.revocation_reason.as_deref(), Some("superseded"));
}

#[tokio::test]
async fn replacements_are_refused_with_the_reason_and_a_withdrawn_one_is_refunded() {
    let s = setup().await;
    let held = held_key(&s, 200).await;
    for (body, status, code) in [
        (
            json!({"key_serial": held.serial, "reason": "stolen", "delivery": mail()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reason",
        ),
        (
            json!({"key_serial": held.serial, "reason": "lost", "delivery": {"method": "mail", "recipient": "李四"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_delivery",
        ),
        (
            json!({"key_serial": "00ff", "reason": "lost", "delivery": mail()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_key",
        ),
    ] {
        let (got, refused) = post(&s, &s.admin, "/api/v1/replacements", body.clone()).await;
        assert_eq!(got, status, "{body} {refused}");
        assert_eq!(refused["error"]["code"], code, "{body}");
    }
    // Another organisation cannot replace this one's key, nor learn that it exists.
    let (_, other) = organisation_with_admin(
        &s.server.store,
        "另一家单位",
        "91110108MA01W4JK85",
        "other_replacer",
    )
    .await;
    let (status, refused) = call(
        &s.server.router,
        "POST",
        "/api/v1/replacements",
        Some(&other),
        Some(json!({"key_serial": held.serial, "reason": "lost", "delivery": mail()})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "unknown_key");

    // Paid, then withdrawn before review: refunded through the gateway.
    let (_, draft) = post(
        &s,
        &s.admin,
        "/api/v1/replacements",
        json!({"key_serial": held.serial, "reason": "lost", "delivery": mail()}),
    )
    .await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    post(
        &s,
        &s.admin,
        &format!("/api/v1/replacements/{order_no}/submit"),
        json!({}),
    )
    .await;
    pay(&s.server.router, &order_no, 39_900).await;
    let (status, withdrawn) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/withdraw"),
        json!({"reason": "钥匙找到了"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["status"], "refunding");
    refunded(&s.server.router, &order_no, 39_900).await;
    let order = s
        .server
        .store
        .order_by_no(&order_no)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status.as_str(), "refunded");
    // The key was never touched.
    let old = s.server.ca.certificate_record(&held.serial).await.unwrap();
    assert_eq!(old.revoked_at, None);
}

/// Six 补办 asked for one key at the same instant: one order.
#[tokio::test]
async fn a_key_is_in_one_open_replacement_even_when_asked_for_at_the_same_instant() {
    let s = setup().await;
    let held = held_key(&s, 200).await;
    let body =
        json!({"key_serial": held.serial, "reason": "damaged", "delivery": {"method": "pickup"}});
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let (router, token, body) = (s.server.router.clone(), s.admin.clone(), body.clone());
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    "/api/v1/replacements",
                    Some(&token),
                    Some(body),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "already_replacing"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(created, 1);
}
