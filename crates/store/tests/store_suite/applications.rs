//! Applications behind orders on both engines: created with their order or not at all, edited
//! only while editable, issued once, shipped and received with their status steps.

use certdesk_domain::Role;
use certdesk_store::{
    IssuedForOrder, NewApplication, NewCertificate, NewOrder, OrderFilter, OrderStep, OrderUpload,
    Store, StoreError,
};

on_both_engines!(
    an_application_is_created_with_its_order_or_not_at_all,
    applications_are_edited_only_while_editable,
    issuance_is_claimed_once_and_recorded_with_its_step,
    delivery_and_receipt_move_the_order,
    first_free_is_taken_by_one_submission_at_a_time,
);

async fn organisation_admin(store: &Store, credit_code: &str, username: &str) -> (i64, i64) {
    let (org, admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            credit_code,
            &super::new_account(username, Role::OrgAdmin),
        )
        .await
        .unwrap();
    (org.id, admin.id)
}

async fn provider_id(store: &Store) -> i64 {
    store.ca_providers().await.unwrap()[0].id
}

fn order<'a>(order_no: &'a str, org_id: i64, admin_id: i64, status: &'a str) -> NewOrder<'a> {
    NewOrder {
        order_no,
        org_id,
        kind: "new",
        status,
        amount_fen: 39_900,
        created_by: admin_id,
        on_behalf: false,
        created_at: 1_763_000_000,
    }
}

fn application(provider_id: i64, form_json: &str) -> NewApplication<'_> {
    NewApplication {
        provider_id,
        product_id: 1,
        years: 1,
        voucher_code: None,
        delivery_method: "mail",
        form_json,
    }
}

fn step<'a>(from: &'a str, to: &'a str, action: &'a str) -> OrderStep<'a> {
    OrderStep {
        at: 1_763_000_100,
        actor_account_id: None,
        actor_label: "系统",
        action,
        from_status: from,
        to_status: to,
        note: "",
    }
}

async fn an_application_is_created_with_its_order_or_not_at_all(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &order("2026112316000000001", org, admin, "draft"),
            &application(provider, r#"{"terms_accepted":false}"#),
        )
        .await
        .unwrap();
    let saved = store.application(created.id).await.unwrap().unwrap();
    assert_eq!(saved.form_json, r#"{"terms_accepted":false}"#);
    assert_eq!(saved.provider_id, provider);

    // A repeated number: neither the order nor a second application is written.
    let repeated = store
        .create_application_order(
            &order("2026112316000000001", org, admin, "draft"),
            &application(provider, "{}"),
        )
        .await;
    assert!(matches!(repeated, Err(StoreError::Conflict("order_no"))));
    // An unknown provider: the order is rolled back with the application.
    let orphan = store
        .create_application_order(
            &order("2026112316000000002", org, admin, "draft"),
            &application(999_999, "{}"),
        )
        .await;
    assert!(orphan.is_err());
    assert!(store
        .order_by_no("2026112316000000002")
        .await
        .unwrap()
        .is_none());

    // The provider filter of the order list finds it, another provider does not.
    let filter = |provider_id| OrderFilter {
        org_id: Some(org),
        provider_id: Some(provider_id),
        limit: 20,
        ..OrderFilter::default()
    };
    assert_eq!(store.orders(&filter(provider)).await.unwrap().len(), 1);
    assert_eq!(store.orders(&filter(provider + 1)).await.unwrap().len(), 0);
}

async fn applications_are_edited_only_while_editable(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &order("2026112316000000003", org, admin, "draft"),
            &application(provider, "{}"),
        )
        .await
        .unwrap();
    let editable = ["draft", "rejected"];
    let mut changed = application(provider, r#"{"terms_accepted":true}"#);
    changed.years = 2;
    assert!(store
        .update_application(created.id, &editable, 79_800, &changed, 1_763_000_050)
        .await
        .unwrap());
    let saved = store.application(created.id).await.unwrap().unwrap();
    assert_eq!((saved.years, saved.updated_at), (2, 1_763_000_050));
    assert_eq!(
        store
            .order_by_no("2026112316000000003")
            .await
            .unwrap()
            .unwrap()
            .amount_fen,
        79_800
    );

    // Submitted: no more edits, and nothing changes.
    assert!(store
        .advance_order(
            created.id,
            &step("draft", "awaiting_initial_review", "submit")
        )
        .await
        .unwrap());
    changed.years = 3;
    assert!(!store
        .update_application(created.id, &editable, 1, &changed, 1_763_000_060)
        .await
        .unwrap());
    let saved = store.application(created.id).await.unwrap().unwrap();
    assert_eq!(saved.years, 2);

    // Uploads: one per kind, replaced by a later one.
    for blob in ["a".repeat(64), "b".repeat(64)] {
        store
            .put_order_upload(
                created.id,
                &OrderUpload {
                    kind: "business_licence".into(),
                    blob_id: blob,
                    file_name: "licence.png".into(),
                    format: "PNG".into(),
                    size_bytes: 10,
                    uploaded_at: 1_763_000_070,
                },
            )
            .await
            .unwrap();
    }
    let uploads = store.order_uploads(created.id).await.unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].blob_id, "b".repeat(64));
    assert!(store.blob_is_referenced(&"b".repeat(64)).await.unwrap());
    assert!(!store.blob_is_referenced(&"a".repeat(64)).await.unwrap());

    // The same bytes as a bank-transfer receipt keep the blob, however the uploads change.
    store
        .submit_offline_transfer(&certdesk_store::NewOfflineTransfer {
            order_id: created.id,
            receipt_blob: &"a".repeat(64),
            receipt_name: "回单.png",
            amount_fen: 100,
            submitted_by: admin,
            submitted_at: 1_763_000_080,
        })
        .await
        .unwrap();
    assert!(store.blob_is_referenced(&"a".repeat(64)).await.unwrap());
}

async fn issuance_is_claimed_once_and_recorded_with_its_step(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &order("2026112316000000004", org, admin, "issuing"),
            &application(provider, "{}"),
        )
        .await
        .unwrap();
    assert!(store.claim_issuance(created.id, 1).await.unwrap());
    assert!(!store.claim_issuance(created.id, 2).await.unwrap());
    store.release_issuance(created.id).await.unwrap();
    assert!(store.claim_issuance(created.id, 3).await.unwrap());

    let ca = store
        .insert_ca_hierarchy(
            &super::ca_key("sm2", "root"),
            &super::ca_key("sm2", "issuing"),
        )
        .await
        .unwrap();
    let cert = store
        .insert_certificate(&NewCertificate {
            serial_hex: "0a1b2c3d4e5f6071",
            issuer_ca_id: ca.1.id,
            algorithm: "sm2",
            profile: "sign",
            org_name: "福州测试科技有限公司",
            credit_code: "91350100M000100Y43",
            not_before: 1_763_000_000,
            not_after: 1_794_536_000,
            der: b"der",
            issued_at: 1_763_000_000,
        })
        .await
        .unwrap();
    let issued = IssuedForOrder {
        signing_certificate_id: cert.id,
        encryption_certificate_id: None,
        envelope_gmt0009: None,
        envelope_skf: None,
    };
    assert!(store
        .complete_issuance(
            created.id,
            &issued,
            &step("issuing", "issued", "mark_issued")
        )
        .await
        .unwrap());
    // Done once: a second completion and a release change nothing.
    assert!(!store
        .complete_issuance(
            created.id,
            &issued,
            &step("issuing", "issued", "mark_issued")
        )
        .await
        .unwrap());
    store.release_issuance(created.id).await.unwrap();
    let issuance = store.issuance(created.id).await.unwrap().unwrap();
    assert_eq!(issuance.signing_certificate_id, Some(cert.id));
    let listed = store.org_certificates(org).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].serial_hex.as_str(),
            listed[0].order_status.as_str()
        ),
        ("0a1b2c3d4e5f6071", "issued")
    );
    // Another organisation sees none of it.
    let (other, _) = organisation_admin(store, "91110000100000589B", "other").await;
    assert!(store.org_certificates(other).await.unwrap().is_empty());
}

async fn delivery_and_receipt_move_the_order(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &order("2026112316000000005", org, admin, "issued"),
            &application(provider, "{}"),
        )
        .await
        .unwrap();
    assert!(store
        .ship_order(
            created.id,
            "顺丰速运",
            "SF1234567890",
            &step("issued", "shipping", "ship")
        )
        .await
        .unwrap());
    // Shipping twice is refused by the status check, and records nothing more.
    assert!(!store
        .ship_order(created.id, "EMS", "E1", &step("issued", "shipping", "ship"))
        .await
        .unwrap());
    assert!(store
        .confirm_receipt(
            created.id,
            &step("shipping", "completed", "confirm_receipt")
        )
        .await
        .unwrap());
    let delivery = store.delivery(created.id).await.unwrap().unwrap();
    assert_eq!(delivery.courier.as_deref(), Some("顺丰速运"));
    assert_eq!(delivery.tracking_no.as_deref(), Some("SF1234567890"));
    assert_eq!(delivery.received_at, Some(1_763_000_100));
    let events = store.order_events(created.id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["ship", "confirm_receipt"]
    );
}

async fn first_free_is_taken_by_one_submission_at_a_time(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let provider = provider_id(store).await;
    let mut drafts = Vec::new();
    for no in [
        "2026112316000000011",
        "2026112316000000012",
        "2026112316000000013",
    ] {
        let created = store
            .create_application_order(
                &order(no, org, admin, "draft"),
                &application(provider, "{}"),
            )
            .await
            .unwrap();
        drafts.push(created.id);
    }
    // Two drafts submitted in the same instant: exactly one takes 首张免费.
    let (a, b) = tokio::join!(
        store.take_first_free(org, drafts[0]),
        store.take_first_free(org, drafts[1])
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "both or neither took it: {a} {b}");
    let (winner, loser) = if a {
        (drafts[0], drafts[1])
    } else {
        (drafts[1], drafts[0])
    };
    assert!(store.first_free_taken(org, Some(loser)).await.unwrap());
    assert!(!store.first_free_taken(org, Some(winner)).await.unwrap());

    // The winner's submission failed while it was still a draft: it gives 首张免费 back.
    store
        .release_first_free_of_unsubmitted(winner, &["draft", "rejected"])
        .await
        .unwrap();
    assert!(!store.first_free_taken(org, Some(loser)).await.unwrap());
    assert!(store.take_first_free(org, loser).await.unwrap());

    // Submitted (no longer a draft), it keeps it against a late release and other drafts.
    let submit = step("draft", "awaiting_initial_review", "submit");
    assert!(store.advance_order(loser, &submit).await.unwrap());
    store
        .release_first_free_of_unsubmitted(loser, &["draft", "rejected"])
        .await
        .unwrap();
    assert!(!store.take_first_free(org, drafts[2]).await.unwrap());
    store.clear_first_free(loser).await.unwrap();
    assert!(store.take_first_free(org, drafts[2]).await.unwrap());
}
