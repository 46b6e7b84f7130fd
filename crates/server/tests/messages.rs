//! Expiry reminders and the 消息 page: each reminder (30, 15, 7, 1 days before expiry) reaches
//! the organisation's admins and the accounts the certificate is bound to, once, however often
//! and however many at once the job runs.

mod common;

use axum::http::StatusCode;
use certdesk_domain::Role;
use certdesk_server::messages::{send_expiry_reminders, ReminderRun};
use certdesk_store::testing::{put_held_certificate, test_audit_note};
use certdesk_store::{NewAccount, NewBinding};
use common::{call, give_api_token, organisation_with_admin, test_server};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const DAY: i64 = 86_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_reminder_reaches_the_admin_and_the_bound_account_once() {
    let server = test_server().await;
    let store = &server.store;
    let (org_a, admin_token) =
        organisation_with_admin(store, "福州测试科技有限公司", "91350100M000100Y43", "boss").await;
    let (_, other_token) =
        organisation_with_admin(store, "北京其他有限公司", "91110108MA01W4JK85", "other").await;
    let admin = store.account_by_username("boss").await.unwrap().unwrap();
    let holder = store
        .create_account(
            &NewAccount {
                username: "holder",
                display_name: "持锁员工",
                role: Role::Employee,
                org_id: Some(org_a),
                password_hash: "x",
                created_at: 0,
            },
            &test_audit_note(),
        )
        .await
        .unwrap();
    give_api_token(store, holder.id, "cdk_holder").await;
    let expires = 1_900_000_000;
    put_held_certificate(store, org_a, admin.id, "0a1b2c3d", expires).await;
    store
        .create_binding(
            &NewBinding {
                account_id: holder.id,
                org_id: org_a,
                provider_id: store.ca_providers().await.unwrap()[0].id,
                fingerprint: &"ab".repeat(32),
                serial_hex: "0a1b2c3d",
                key_id: "01",
                subject_name: "福州测试科技有限公司",
                not_after: expires,
                certificate_der: b"der",
                bound_by: admin.id,
                bound_at: 0,
            },
            &test_audit_note(),
        )
        .await
        .unwrap();
    // A certificate far from expiry gets nothing.
    put_held_certificate(store, org_a, admin.id, "ffff0001", expires + 200 * DAY).await;

    let clock = Arc::new(AtomicI64::new(expires - 31 * DAY));
    let state = server.state.clone().with_clock(clock.clone());
    assert_eq!(
        send_expiry_reminders(&state).await.unwrap(),
        ReminderRun::default()
    );
    let mut sent = Vec::new();
    for days_left in [20, 10, 3] {
        clock.store(expires - days_left * DAY, Ordering::SeqCst);
        sent.push(send_expiry_reminders(&state).await.unwrap());
        // Run again: nothing more.
        assert_eq!(
            send_expiry_reminders(&state).await.unwrap(),
            ReminderRun::default()
        );
    }
    // The 1-day reminder, with eight runs at the same instant (several server processes).
    clock.store(expires - 2 * 3600, Ordering::SeqCst);
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { send_expiry_reminders(&state).await.unwrap() })
        })
        .collect();
    let mut last = ReminderRun::default();
    for run in runs {
        let run = run.await.unwrap();
        last.reminders += run.reminders;
        last.messages += run.messages;
    }
    sent.push(last);
    let one = ReminderRun {
        reminders: 1,
        messages: 2,
    };
    assert_eq!(sent, vec![one.clone(), one.clone(), one.clone(), one]);
    // Once expired: no more reminders.
    clock.store(expires + DAY, Ordering::SeqCst);
    assert_eq!(
        send_expiry_reminders(&state).await.unwrap(),
        ReminderRun::default()
    );

    for token in [&admin_token, "cdk_holder"] {
        let (status, messages) =
            call(&server.router, "GET", "/api/v1/messages", Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{messages}");
        let titles: Vec<&str> = messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            vec![
                "CA证书明天到期",
                "CA证书将在7天内到期",
                "CA证书将在15天内到期",
                "CA证书将在30天内到期"
            ],
            "{messages}"
        );
        assert!(messages[0]["body"].as_str().unwrap().contains("0A1B2C3D"));
    }
    let (_, none) = call(
        &server.router,
        "GET",
        "/api/v1/messages",
        Some(&other_token),
        None,
    )
    .await;
    assert_eq!(
        none,
        serde_json::json!([]),
        "another organisation hears nothing"
    );
}
