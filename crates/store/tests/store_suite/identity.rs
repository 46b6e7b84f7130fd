//! Identity checks and the face-try counter on both engines.

use certdesk_domain::identity::FACE_TRIES_PER_DAY;

/// The store keeps whatever hash the server makes; here, a stand-in.
fn subject_hash(resident_id: &str) -> String {
    format!("{:0>64}", resident_id.to_ascii_lowercase())
}
use certdesk_domain::Role;
use certdesk_store::{NewAccount, NewIdentityCheck, NewOrder, Store};

on_both_engines!(
    identity_checks_supersede_and_count_codes,
    face_tries_stop_at_the_daily_limit,
);

async fn draft_order(store: &Store) -> i64 {
    let (org, admin) = store
        .register_organisation(
            "甲公司",
            "91350100M000100Y43",
            &NewAccount {
                username: "a.admin",
                display_name: "管理员",
                role: Role::OrgAdmin,
                org_id: None,
                password_hash: "x",
                created_at: 0,
            },
            "test",
        )
        .await
        .unwrap();
    store
        .create_order(&NewOrder {
            order_no: "20261123000000000001",
            org_id: org.id,
            kind: certdesk_domain::BusinessType::NewCertificate,
            amount_fen: 0,
            created_by: admin.id,
            on_behalf: false,
            created_at: 0,
        })
        .await
        .unwrap()
        .id
}

fn sms<'a>(order_id: i64, subject: &'a str, hash: &'a str, at: i64) -> NewIdentityCheck<'a> {
    NewIdentityCheck {
        order_id,
        method: "mobile",
        subject_hash: subject,
        subject_name: "张三",
        masked_id: "110***********002X",
        masked_target: "138****5678",
        status: "pending",
        failure: "",
        code_salt: Some("salt"),
        code_hash: Some(hash),
        expires_at: Some(at + 300),
        created_at: at,
    }
}

async fn identity_checks_supersede_and_count_codes(store: &Store) {
    let order = draft_order(store).await;
    let person = subject_hash("11010519491231002X");
    let first = store
        .create_identity_check(
            &sms(order, &person, "h1", 100),
            &certdesk_store::testing::test_audit_event(),
        )
        .await
        .unwrap();
    assert_eq!((first.status.as_str(), first.attempts), ("pending", 0));
    assert_eq!(first.expires_at, Some(400));
    // A wrong try is counted once, even when two requests race with the same view.
    assert!(store
        .record_code_attempt(
            first.id,
            0,
            1,
            "pending",
            110,
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());
    assert!(!store
        .record_code_attempt(
            first.id,
            0,
            1,
            "pending",
            110,
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());

    // A new code supersedes the pending one.
    let second = store
        .create_identity_check(
            &sms(order, &person, "h2", 200),
            &certdesk_store::testing::test_audit_event(),
        )
        .await
        .unwrap();
    let checks = store.identity_checks_of_order(order).await.unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].status, "locked");
    assert_eq!(checks[0].attempts, 1);
    assert_eq!(
        store
            .latest_identity_check(order, "mobile")
            .await
            .unwrap()
            .unwrap()
            .id,
        second.id
    );
    assert_eq!(
        store.latest_identity_check(order, "face").await.unwrap(),
        None
    );
    // A superseded code can no longer be used.
    assert!(!store
        .record_code_attempt(
            first.id,
            1,
            1,
            "passed",
            210,
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());

    assert_eq!(
        store.passed_identity_check(order, &person).await.unwrap(),
        None
    );
    assert!(store
        .record_code_attempt(
            second.id,
            0,
            0,
            "passed",
            220,
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());
    let passed = store
        .passed_identity_check(order, &person)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(passed.id, second.id);
    // Another person's check does not count for this one.
    let other = subject_hash("440524188001010014");
    assert_eq!(
        store.passed_identity_check(order, &other).await.unwrap(),
        None
    );
    // The ID number itself is nowhere.
    for check in store.identity_checks_of_order(order).await.unwrap() {
        assert!(!format!("{check:?}").contains("11010519491231002X"));
    }
}

async fn face_tries_stop_at_the_daily_limit(store: &Store) {
    let person = subject_hash("11010519491231002X");
    assert_eq!(store.face_tries(&person, "2026-11-23").await.unwrap(), 0);
    for n in 1..=FACE_TRIES_PER_DAY {
        assert_eq!(
            store
                .take_face_try(&person, "2026-11-23", FACE_TRIES_PER_DAY)
                .await
                .unwrap(),
            Some(n)
        );
    }
    assert_eq!(
        store
            .take_face_try(&person, "2026-11-23", FACE_TRIES_PER_DAY)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.face_tries(&person, "2026-11-23").await.unwrap(),
        FACE_TRIES_PER_DAY
    );
    // The next day, and another person, start again.
    assert_eq!(
        store
            .take_face_try(&person, "2026-11-24", FACE_TRIES_PER_DAY)
            .await
            .unwrap(),
        Some(1)
    );
    let other = subject_hash("440524188001010014");
    assert_eq!(
        store
            .take_face_try(&other, "2026-11-23", FACE_TRIES_PER_DAY)
            .await
            .unwrap(),
        Some(1)
    );
}
