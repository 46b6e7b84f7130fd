//! 吊销 on request through the API: the legal representative confirms by SMS, a CA officer
//! reviews (reject with a reason, resubmit, approve), a compromised key is revoked at once, a
//! draft is withdrawn; OpenSSL, as the relying party, reads the CRL and asks the OCSP responder.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use certdesk_ca::{IssueRequest, LeafProfile};
use certdesk_domain::Role;
use certdesk_pki::x509_cert::name::Name;
use certdesk_pki::{make_csr, Algorithm, SoftwareKey};
use certdesk_store::testing::hold_certificate;
use common::{
    call, organisation_with_admin, pass_identity_check, staff_token, test_server, TestServer,
};
use http_body_util::BodyExt;
use serde_json::json;
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use tower::ServiceExt;

const CREDIT_CODE: &str = "91350100M000100Y43";

/// A P-256 certificate the CA issues for the organisation, held by it: (serial, PEM).
async fn held_certificate(server: &TestServer, org_id: i64, admin_id: i64) -> (String, String) {
    let key = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let csr = make_csr(&key, Name::from_str("CN=ukey").unwrap()).unwrap();
    let issued = server
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
    hold_certificate(
        &server.store,
        org_id,
        admin_id,
        issued.record.id,
        &issued.record.serial_hex,
    )
    .await;
    (issued.record.serial_hex, issued.pem)
}

fn request(serial: &str, reason: &str) -> serde_json::Value {
    json!({
        "key_serial": serial,
        "reason": reason,
        "note": "",
        "legal_rep_name": "张三",
        "legal_rep_id_number": "11010519491231002X",
        "legal_rep_mobile": "13800138000"
    })
}

async fn get_bytes(server: &TestServer, uri: &str) -> Vec<u8> {
    let response = server
        .router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What OpenSSL's OCSP client reads from our responder about `leaf_pem`.
async fn ocsp_status(server: &TestServer, dir: &std::path::Path, leaf_pem: &str) -> String {
    let issuer_der = get_bytes(server, "/ca/p256.cer").await;
    std::fs::write(dir.join("issuer.der"), issuer_der).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf_pem).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        &path("issuer.der"),
        "-out",
        &path("issuer.pem"),
    ]);
    openssl(&[
        "ocsp",
        "-issuer",
        &path("issuer.pem"),
        "-cert",
        &path("leaf.pem"),
        "-no_nonce",
        "-reqout",
        &path("req.der"),
    ]);
    let response = server
        .router
        .clone()
        .oneshot(
            Request::post("/ocsp")
                .header("content-type", "application/ocsp-request")
                .body(Body::from(std::fs::read(dir.join("req.der")).unwrap()))
                .unwrap(),
        )
        .await
        .unwrap();
    let der = response.into_body().collect().await.unwrap().to_bytes();
    std::fs::write(dir.join("resp.der"), der).unwrap();
    openssl(&[
        "ocsp",
        "-respin",
        &path("resp.der"),
        "-issuer",
        &path("issuer.pem"),
        "-cert",
        &path("leaf.pem"),
        "-no_nonce",
        "-noverify",
        "-resp_text",
    ])
}

#[tokio::test]
async fn a_revocation_is_confirmed_reviewed_and_published() {
    let server = test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (org_a, admin) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let officer = staff_token(&server.store, "officer", Role::CaOfficer).await;
    let operator = staff_token(&server.store, "operator", Role::PlatformOperator).await;
    let boss = server
        .store
        .account_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let (serial, pem) = held_certificate(&server, org_a, boss.id).await;
    assert!(ocsp_status(&server, dir.path(), &pem)
        .await
        .contains("leaf.pem: good"));

    let (status, body) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&admin),
        Some(request(&serial, "certificateHold")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_reason")),
        "{body}"
    );
    let (status, draft) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&admin),
        Some(request(&serial, "superseded")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let submit = format!("/api/v1/revocations/{order_no}/submit");
    let (status, body) = call(&server.router, "POST", &submit, Some(&admin), None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("not_confirmed")),
        "{body}"
    );
    pass_identity_check(&server, &admin, &order_no).await;
    let (status, body) = call(&server.router, "POST", &submit, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["status"], "awaiting_second_review");

    // Revoking is the CA's: the operator may not approve; the officer rejects, then approves.
    let review = format!("/api/v1/orders/{order_no}/review");
    let (status, _) = call(
        &server.router,
        "POST",
        &review,
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::CONFLICT,
        "{status}"
    );
    let (status, body) = call(
        &server.router,
        "POST",
        &review,
        Some(&officer),
        Some(json!({"decision": "reject", "reason": "请说明替换后的新证书"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        ocsp_status(&server, dir.path(), &pem)
            .await
            .contains("leaf.pem: good"),
        "a rejected request revokes nothing"
    );
    let (status, body) = call(&server.router, "POST", &submit, Some(&admin), None).await;
    assert_eq!(
        (status, body["order"]["status"].clone()),
        (StatusCode::OK, json!("awaiting_second_review")),
        "{body}"
    );
    let (status, body) = call(
        &server.router,
        "POST",
        &review,
        Some(&officer),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, done) = call(
        &server.router,
        "GET",
        &format!("/api/v1/revocations/{order_no}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(done["order"]["status"], "completed", "{done}");
    assert!(done["revoked_at"].is_string(), "{done}");

    // The relying party sees it at once: OCSP and the CRL.
    let said = ocsp_status(&server, dir.path(), &pem).await;
    assert!(
        said.contains("leaf.pem: revoked") && said.contains("Reason: superseded"),
        "{said}"
    );
    std::fs::write(
        dir.path().join("crl.der"),
        get_bytes(&server, "/crl/p256.crl").await,
    )
    .unwrap();
    let crl = openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        dir.path().join("crl.der").to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(crl.to_uppercase().contains(&serial.to_uppercase()), "{crl}");
    // A revoked certificate cannot be asked for again.
    let (status, body) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&admin),
        Some(request(&serial, "superseded")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("already_revoked")),
        "{body}"
    );
}

#[tokio::test]
async fn a_compromised_key_is_revoked_at_once_and_a_draft_may_be_withdrawn() {
    let server = test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (org_a, admin) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let (_, other_admin) = organisation_with_admin(
        &server.store,
        "北京其他有限公司",
        "91110108MA01W4JK85",
        "other",
    )
    .await;
    let boss = server
        .store
        .account_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let (lost, lost_pem) = held_certificate(&server, org_a, boss.id).await;
    let (kept, kept_pem) = held_certificate(&server, org_a, boss.id).await;

    // Another organisation cannot name our key.
    let (status, body) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&other_admin),
        Some(request(&lost, "keyCompromise")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("unknown_key")),
        "{body}"
    );

    let (_, draft) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&admin),
        Some(request(&lost, "keyCompromise")),
    )
    .await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    pass_identity_check(&server, &admin, &order_no).await;
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/revocations/{order_no}/submit"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["order"]["status"], "completed",
        "no review for a compromised key: {body}"
    );
    let said = ocsp_status(&server, dir.path(), &lost_pem).await;
    assert!(
        said.contains("leaf.pem: revoked") && said.contains("Reason: keyCompromise"),
        "{said}"
    );

    let (_, draft) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&admin),
        Some(request(&kept, "cessationOfOperation")),
    )
    .await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/orders/{order_no}/withdraw"),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("withdrawn")),
        "{body}"
    );
    assert!(ocsp_status(&server, dir.path(), &kept_pem)
        .await
        .contains("leaf.pem: good"));
}

/// A certificate past its renewal window (3 months after expiry) is revoked by the job with
/// cessationOfOperation, once; within the window it is left for renewal.
#[tokio::test]
async fn certificates_past_their_renewal_window_are_revoked_once() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let server = test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (org_a, _) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let boss = server
        .store
        .account_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let (serial, pem) = held_certificate(&server, org_a, boss.id).await;
    let not_after = server
        .store
        .certificate_by_serial(&serial)
        .await
        .unwrap()
        .unwrap()
        .not_after;
    let clock = Arc::new(AtomicI64::new(not_after + 30 * 86_400));
    let state = server.state.clone().with_clock(clock.clone());
    // Expired a month ago: still renewable.
    assert_eq!(
        certdesk_server::revocations::revoke_lapsed(&state)
            .await
            .unwrap(),
        0
    );
    assert!(ocsp_status(&server, dir.path(), &pem)
        .await
        .contains("leaf.pem: good"));
    // A day past the window: revoked, recorded once. The first run was cut off after the CA
    // revoked (as a kill would leave it); the next runs, two at once, finish it once.
    clock.store(not_after + 93 * 86_400, Ordering::SeqCst);
    server
        .ca
        .revoke(&serial, certdesk_ca::CrlReason::CessationOfOperation)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        certdesk_server::revocations::revoke_lapsed(&state),
        certdesk_server::revocations::revoke_lapsed(&state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        certdesk_server::revocations::revoke_lapsed(&state)
            .await
            .unwrap(),
        0
    );
    let told = server.store.messages_of(boss.id, 10).await.unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].title, "CA证书已超过续费期限，已吊销");
    let said = ocsp_status(&server, dir.path(), &pem).await;
    assert!(
        said.contains("leaf.pem: revoked") && said.contains("Reason: cessationOfOperation"),
        "{said}"
    );
    let audited = server
        .store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "certificate_revoked" && e.detail.contains("续费期限"))
        .count();
    assert_eq!(audited, 1);
}

/// What a process killed between the CA's revocation and the step's record leaves: the
/// certificate revoked, the order still waiting. Approving again finishes it (the CA keeps the
/// first revocation), and nothing is revoked twice.
#[tokio::test]
async fn a_revocation_cut_off_after_the_ca_revoked_is_finished_by_approving_again() {
    let server = test_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (org_a, admin) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let officer = staff_token(&server.store, "officer", Role::CaOfficer).await;
    let boss = server
        .store
        .account_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let (serial, pem) = held_certificate(&server, org_a, boss.id).await;
    let (_, draft) = call(
        &server.router,
        "POST",
        "/api/v1/revocations",
        Some(&admin),
        Some(request(&serial, "cessationOfOperation")),
    )
    .await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    pass_identity_check(&server, &admin, &order_no).await;
    call(
        &server.router,
        "POST",
        &format!("/api/v1/revocations/{order_no}/submit"),
        Some(&admin),
        None,
    )
    .await;
    // The CA revoked; the process died before the step was written.
    let first = server
        .ca
        .revoke(&serial, certdesk_ca::CrlReason::CessationOfOperation)
        .await
        .unwrap();
    let (_, waiting) = call(
        &server.router,
        "GET",
        &format!("/api/v1/revocations/{order_no}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(waiting["order"]["status"], "awaiting_second_review");
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/orders/{order_no}/review"),
        Some(&officer),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let record = server
        .store
        .certificate_by_serial(&serial)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.revoked_at, first.revoked_at,
        "the first revocation stands"
    );
    let said = ocsp_status(&server, dir.path(), &pem).await;
    assert!(said.contains("leaf.pem: revoked"), "{said}");
    let (_, done) = call(
        &server.router,
        "GET",
        &format!("/api/v1/revocations/{order_no}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(done["order"]["status"], "completed", "{done}");
}

/// A lost key's revocation submitted from several tabs at once, and a reviewed one approved by
/// several officers at once: each order completes once, and the rest are told it moved on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_submitted_or_approved_at_once_completes_once() {
    let server = test_server().await;
    let (org_a, admin) =
        organisation_with_admin(&server.store, "福州测试科技有限公司", CREDIT_CODE, "boss").await;
    let officer = staff_token(&server.store, "officer", Role::CaOfficer).await;
    let boss = server
        .store
        .account_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    let mut orders = Vec::new();
    for reason in ["keyCompromise", "superseded"] {
        let (serial, _) = held_certificate(&server, org_a, boss.id).await;
        let (_, draft) = call(
            &server.router,
            "POST",
            "/api/v1/revocations",
            Some(&admin),
            Some(request(&serial, reason)),
        )
        .await;
        let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
        pass_identity_check(&server, &admin, &order_no).await;
        orders.push(order_no);
    }
    let at_once = |uri: String, token: String, body: Option<serde_json::Value>| {
        let router = server.router.clone();
        (0..6)
            .map(|_| {
                let (router, uri, token, body) =
                    (router.clone(), uri.clone(), token.clone(), body.clone());
                tokio::spawn(async move { call(&router, "POST", &uri, Some(&token), body).await })
            })
            .collect::<Vec<_>>()
    };
    // Six submits of the lost key's revocation.
    let mut statuses = Vec::new();
    for task in at_once(
        format!("/api/v1/revocations/{}/submit", orders[0]),
        admin.clone(),
        None,
    ) {
        let (status, body) = task.await.unwrap();
        assert_ne!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    // Six officers approve the other at once.
    let (status, _) = call(
        &server.router,
        "POST",
        &format!("/api/v1/revocations/{}/submit", orders[1]),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut statuses = Vec::new();
    for task in at_once(
        format!("/api/v1/orders/{}/review", orders[1]),
        officer.clone(),
        Some(json!({"decision": "approve"})),
    ) {
        let (status, body) = task.await.unwrap();
        assert_ne!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    // Each order moved to 已完成 once in its history.
    for order_no in &orders {
        let order = server.store.order_by_no(order_no).await.unwrap().unwrap();
        let completed = server
            .store
            .order_events(order.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.to_status == certdesk_domain::OrderStatus::Completed)
            .count();
        assert_eq!(completed, 1, "{order_no}");
    }
}
