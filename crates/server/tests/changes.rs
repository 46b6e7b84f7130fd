//! 变更 through the API: a new company name — refused until the licence is uploaded and the
//! legal representative passed the identity check, reviewed twice (a rejection with its reason
//! resubmitted), the registration changed only with the CA's approval, the new certificate's O
//! and CN carrying the new name (read by OpenSSL) and the old certificates superseded; a change
//! of credit code refused; a draft withdrawn.

mod common;

use axum::http::StatusCode;
use certdesk_domain::Role;
use certdesk_pki::{Algorithm, SoftwareKey};
use common::held::{csr_of, held_key, setup, Setup, CREDIT_CODE, ORG_NAME};
use common::{call, pass_identity_check, staff_token};
use serde_json::{json, Value};

const NEW_NAME: &str = "福州新名称科技有限公司";

async fn post(s: &Setup, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    call(&s.server.router, "POST", uri, Some(token), Some(body)).await
}

fn change(serial: &str, name: &str) -> Value {
    json!({
        "key_serial": serial,
        "org_name": name,
        "legal_rep_name": "张三",
        "legal_rep_id_number": "11010519491231002X",
        "legal_rep_mobile": "13800138000"
    })
}

async fn registered_name(s: &Setup) -> String {
    s.server
        .store
        .organisation_by_id(s.org_id)
        .await
        .unwrap()
        .unwrap()
        .name
}

#[tokio::test]
async fn a_new_company_name_is_registered_with_the_ca_approval_and_carried_by_the_new_certificate()
{
    let s = setup().await;
    let held = held_key(&s, 200).await;
    let operator = staff_token(&s.server.store, "change_operator", Role::PlatformOperator).await;
    let officer = staff_token(&s.server.store, "change_officer", Role::CaOfficer).await;

    let (status, draft) = post(
        &s,
        &s.admin,
        "/api/v1/changes",
        change(&held.serial, NEW_NAME),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["order"]["kind_label"], "变更");
    assert_eq!(draft["order"]["amount"], "0.00");
    assert_eq!(draft["renames"], true);
    assert_eq!(draft["legal_rep_id_number"], "110***********002X");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    let submit = format!("/api/v1/changes/{order_no}/submit");

    // The legal representative's check, then the licence, before it is submitted.
    let (status, refused) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "identity_not_checked");
    pass_identity_check(&s.server, &s.admin, &order_no).await;
    let (status, refused) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(refused["error"]["code"], "licence_missing", "{status}");
    let (status, uploaded) = common::upload(
        &s.server.router,
        &s.admin,
        &order_no,
        "business_licence",
        "变更后营业执照.png",
        common::png(9),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let (status, submitted) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["order"]["status"], "awaiting_initial_review");

    // 初审 rejected with the reason, resubmitted, approved; the registration is unchanged.
    let review = format!("/api/v1/orders/{order_no}/review");
    let (status, rejected) = post(
        &s,
        &operator,
        &review,
        json!({"decision": "reject", "reason": "营业执照不清晰，请重新上传"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (status, resubmitted) = post(&s, &s.admin, &submit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{resubmitted}");
    let (status, first) = post(&s, &operator, &review, json!({"decision": "approve"})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "awaiting_second_review");
    assert_eq!(
        registered_name(&s).await,
        ORG_NAME,
        "not before the CA approves"
    );

    // The CA approves: the registration changes with that step.
    let (status, second) = post(&s, &officer, &review, json!({"decision": "approve"})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["status"], "issuing");
    assert_eq!(registered_name(&s).await, NEW_NAME);

    // New key pairs on the UKey: the certificate names the organisation anew.
    let new_key = SoftwareKey::generate(Algorithm::Sm2Sm3).unwrap();
    let (status, issued) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/csr"),
        json!({"csr": csr_of(&new_key)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!(issued["order"]["status"], "completed");
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("new.pem");
    std::fs::write(&pem, issued["signing_certificate"].as_str().unwrap()).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "x509",
            "-in",
            pem.to_str().unwrap(),
            "-noout",
            "-subject",
            "-nameopt",
            "utf8,sep_multiline",
        ])
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let subject = String::from_utf8(out.stdout).unwrap();
    assert!(subject.contains(&format!("O={NEW_NAME}")), "{subject}");
    assert!(subject.contains(&format!("CN={NEW_NAME}")), "{subject}");
    assert!(!subject.contains(ORG_NAME), "{subject}");
    // The old certificates are superseded.
    let old = s.server.ca.certificate_record(&held.serial).await.unwrap();
    assert_eq!(old.revocation_reason.as_deref(), Some("superseded"));
    let (_, view) = call(
        &s.server.router,
        "GET",
        &format!("/api/v1/changes/{order_no}"),
        Some(&s.admin),
        None,
    )
    .await;
    assert!(
        view["applied_at"].is_string() && view["replaced_at"].is_string(),
        "{view}"
    );
    // The new key's legal representative is the one registered with the change.
    let held_now = s.server.store.org_certificates(s.org_id).await.unwrap();
    assert!(held_now
        .iter()
        .any(|c| c.revoked_at.is_none() && c.org_name == NEW_NAME));
}

#[tokio::test]
async fn a_change_of_credit_code_or_of_nothing_is_refused_and_a_draft_is_withdrawn() {
    let s = setup().await;
    let held = held_key(&s, 200).await;
    let mut new_code = change(&held.serial, NEW_NAME);
    new_code["credit_code"] = json!("91110108MA01W4JK85");
    let (status, refused) = post(&s, &s.admin, "/api/v1/changes", new_code).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "credit_code_changed");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("新办"));
    let mut same_code = change(&held.serial, NEW_NAME);
    same_code["credit_code"] = json!(CREDIT_CODE);
    let (status, nothing) = post(&s, &s.admin, "/api/v1/changes", change(&held.serial, "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{nothing}");
    assert_eq!(nothing["error"]["code"], "nothing_changed");

    let (status, draft) = post(&s, &s.admin, "/api/v1/changes", same_code).await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let order_no = draft["order"]["order_no"].as_str().unwrap().to_string();
    // One open change (or 补办) per key.
    let (status, again) = post(
        &s,
        &s.admin,
        "/api/v1/changes",
        change(&held.serial, NEW_NAME),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, withdrawn) = post(
        &s,
        &s.admin,
        &format!("/api/v1/orders/{order_no}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(registered_name(&s).await, ORG_NAME);
    let old = s.server.ca.certificate_record(&held.serial).await.unwrap();
    assert_eq!(old.revoked_at, None);
}
