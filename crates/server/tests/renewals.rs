//! 续费/延期 and 批量续费 through the API: every path of the renewal workflow (submit, pay,
//! reject with a reason and resubmit, approve, install, withdraw and refund), the window and
//! its dates, a lapsed certificate's identity check and licence, keys of one order renewed at
//! the same instant, and — with OpenSSL as the peer — a file encrypted to the encryption
//! certificate before the renewal still opening after it, and OCSP saying the old certificate
//! was superseded after the grace.

mod common;

use certdesk_domain::Role;
use certdesk_pki::{open_skf_envelope, Algorithm, Signer, SoftwareKey};
use common::held::{csr_of, held_key, setup, HeldKey, Setup, DAY};
use common::{call, organisation_with_admin, pass_identity_check, pay, refunded, staff_token};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;

async fn create(s: &Setup, body: Value) -> (StatusCode, Value) {
    call(
        &s.server.router,
        "POST",
        "/api/v1/renewals",
        Some(&s.admin),
        Some(body),
    )
    .await
}

async fn post(s: &Setup, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    call(&s.server.router, "POST", uri, Some(token), Some(body)).await
}

async fn at_once(
    attempts: Vec<tokio::task::JoinHandle<(StatusCode, Value)>>,
) -> Vec<(StatusCode, Value)> {
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap());
    }
    results
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn a_renewal_keeps_the_key_pairs_and_supersedes_the_old_certificates_after_the_grace() {
    let s = setup().await;
    let held = held_key(&s, 30).await;
    let officer = staff_token(&s.server.store, "renewal_officer", Role::CaOfficer).await;

    // A bid sealed last month with OpenSSL to the encryption certificate.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("enc.pem"), &held.encryption_pem).unwrap();
    std::fs::write(dir.path().join("bid.txt"), "投标文件的会话密钥 2026").unwrap();
    openssl(
        dir.path(),
        &[
            "x509", "-in", "enc.pem", "-pubkey", "-noout", "-out", "enc.pub",
        ],
    );
    openssl(
        dir.path(),
        &[
            "pkeyutl", "-encrypt", "-pubin", "-inkey", "enc.pub", "-in", "bid.txt", "-out",
            "bid.sm2",
        ],
    );

    // 生成, 提交: priced per year, to the cashier.
    let (status, draft) = create(
        &s,
        json!({"certificates": [held.serial.to_uppercase()], "years": 1, "bids_in_progress": true, "confirm_bids": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["status"], "draft");
    assert_eq!(draft["order"]["kind_label"], "续费");
    assert_eq!(draft["order"]["amount"], "399.00");
    assert_eq!(draft["bids_confirmed"], true);
    assert_eq!(draft["lapsed"], false);
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let (status, submitted) = post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["order"]["status"], "awaiting_payment");
    // Nothing is written to the key before payment and review.
    let install = format!("/api/v1/renewals/{order_no}/install");
    let body = json!({"key_serial": held.serial, "csr": csr_of(&held.key)});
    let (status, refused) = post(&s, &s.admin, &install, body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    pay(&s.server.router, &order_no, 39_900).await;
    let review = format!("/api/v1/orders/{order_no}/review");
    // 复审驳回 with the reason; the payment is kept and the supplier resubmits.
    let (status, rejected) = post(
        &s,
        &officer,
        &review,
        json!({"decision": "reject", "reason": "请核对续费单位名称"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (status, resubmitted) = post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resubmitted}");
    assert_eq!(resubmitted["order"]["status"], "awaiting_second_review");
    let (status, approved) = post(&s, &officer, &review, json!({"decision": "approve"})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "issuing");

    // Another key, or another key's serial, is not this order's.
    let stranger = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let (status, refused) = post(
        &s,
        &s.admin,
        &install,
        json!({"key_serial": held.serial, "csr": csr_of(&stranger)}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "different_key");
    let (status, refused) = post(
        &s,
        &s.admin,
        &install,
        json!({"key_serial": "0123456789abcdef", "csr": csr_of(&held.key)}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "key_not_in_order");

    // The key holder connects the key: same key pairs, a later end, the order completed.
    let (status, installed) = post(&s, &s.admin, &install, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{installed}");
    assert_eq!(installed["order"]["status"], "completed");
    let new_signing = certdesk_pki::certificate_from_der_or_pem(
        installed["signing_certificate"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let new_encryption = certdesk_pki::certificate_from_der_or_pem(
        installed["encryption_certificate"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let old_encryption =
        certdesk_pki::certificate_from_der_or_pem(held.encryption_pem.as_bytes()).unwrap();
    assert_eq!(
        new_signing.tbs_certificate().subject_public_key_info(),
        held.key.public_key_spki()
    );
    assert_eq!(
        new_encryption.tbs_certificate().subject_public_key_info(),
        old_encryption.tbs_certificate().subject_public_key_info()
    );
    let end = |c: &certdesk_pki::x509_cert::Certificate| {
        c.tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs()
    };
    // A year plus the 30 days that were left.
    assert!(end(&new_encryption) >= end(&old_encryption) + 365 * 86_400 - 60);
    // The key opens the envelope with its signing key, and last month's bid opens with the
    // key it receives; OpenSSL decrypts it too.
    use base64::Engine as _;
    let skf = base64::engine::general_purpose::STANDARD
        .decode(installed["envelope_skf"].as_str().unwrap())
        .unwrap();
    let delivered = open_skf_envelope(&skf, &held.key).unwrap();
    let sealed = std::fs::read(dir.path().join("bid.sm2")).unwrap();
    assert_eq!(
        String::from_utf8(delivered.sm2_decrypt(&sealed).unwrap().to_vec()).unwrap(),
        "投标文件的会话密钥 2026"
    );
    let pem = delivered.to_encrypted_pkcs8_pem("pw").unwrap();
    std::fs::write(dir.path().join("delivered.pem"), pem.as_bytes()).unwrap();
    let opened = openssl(
        dir.path(),
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            "delivered.pem",
            "-passin",
            "pass:pw",
            "-in",
            "bid.sm2",
        ],
    );
    assert_eq!(
        String::from_utf8(opened).unwrap(),
        "投标文件的会话密钥 2026"
    );

    // Installed once: again is refused, and the order shows the key done; the old certificate
    // is not offered for another renewal.
    let (status, again) = post(&s, &s.admin, &install, body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, again) = create(&s, json!({"certificates": [held.serial], "years": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "already_renewed");
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/renewals/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    assert_eq!(view["renewed"], 1);
    assert_eq!(view["certificates"][0]["status"], "已续费");

    // Within the grace the old certificate stays good; after it, it is superseded, once.
    let old = s.server.ca.certificate_record(&held.serial).await.unwrap();
    assert_eq!(old.revoked_at, None);
    assert_eq!(
        certdesk_server::renewals::supersede_renewed(&s.server.state, DAY)
            .await
            .unwrap(),
        0
    );
    s.clock.fetch_add(DAY + 1, Ordering::SeqCst);
    assert_eq!(
        certdesk_server::renewals::supersede_renewed(&s.server.state, DAY)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        certdesk_server::renewals::supersede_renewed(&s.server.state, DAY)
            .await
            .unwrap(),
        0
    );
    for serial in s
        .server
        .store
        .key_certificate_serials(old.id)
        .await
        .unwrap()
    {
        let record = s.server.ca.certificate_record(&serial).await.unwrap();
        assert_eq!(record.revocation_reason.as_deref(), Some("superseded"));
    }
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/renewals/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    assert_eq!(view["certificates"][0]["superseded"], true);
    // 我的证书 lists the new pair as held and the old as 已被替换; the expiry reminders now
    // watch the new one.
    let held_now = s.server.store.org_certificates(s.org_id).await.unwrap();
    assert_eq!(held_now.len(), 4);
    let expiring = s
        .server
        .store
        .certificates_expiring(s.clock.load(Ordering::SeqCst), i64::MAX)
        .await
        .unwrap();
    assert_eq!(expiring.len(), 1);
    assert_ne!(expiring[0].serial_hex, held.serial);
}

#[tokio::test]
async fn renewals_outside_the_window_or_muddled_are_refused_with_the_reason_and_nothing_kept() {
    let s = setup().await;
    let early = held_key(&s, 365).await;
    let open = held_key(&s, 30).await;
    let orders_before = s
        .server
        .store
        .orders(&certdesk_store::OrderFilter {
            org_id: Some(s.org_id),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .len();

    // Too early: the dates are told.
    let (status, refused) = create(&s, json!({"certificates": [early.serial], "years": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "renewal_not_open");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("起才可续费") && message.contains("到期"),
        "{message}"
    );
    // Nothing chosen, an unknown serial, years out of range, bids not confirmed.
    for (body, code) in [
        (json!({"certificates": [], "years": 1}), "nothing_chosen"),
        (
            json!({"certificates": ["00ff00ff"], "years": 1}),
            "unknown_certificate",
        ),
        (
            json!({"certificates": [open.serial], "years": 9}),
            "invalid_years",
        ),
        (
            json!({"certificates": [open.serial], "years": 1, "bids_in_progress": true}),
            "bids_need_confirmation",
        ),
    ] {
        let (status, refused) = create(&s, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} {refused}");
        assert_eq!(refused["error"]["code"], code, "{body}");
    }
    // Another organisation cannot renew this one's certificate (nor learn that it exists).
    let (_, other) = organisation_with_admin(
        &s.server.store,
        "另一家单位",
        "91110108MA01W4JK85",
        "other_admin",
    )
    .await;
    let (status, refused) = call(
        &s.server.router,
        "POST",
        "/api/v1/renewals",
        Some(&other),
        Some(json!({"certificates": [open.serial], "years": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "unknown_certificate");

    // Too late: three months after expiry the window closed; the page leads to 新办.
    s.clock.fetch_add(30 * DAY + 93 * DAY, Ordering::SeqCst);
    let (status, refused) = create(&s, json!({"certificates": [open.serial], "years": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "renewal_closed");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("新办"));
    let orders_after = s
        .server
        .store
        .orders(&certdesk_store::OrderFilter {
            org_id: Some(s.org_id),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    assert_eq!(orders_after, orders_before, "a refusal keeps no order");
}

#[tokio::test]
async fn a_certificate_is_in_one_open_renewal_even_when_asked_for_at_the_same_instant() {
    let s = setup().await;
    let held = held_key(&s, 30).await;
    let body = json!({"certificates": [held.serial], "years": 1});
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let (router, token, body) = (s.server.router.clone(), s.admin.clone(), body.clone());
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    "/api/v1/renewals",
                    Some(&token),
                    Some(body),
                )
                .await
            })
        })
        .collect();
    let results = at_once(attempts).await;
    let created = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    for (status, body) in &results {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"]["code"], "already_renewing");
        }
    }
    // Withdrawn, the certificate may be renewed again.
    let order_no = results
        .iter()
        .find(|(status, _)| *status == StatusCode::CREATED)
        .unwrap()
        .1["order"]["order_no"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, withdrawn) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
    let (status, again) = create(&s, body).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
}

/// 批量续费: three keys, one order, one payment; two keys connected at the same instant (and
/// one of them twice) are each renewed once, and the order completes with the last key.
#[tokio::test]
async fn a_bulk_renewal_renews_each_key_once_and_completes_with_the_last() {
    let s = setup().await;
    let keys = [
        held_key(&s, 20).await,
        held_key(&s, 40).await,
        held_key(&s, 60).await,
    ];
    let officer = staff_token(&s.server.store, "bulk_officer", Role::CaOfficer).await;
    let serials: Vec<&str> = keys.iter().map(|k| k.serial.as_str()).collect();
    let (status, draft) = create(&s, json!({"certificates": serials, "years": 2})).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(
        draft["order"]["amount"], "2394.00",
        "3 keys × 2 years × 399"
    );
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    pay(&s.server.router, &order_no, 239_400).await;
    let (status, approved) = post(
        &s,
        &officer,
        &format!("/api/v1/orders/{order_no}/review"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");

    let install = format!("/api/v1/renewals/{order_no}/install");
    let body = |k: &HeldKey| json!({"key_serial": k.serial, "csr": csr_of(&k.key)});
    let attempts: Vec<_> = [body(&keys[0]), body(&keys[0]), body(&keys[1])]
        .into_iter()
        .map(|body| {
            let (router, token, uri) = (s.server.router.clone(), s.admin.clone(), install.clone());
            tokio::spawn(async move { call(&router, "POST", &uri, Some(&token), Some(body)).await })
        })
        .collect();
    let results = at_once(attempts).await;
    let done: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(done.len(), 2, "{results:?}");
    for (_, body) in &done {
        assert_eq!(
            body["order"]["status"], "issuing",
            "one key is still to come"
        );
    }
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/renewals/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    assert_eq!(view["renewed"], 2);
    let (status, last) = post(&s, &s.admin, &install, body(&keys[2])).await;
    assert_eq!(status, StatusCode::CREATED, "{last}");
    assert_eq!(last["order"]["status"], "completed");
    // Exactly six certificates were signed for three keys (no stray signature on record).
    let certificates = s.server.store.count_certificates().await.unwrap();
    assert_eq!(certificates, 6 + 6);
}

#[tokio::test]
async fn a_lapsed_certificate_is_renewed_after_the_identity_check_and_the_licence() {
    let s = setup().await;
    let held = held_key(&s, 10).await;
    s.clock.fetch_add(40 * DAY, Ordering::SeqCst);
    let (status, draft) = create(&s, json!({"certificates": [held.serial], "years": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["lapsed"], true);
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let submit = format!("/api/v1/renewals/{order_no}/submit");
    let (status, refused) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "identity_not_checked");
    pass_identity_check(&s.server, &s.admin, &order_no).await;
    let (status, refused) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "licence_missing");
    let (status, uploaded) = common::upload(
        &s.server.router,
        &s.admin,
        &order_no,
        "business_licence",
        "营业执照.png",
        common::png(7),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let (status, submitted) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["order"]["status"], "awaiting_payment");
    // Paid and then withdrawn before review: refunded through the gateway.
    pay(&s.server.router, &order_no, 39_900).await;
    let (status, withdrawn) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/withdraw"),
        json!({"reason": "改为新办"}),
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
}

#[tokio::test]
async fn a_renewal_a_voucher_pays_for_goes_straight_to_review() {
    let s = setup().await;
    let held = held_key(&s, 30).await;
    let voucher = s
        .server
        .store
        .create_voucher(
            &certdesk_store::NewVoucher {
                code: "RENEW399",
                amount_fen: 39_900,
                valid_until: i64::MAX,
                org_id: Some(s.org_id),
                created_at: 0,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await;
    assert!(voucher.is_ok(), "{voucher:?}");
    let (status, draft) = create(
        &s,
        json!({"certificates": [held.serial], "years": 1, "voucher": "renew399"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["amount"], "0.00");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let (status, submitted) = post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["order"]["status"], "awaiting_second_review");
    // The voucher is spent: a second renewal cannot use it.
    let other = held_key(&s, 30).await;
    let (status, refused) = create(
        &s,
        json!({"certificates": [other.serial], "years": 1, "voucher": "RENEW399"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}

/// A request that died between claiming a key and recording its certificates (a crash, a
/// dropped connection) leaves a claim: the key is refused while another request may still be
/// writing it, and taken over once the claim is stale; nothing signed under the dead claim was
/// recorded, so nothing is left half-done.
#[tokio::test]
async fn a_key_whose_renewal_died_half_way_is_renewed_once_the_claim_is_stale() {
    let s = setup().await;
    let held = held_key(&s, 30).await;
    let officer = staff_token(&s.server.store, "stale_officer", Role::CaOfficer).await;
    let (_, draft) = create(&s, json!({"certificates": [held.serial], "years": 1})).await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    pay(&s.server.router, &order_no, 39_900).await;
    post(
        &s,
        &officer,
        &format!("/api/v1/orders/{order_no}/review"),
        json!({"decision": "approve"}),
    )
    .await;
    let order = s
        .server
        .store
        .order_by_no(&order_no)
        .await
        .unwrap()
        .unwrap();
    let item = &s.server.store.renewal_items(order.id).await.unwrap()[0];
    let now = s.clock.load(Ordering::SeqCst);
    assert!(s
        .server
        .store
        .claim_renewal_item(order.id, item.certificate_id, "dead", None, now, now - 600)
        .await
        .unwrap());
    let install = format!("/api/v1/renewals/{order_no}/install");
    let body = json!({"key_serial": held.serial, "csr": csr_of(&held.key)});
    let (status, refused) = post(&s, &s.admin, &install, body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "installing");
    s.clock.fetch_add(601, Ordering::SeqCst);
    let (status, installed) = post(&s, &s.admin, &install, body).await;
    assert_eq!(status, StatusCode::CREATED, "{installed}");
    assert_eq!(installed["order"]["status"], "completed");
}

/// An operator renews two keys for an organisation (代办); unpaid after 30 minutes, the renewal
/// closes, and the certificates may be renewed in a new order.
#[tokio::test]
async fn an_operator_renews_for_an_organisation_and_an_unpaid_renewal_closes() {
    let s = setup().await;
    let keys = [held_key(&s, 30).await, held_key(&s, 30).await];
    let operator = staff_token(&s.server.store, "renewing_operator", Role::PlatformOperator).await;
    let body = json!({"certificates": [keys[0].serial, keys[1].serial], "years": 1, "for_credit_code": common::held::CREDIT_CODE});
    let (status, draft) = post(&s, &operator, "/api/v1/renewals", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["made_by"], "操作员代办");
    assert_eq!(draft["order"]["amount"], "798.00");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let (status, submitted) = post(
        &s,
        &operator,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["order"]["status"], "awaiting_payment");
    s.clock.fetch_add(31 * 60, Ordering::SeqCst);
    let closed = certdesk_server::payments::close_unpaid_orders(
        &s.server.state,
        s.clock.load(Ordering::SeqCst),
    )
    .await
    .unwrap();
    assert_eq!(closed, 1);
    let order = s
        .server
        .store
        .order_by_no(&order_no)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status.as_str(), "closed");
    let (status, again) = post(&s, &s.admin, "/api/v1/renewals", body).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
}

/// 移动版: the CA holds the key pairs, so the renewal is signed for them as soon as the CA
/// approves; the same public keys, a later end, and no key to insert.
#[tokio::test]
async fn a_mobile_certificate_is_renewed_for_the_keys_the_ca_holds_when_approved() {
    use certdesk_domain::product::{KeyAlgorithm, Medium, ProductSpec};
    let s = setup().await;
    let officer = staff_token(&s.server.store, "mobile_officer", Role::CaOfficer).await;
    let provider = s.server.store.ca_providers().await.unwrap()[0].id;
    let mobile = s
        .server
        .store
        .create_product(
            provider,
            &ProductSpec {
                name: "SM2 移动版（测试）".into(),
                medium: Medium::Mobile,
                algorithm: KeyAlgorithm::Sm2,
                dual: true,
                min_years: 1,
                max_years: 3,
                price_per_year_fen: 19_900,
                sub_price_per_year_fen: 0,
                first_free: false,
                active: true,
            },
            0,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap()
        .id;
    // Its 新办: the CA makes and holds the keys at 复审.
    let first = s
        .server
        .store
        .create_application_order_in_status(
            "awaiting_second_review",
            &certdesk_store::NewOrder {
                order_no: "MOBILE0001",
                org_id: s.org_id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 0,
                created_by: s.admin_id,
                on_behalf: false,
                created_at: s.clock.load(Ordering::SeqCst),
            },
            &certdesk_store::NewApplication {
                provider_id: provider,
                product_id: mobile,
                years: 1,
                voucher_code: None,
                delivery_method: "online",
                form_json: "{}",
            },
        )
        .await
        .unwrap();
    let (status, issued) = post(
        &s,
        &officer,
        &format!("/api/v1/orders/{}/review", first.order_no),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["status"], "issued");
    let keys = s.server.store.org_certificates(s.org_id).await.unwrap();
    let old_sign = keys.iter().find(|c| c.profile == "sign").unwrap().clone();
    let old_enc = keys.iter().find(|c| c.profile == "enc").unwrap().clone();
    let spki = |id: i64| {
        let server = &s.server;
        async move {
            let der = server
                .store
                .certificate_der_by_id(id)
                .await
                .unwrap()
                .unwrap();
            certdesk_ca::public_key_sha256_of(&der).unwrap()
        }
    };

    // Eleven months on, inside the window: renewed, paid, approved — and renewed at once.
    s.clock.fetch_add(335 * DAY, Ordering::SeqCst);
    let (status, draft) = create(
        &s,
        json!({"certificates": [old_sign.serial_hex], "years": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["amount"], "199.00");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/submit"),
        json!({}),
    )
    .await;
    pay(&s.server.router, &order_no, 19_900).await;
    let (status, refused) = post(
        &s,
        &s.admin,
        &format!("/api/v1/renewals/{order_no}/install"),
        json!({"key_serial": old_sign.serial_hex, "csr": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (status, approved) = post(
        &s,
        &officer,
        &format!("/api/v1/orders/{order_no}/review"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "completed");
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/renewals/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    assert_eq!(view["renewed"], 1);
    let order = s
        .server
        .store
        .order_by_no(&order_no)
        .await
        .unwrap()
        .unwrap();
    let item = &s.server.store.renewal_items(order.id).await.unwrap()[0];
    let new_sign = item.new_signing_certificate_id.unwrap();
    let new_enc = item.new_encryption_certificate_id.unwrap();
    assert_eq!(spki(new_sign).await, spki(old_sign.certificate_id).await);
    assert_eq!(spki(new_enc).await, spki(old_enc.certificate_id).await);
    // (The CA signs by the real clock, the test moved the RA's: a later end is what holds.)
    assert!(item.new_not_after.unwrap() > old_sign.not_after);
    // The CA still holds the keys of the new certificates (the phone signs through it).
    let new_serial = item.new_serial_hex.clone().unwrap();
    assert!(s
        .server
        .ca
        .recover_encryption_key(&new_serial)
        .await
        .is_ok());
    assert_eq!(
        certdesk_server::renewals::renew_held_pending(&s.server.state)
            .await
            .unwrap(),
        0
    );
}

/// An expired certificate's renewal from the page (as a browser sends it): the legal
/// representative registered with the key confirms by SMS on the page, the licence is uploaded
/// there, and the order is submitted to the cashier.
#[tokio::test]
async fn a_lapsed_renewal_is_completed_on_the_page() {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let s = setup().await;
    let held = held_key(&s, 10).await;
    s.clock.fetch_add(40 * DAY, Ordering::SeqCst);
    let (_, draft) = create(&s, json!({"certificates": [held.serial], "years": 1})).await;
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    // A browser session of the organisation's admin.
    let now = s.clock.load(Ordering::SeqCst);
    s.server
        .store
        .create_session(
            &certdesk_store::Session {
                token_hash: certdesk_server::auth::token_hash("page-session"),
                account_id: s.admin_id,
                csrf_token: "page-csrf".into(),
                created_at: now,
                expires_at: now + 3600,
            },
            &certdesk_store::NewAuditEvent {
                at: now,
                actor_account_id: Some(s.admin_id),
                actor_label: "renewal_admin",
                org_id: Some(s.org_id),
                action: certdesk_domain::AuditAction::LoginSucceeded,
                object: "account:renewal_admin",
                detail: "",
            },
        )
        .await
        .unwrap();
    let page = |request: axum::http::request::Builder, body: Body| {
        let router = s.server.router.clone();
        async move {
            let response = router
                .oneshot(
                    request
                        .header("cookie", "certdesk_session=page-session")
                        .body(body)
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            let text = String::from_utf8(
                response
                    .into_body()
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes()
                    .to_vec(),
            )
            .unwrap();
            (status, location, text)
        }
    };
    let form = |uri: String, fields: &str| {
        (
            Request::post(uri).header("content-type", "application/x-www-form-urlencoded"),
            Body::from(format!("csrf=page-csrf&{fields}")),
        )
    };
    // The page offers the SMS check and the upload while they are missing.
    let (status, _, text) = page(Request::get("/ca/renewals"), Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("请由法定代表人完成手机号实名核验（138****8000）"),
        "{text}"
    );
    assert!(text.contains("renewal-licence"));
    let identity = format!("/ca/renewals/{order_no}/identity");
    let (request, body) = form(identity.clone(), "intent=start");
    let (status, location, _) = page(request, body).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location:?}");
    let (_, _, text) = page(Request::get("/ca/renewals"), Body::empty()).await;
    let outbox = &text[text
        .find("sandbox-outbox")
        .expect("the sandbox SMS on the page")..];
    let at = outbox.find("验证码").expect("the code in the SMS");
    let code: String = outbox[at..]
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let (request, body) = form(identity, &format!("intent=verify&code={code}"));
    let (status, _, _) = page(request, body).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, text) = page(Request::get("/ca/renewals"), Body::empty()).await;
    assert!(
        !text.contains("请由法定代表人完成手机号实名核验"),
        "the code {code} was taken: {}",
        &text[text.find("sandbox-outbox").unwrap_or(0)..][..600]
    );
    // The licence, as a multipart page form.
    let boundary = "renewal-boundary";
    let mut upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"licence.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    upload.extend_from_slice(&common::png(3));
    upload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    page(
        Request::post(format!("/ca/renewals/{order_no}/licence?csrf=page-csrf")).header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        ),
        Body::from(upload),
    )
    .await;
    let (_, _, text) = page(Request::get("/ca/renewals"), Body::empty()).await;
    assert!(!text.contains("renewal-licence"), "uploaded");
    assert!(
        !text.contains("请由法定代表人完成手机号实名核验"),
        "checked"
    );
    let (request, body) = form(format!("/orders/{order_no}/renewal/submit"), "");
    let (status, location, _) = page(request, body).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/orders/{order_no}/pay").as_str())
    );
}
