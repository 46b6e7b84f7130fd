//! 制证 records on both engines: of keys chosen for an order at the same instant one becomes
//! the order's, recorded and audited once; written once.

use certdesk_domain::{AuditAction, BusinessType, Role};
use certdesk_store::testing::test_audit_note;
use certdesk_store::{AuditQuery, NewOrder, Store};

on_both_engines!(the_first_key_chosen_at_once_is_the_orders_and_written_once);

async fn the_first_key_chosen_at_once_is_the_orders_and_written_once(store: &Store) {
    let (org, admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            "91350100M000100Y43",
            &super::new_account("producer", Role::OrgAdmin),
            "test",
        )
        .await
        .unwrap();
    let order = store
        .create_order_in_status(
            "issuing",
            &NewOrder {
                order_no: "2026120800000000077",
                org_id: org.id,
                kind: BusinessType::NewCertificate,
                amount_fen: 0,
                created_by: admin.id,
                on_behalf: false,
                created_at: 0,
            },
        )
        .await
        .unwrap();
    let mut note = test_audit_note();
    note.actor_account_id = Some(admin.id);
    let chosen: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .choose_production_key(
                        order.id,
                        &format!("SW{i}"),
                        Some(&format!("pd1:sealed-{i}")),
                        &note,
                        "order:2026120800000000077",
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut keys = Vec::new();
    for c in chosen {
        keys.push(c.await.unwrap());
    }
    let first = &keys[0];
    assert!(keys.iter().all(|k| k == first), "one key for all: {keys:?}");
    let sealed = first.so_pin_sealed.as_deref().unwrap();
    assert_eq!(
        sealed,
        format!("pd1:sealed-{}", &first.key_serial[2..]),
        "its own SO PIN kept"
    );
    let produced = store
        .audit_events(&AuditQuery {
            action: Some(AuditAction::KeyProduced),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(produced.len(), 1, "audited once");

    assert!(!store
        .mark_key_written(order.id, "SW-other", &note, "order")
        .await
        .unwrap());
    let marks: Vec<_> = (0..4)
        .map(|_| {
            let (store, note, serial) = (store.clone(), note, first.key_serial.clone());
            tokio::spawn(async move {
                store
                    .mark_key_written(order.id, &serial, &note, "order")
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut written = 0;
    for m in marks {
        written += usize::from(m.await.unwrap());
    }
    assert_eq!(written, 1);
    assert!(store
        .key_production(order.id)
        .await
        .unwrap()
        .unwrap()
        .written_at
        .is_some());
}
