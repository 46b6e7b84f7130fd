//! The audit log on both engines: chaining, concurrent appends, the staff search.

use certdesk_domain::{verify_chain, AuditAction, GENESIS_PREV_HASH};
use certdesk_store::{AuditQuery, NewAuditEvent, Store};

on_both_engines!(
    audit_appends_chain_to_each_other,
    concurrent_audit_appends_all_chain,
    audit_search_filters_and_pages,
);

fn event<'a>(at: i64, action: AuditAction, object: &'a str) -> NewAuditEvent<'a> {
    NewAuditEvent {
        at,
        actor_account_id: Some(1),
        actor_label: "admin",
        org_id: None,
        action,
        object,
        detail: r#"{"credit_code":"91****Y43"}"#,
    }
}

async fn audit_appends_chain_to_each_other(store: &Store) {
    assert!(store.audit_chain().await.unwrap().is_empty());
    let first = store
        .append_audit(&event(100, AuditAction::CaInitialised, "ca:sm2"))
        .await
        .unwrap();
    assert_eq!(first.sequence, 1);
    assert_eq!(first.prev_hash, GENESIS_PREV_HASH);
    assert_eq!(first.action(), Some(AuditAction::CaInitialised));
    assert_eq!(first.actor_label, "admin");
    assert_eq!(first.detail, r#"{"credit_code":"91****Y43"}"#);

    let second = store
        .append_audit(&NewAuditEvent {
            actor_account_id: None,
            actor_label: "cli",
            org_id: Some(42),
            ..event(101, AuditAction::CertificateIssued, "certificate:5a3f")
        })
        .await
        .unwrap();
    assert_eq!(second.sequence, 2);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(second.actor_account_id, None);
    assert_eq!(second.org_id, Some(42));

    let chain = store.audit_chain().await.unwrap();
    assert_eq!(chain, vec![first, second]);
    assert_eq!(verify_chain(&chain), Ok(2));
}

async fn concurrent_audit_appends_all_chain(store: &Store) {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let object = format!("order:{i}");
                store
                    .append_audit(&event(1_000 + i, AuditAction::OrderTransition, &object))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let chain = store.audit_chain().await.unwrap();
    assert_eq!(chain.len(), 20);
    assert_eq!(verify_chain(&chain), Ok(20));
    let mut objects: Vec<&str> = chain.iter().map(|e| e.object.as_str()).collect();
    objects.sort_unstable();
    objects.dedup();
    assert_eq!(objects.len(), 20, "every append is there once");
}

async fn audit_search_filters_and_pages(store: &Store) {
    let rows = [
        (10, Some(1), Some(7), AuditAction::LoginSucceeded),
        (20, Some(2), Some(7), AuditAction::CertificateBound),
        (30, Some(1), Some(8), AuditAction::CertificateBound),
        (40, None, None, AuditAction::ConfigurationChanged),
        (50, Some(2), Some(8), AuditAction::LoginFailed),
    ];
    for (at, actor, org, action) in rows {
        store
            .append_audit(&NewAuditEvent {
                actor_account_id: actor,
                org_id: org,
                ..event(at, action, "x")
            })
            .await
            .unwrap();
    }
    let seqs = |events: Vec<certdesk_store::AuditEvent>| {
        events.iter().map(|e| e.sequence).collect::<Vec<_>>()
    };
    let all = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    assert_eq!(
        seqs(store.audit_events(&all).await.unwrap()),
        [5, 4, 3, 2, 1]
    );
    let q = |f: fn(&mut AuditQuery)| {
        let mut query = all.clone();
        f(&mut query);
        query
    };
    let cases: [(AuditQuery, &[i64]); 8] = [
        (
            q(|q| q.action = Some(AuditAction::CertificateBound)),
            &[3, 2],
        ),
        (q(|q| q.actor = Some(2)), &[5, 2]),
        (q(|q| q.org_id = Some(8)), &[5, 3]),
        (q(|q| q.since = Some(20)), &[5, 4, 3, 2]),
        (q(|q| q.until = Some(30)), &[2, 1]),
        (q(|q| q.before_sequence = Some(3)), &[2, 1]),
        (q(|q| q.limit = 2), &[5, 4]),
        (
            q(|q| {
                q.action = Some(AuditAction::CertificateBound);
                q.org_id = Some(7);
                q.actor = Some(2);
                q.since = Some(0);
                q.until = Some(100);
                q.before_sequence = Some(10);
            }),
            &[2],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(
            seqs(store.audit_events(&query).await.unwrap()),
            expected,
            "{query:?}"
        );
    }
    // Paging: the page after the last one shown.
    let page = q(|q| {
        q.limit = 2;
        q.before_sequence = Some(4);
    });
    assert_eq!(seqs(store.audit_events(&page).await.unwrap()), [3, 2]);
    assert_eq!(
        seqs(store.audit_chain_page(2, 2).await.unwrap()),
        [3, 4],
        "chain pages run oldest first"
    );
}
