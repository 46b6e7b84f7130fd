//! 单位认领 through the real router: a claimant without an account files the business licence
//! and the claim letter, follows the claim with its query code, and an operator hands the
//! organisation over (or rejects with a reason). Refusals keep nothing; parallel claims for one
//! organisation file one.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{call, organisation_with_admin, staff_token, test_server, TestServer};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

const CREDIT_CODE: &str = "91350100M000100Y43";
const PASSWORD: &str = "claimant-pass-2026";

struct Answer {
    status: StatusCode,
    text: String,
}

async fn send(server: &TestServer, request: Request<Body>) -> Answer {
    let response = server.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The claim form as a browser sends it (with its pre-login CSRF token), each file optional.
fn claim_request(
    fields: &[(&str, &str)],
    licence: Option<Vec<u8>>,
    letter: Option<Vec<u8>>,
) -> Request<Body> {
    let boundary = "certdesk-claim-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in [("licence", licence), ("letter", letter)] {
        if let Some(bytes) = bytes {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\nContent-Type: image/png\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(&bytes);
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/claim?csrf=tok")
        .header("cookie", "certdesk_csrf=tok")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

fn fields<'a>(username: &'a str, credit_code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("credit_code", credit_code),
        ("organisation_name", "福州真实科技有限公司"),
        ("claimant_name", "王五"),
        ("claimant_mobile", "13700137000"),
        ("statement", "本单位从未在本平台注册，营业执照和认领函附后"),
        ("admin_username", username),
        ("password", PASSWORD),
        ("password_again", PASSWORD),
    ]
}

/// Files in the blob store.
fn blob_files(server: &TestServer) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() {
                            count(&path)
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    count(&server.dir.path().join("blobs"))
}

fn query_code(page: &str) -> String {
    let start = page
        .find("data-testid=\"query-code\">")
        .expect("the query code is shown")
        + 25;
    page[start..start + 64].to_string()
}

async fn status_of(server: &TestServer, code: &str) -> Answer {
    send(
        server,
        Request::post("/claim/status")
            .header("cookie", "certdesk_csrf=tok")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf=tok&query_code={code}")))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_claim_is_filed_followed_and_hands_the_organisation_over() {
    let server = test_server().await;
    let (org_id, squatter) =
        organisation_with_admin(&server.store, "抢注的公司", CREDIT_CODE, "squatter").await;
    let operator = staff_token(
        &server.store,
        "operator",
        certdesk_domain::Role::PlatformOperator,
    )
    .await;

    // The form explains itself and links from registration.
    let form = send(&server, Request::get("/claim").body(Body::empty()).unwrap()).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.text.contains("单位认领函（加盖公章）"),
        "{}",
        form.text
    );

    // Refusals keep nothing: no letter; a letter that is not an image; a code nobody
    // registered; a forged form without the CSRF token.
    let missing = send(
        &server,
        claim_request(
            &fields("real.admin", CREDIT_CODE),
            Some(common::png(1)),
            None,
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing
            .text
            .contains("单位认领函（加盖公章）：请选择要上传的文件"),
        "{}",
        missing.text
    );
    assert!(
        missing.text.contains("福州真实科技有限公司"),
        "typed fields are kept"
    );
    let not_image = send(
        &server,
        claim_request(
            &fields("real.admin", CREDIT_CODE),
            Some(common::png(1)),
            Some(b"%PDF-1.4 not an image".to_vec()),
        ),
    )
    .await;
    assert_eq!(
        not_image.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        not_image.text
    );
    assert!(not_image.text.contains("单位认领函"), "{}", not_image.text);
    let unknown = send(
        &server,
        claim_request(
            &fields("real.admin", "91110108MA01W4JK85"),
            Some(common::png(1)),
            Some(common::png(2)),
        ),
    )
    .await;
    assert!(
        unknown.text.contains("尚未在本平台注册"),
        "{}",
        unknown.text
    );
    let mut forged = claim_request(
        &fields("real.admin", CREDIT_CODE),
        Some(common::png(1)),
        Some(common::png(2)),
    );
    *forged.uri_mut() = "/claim".parse().unwrap();
    assert_eq!(send(&server, forged).await.status, StatusCode::FORBIDDEN);
    assert_eq!(blob_files(&server), 0, "a refused claim leaves no file");
    assert!(server
        .store
        .organisation_claims(10)
        .await
        .unwrap()
        .is_empty());

    // Filed: a claim number and a query code, shown once.
    let filed = send(
        &server,
        claim_request(
            &fields("real.admin", CREDIT_CODE),
            Some(common::png(1)),
            Some(common::png(2)),
        ),
    )
    .await;
    assert_eq!(filed.status, StatusCode::OK, "{}", filed.text);
    assert!(filed.text.contains("RL00000001"), "{}", filed.text);
    let code = query_code(&filed.text);
    assert_eq!(blob_files(&server), 2);
    // The mobile is sealed at rest.
    let stored = server.store.organisation_claims(10).await.unwrap();
    assert!(!stored[0].claimant_mobile.contains("13700137000"));
    let pending = status_of(&server, &code).await;
    assert!(pending.text.contains("待审核"), "{}", pending.text);
    let wrong = status_of(&server, &"0".repeat(64)).await;
    assert!(wrong.text.contains("查询码不正确"), "{}", wrong.text);
    // A second claim for the organisation waits for the first.
    let again = send(
        &server,
        claim_request(
            &fields("other.admin", CREDIT_CODE),
            Some(common::png(3)),
            Some(common::png(4)),
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.text.contains("正在审核"), "{}", again.text);
    assert_eq!(blob_files(&server), 2, "the refused claim's files are gone");

    // Suppliers cannot see claims; the operator can, with the mobile masked.
    let (status, _) = call(
        &server.router,
        "GET",
        "/api/v1/organisation-claims",
        Some(&squatter),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, claims) = call(
        &server.router,
        "GET",
        "/api/v1/organisation-claims",
        Some(&operator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(claims[0]["claimant_mobile"], "137****7000", "{claims}");
    assert_eq!(claims[0]["registered_name"], "抢注的公司");
    let claim_id = claims[0]["id"].as_i64().unwrap();
    // The operator's page shows the full mobile (and records that it did) and the documents.
    let page = send(
        &server,
        Request::get(format!("/admin/claims/{claim_id}"))
            .header("authorization", format!("Bearer {operator}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(page.text.contains("13700137000"), "{}", page.text);
    let licence = send(
        &server,
        Request::get(format!(
            "/admin/claims/{claim_id}/documents/business_licence"
        ))
        .header("authorization", format!("Bearer {operator}"))
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(licence.status, StatusCode::OK);

    // Rejection needs a reason; approval hands the organisation over.
    let decision = format!("/api/v1/organisation-claims/{claim_id}/decision");
    let (status, body) = call(
        &server.router,
        "POST",
        &decision,
        Some(&operator),
        Some(json!({"decision": "reject"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = call(
        &server.router,
        "POST",
        &decision,
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
    let (status, body) = call(
        &server.router,
        "POST",
        &decision,
        Some(&operator),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "decided once: {body}");
    // The squatter's token no longer works; the claimant logs in as the organisation's admin.
    let (status, _) = call(&server.router, "GET", "/api/v1/me", Some(&squatter), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, session) = call(
        &server.router,
        "POST",
        "/api/v1/session",
        None,
        Some(json!({"username": "real.admin", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let organisation = server
        .store
        .organisation_by_id(org_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(organisation.name, "福州真实科技有限公司");
    let approved = status_of(&server, &code).await;
    assert!(
        approved.text.contains("已通过") && approved.text.contains("real.admin"),
        "{}",
        approved.text
    );
    // Every step is in the audit log.
    let actions: Vec<String> = server
        .store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for expected in [
        "organisation_claim_filed",
        "personal_data_viewed",
        "organisation_claim_approved",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_rejected_claim_tells_its_reason_and_may_be_filed_again() {
    let server = test_server().await;
    let (org_id, _) =
        organisation_with_admin(&server.store, "抢注的公司", CREDIT_CODE, "squatter").await;
    let operator = staff_token(
        &server.store,
        "operator",
        certdesk_domain::Role::PlatformOperator,
    )
    .await;
    let filed = send(
        &server,
        claim_request(
            &fields("real.admin", CREDIT_CODE),
            Some(common::png(1)),
            Some(common::png(2)),
        ),
    )
    .await;
    let code = query_code(&filed.text);
    let claim_id = server.store.organisation_claims(1).await.unwrap()[0].id;
    let (status, body) = call(
        &server.router,
        "POST",
        &format!("/api/v1/organisation-claims/{claim_id}/decision"),
        Some(&operator),
        Some(json!({"decision": "reject", "reason": "认领函未加盖公章"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let told = status_of(&server, &code).await;
    assert!(
        told.text.contains("已驳回") && told.text.contains("认领函未加盖公章"),
        "{}",
        told.text
    );
    // Nothing changed for the organisation; the claimant files again, same user name.
    assert_eq!(
        server
            .store
            .organisation_by_id(org_id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "抢注的公司"
    );
    let again = send(
        &server,
        claim_request(
            &fields("real.admin", CREDIT_CODE),
            Some(common::png(1)),
            Some(common::png(3)),
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    // The rejected claim's documents stay with it (evidence); common::png(1) is shared, common::png(3) is new.
    assert_eq!(blob_files(&server), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_filed_at_once_for_one_organisation_file_one_and_leave_no_stray_file() {
    let server = test_server().await;
    organisation_with_admin(&server.store, "抢注的公司", CREDIT_CODE, "squatter").await;
    // Five at once (the registration limit per client is five an hour), each with its own files.
    let tries: Vec<_> = (0..5u8)
        .map(|n| {
            let router = server.router.clone();
            tokio::spawn(async move {
                let username = format!("claimant{n}");
                let request = claim_request(
                    &fields(&username, CREDIT_CODE),
                    Some(common::png(10 + n)),
                    Some(common::png(20 + n)),
                );
                router.oneshot(request).await.unwrap().status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in tries {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(server.store.organisation_claims(10).await.unwrap().len(), 1);
    assert_eq!(
        blob_files(&server),
        2,
        "only the filed claim's two files remain"
    );
    // The sixth from the same client within the hour is refused before anything is kept.
    let sixth = send(
        &server,
        claim_request(
            &fields("late", CREDIT_CODE),
            Some(common::png(30)),
            Some(common::png(31)),
        ),
    )
    .await;
    assert_eq!(
        sixth.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        sixth.text
    );
    assert_eq!(blob_files(&server), 2);
}
