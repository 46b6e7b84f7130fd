//! Renewal orders on both engines: one open renewal per certificate, each key's claim and its
//! certificates recorded with the order's completion by the last key, and the renewed key pairs
//! seen wherever the organisation's keys are read (我的证书, a key's serials, reminders).

use certdesk_domain::{BusinessType, OrderAction, OrderStatus, Role};
use certdesk_store::testing::{link_key_pair, put_order_in_status, test_audit_note, test_step};
use certdesk_store::{
    IssuanceRecorded, IssuedForOrder, NewCertificate, NewOrder, NewRenewal, RenewalTarget,
    SignedForOrder, Store, StoreError,
};

on_both_engines!(renewals_hold_each_certificate_once_and_complete_with_the_last_key);

fn certificate<'a>(serial: &'a str, ca: i64, not_after: i64) -> NewCertificate<'a> {
    NewCertificate {
        serial_hex: serial,
        issuer_ca_id: ca,
        algorithm: "sm2",
        profile: "sign",
        org_name: "福州测试科技有限公司",
        credit_code: "91350100M000100Y43",
        not_before: not_after - 365 * 86_400,
        not_after,
        der: b"der",
        issued_at: not_after - 365 * 86_400,
    }
}

fn renewal(product_id: i64) -> NewRenewal<'static> {
    NewRenewal {
        product_id,
        years: 1,
        voucher_code: None,
        lapsed: false,
        bids_confirmed: false,
    }
}

async fn renewals_hold_each_certificate_once_and_complete_with_the_last_key(store: &Store) {
    let (org, admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            "91350100M000100Y43",
            &super::new_account("renewer", Role::OrgAdmin),
            "test",
        )
        .await
        .unwrap();
    let ca = store
        .insert_ca_hierarchy(
            &super::ca_key("sm2", "root"),
            &super::ca_key("sm2", "issuing"),
        )
        .await
        .unwrap()
        .1
        .id;
    let provider = store.ca_providers().await.unwrap()[0].id;
    let product = store
        .create_product(
            provider,
            &certdesk_domain::product::ProductSpec {
                name: "SM2 UKey".into(),
                medium: certdesk_domain::product::Medium::UKey,
                algorithm: certdesk_domain::product::KeyAlgorithm::Sm2,
                dual: false,
                min_years: 1,
                max_years: 3,
                price_per_year_fen: 39_900,
                sub_price_per_year_fen: 0,
                first_free: false,
                active: true,
            },
            0,
            &test_audit_note(),
        )
        .await
        .unwrap()
        .id;
    let not_after = 1_800_000_000;
    let mut targets = Vec::new();
    for serial in ["0b01", "0b02"] {
        let cert = store
            .insert_certificate(&certificate(serial, ca, not_after))
            .await
            .unwrap();
        let source = store
            .create_order_in_status(
                "completed",
                &NewOrder {
                    order_no: &format!("NEW{serial}"),
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
        link_key_pair(store, source.id, cert.id, None, serial).await;
        targets.push(RenewalTarget {
            certificate_id: cert.id,
            source_order_id: source.id,
        });
    }
    let new_order = |order_no: &'static str| NewOrder {
        order_no,
        org_id: org.id,
        kind: BusinessType::Renewal,
        amount_fen: 79_800,
        created_by: admin.id,
        on_behalf: false,
        created_at: 1,
    };
    let order = store
        .create_renewal_order(
            &new_order("R1"),
            &renewal(product),
            &targets,
            &test_audit_note(),
        )
        .await
        .unwrap();
    // A certificate is in one open renewal; nothing of the refused one is kept.
    let refused = store
        .create_renewal_order(
            &new_order("R2"),
            &renewal(product),
            &targets[1..],
            &test_audit_note(),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict("renewal"))),
        "{refused:?}"
    );
    assert!(store.order_by_no("R2").await.unwrap().is_none());
    let items = store.renewal_items(order.id).await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(store.renewal(order.id).await.unwrap().unwrap().years, 1);

    let order = put_order_in_status(store, order.id, OrderStatus::Issuing).await;
    // A claim is taken once until it is stale.
    assert!(store
        .claim_renewal_item(order.id, targets[0].certificate_id, "0c01", None, 100, 0)
        .await
        .unwrap());
    assert!(!store
        .claim_renewal_item(order.id, targets[0].certificate_id, "0c09", None, 101, 0)
        .await
        .unwrap());
    assert!(store
        .claim_renewal_item(order.id, targets[1].certificate_id, "0c02", None, 100, 0)
        .await
        .unwrap());
    let complete = test_step(&order, OrderAction::MarkIssued, 0);
    for (target, serial, last) in [(targets[0], "0c01", false), (targets[1], "0c02", true)] {
        let recorded = store
            .complete_renewal_item(
                target.certificate_id,
                &IssuedForOrder {
                    signing: SignedForOrder {
                        certificate: certificate(serial, ca, not_after + 365 * 86_400),
                        key_archive: None,
                    },
                    encryption: None,
                    envelope_gmt0009: None,
                    envelope_skf: None,
                },
                &complete,
                "cessationOfOperation",
            )
            .await
            .unwrap();
        assert!(matches!(recorded, IssuanceRecorded::Linked { .. }));
        let status = store.order_by_id(order.id).await.unwrap().unwrap().status;
        assert_eq!(status == OrderStatus::Completed, last, "{serial}");
    }
    // The renewed pairs are the organisation's keys now; the old ones wait for the grace.
    let held = store.org_certificates(org.id).await.unwrap();
    assert_eq!(held.len(), 4);
    assert!(held.iter().all(|c| c.order_status == "completed"));
    let renewed = held.iter().find(|c| c.serial_hex == "0c01").unwrap();
    assert_eq!(renewed.source_order_id, targets[0].source_order_id);
    assert_eq!(
        store
            .key_certificate_serials(renewed.certificate_id)
            .await
            .unwrap(),
        vec!["0c01".to_string()]
    );
    let expiring: Vec<String> = store
        .certificates_expiring(0, i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.serial_hex)
        .collect();
    assert_eq!(expiring.len(), 2);
    assert!(expiring.iter().all(|s| s.starts_with("0c")), "{expiring:?}");
    let due = store.superseded_due(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    store
        .mark_superseded(order.id, due[0].certificate_id, 5)
        .await
        .unwrap();
    assert_eq!(store.superseded_due(i64::MAX, 10).await.unwrap().len(), 1);
}
