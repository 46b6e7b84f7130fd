//! Applications behind orders on both engines: created with their order or not at all, edited
//! only while editable, issued once, shipped and received with their status steps.

use certdesk_domain::{BusinessType, OrderAction, OrderStatus, Role};
use certdesk_store::testing::{put_order_in_status, test_step};
use certdesk_store::{
    FixedPrice, IssuanceIntent, IssuanceRecorded, IssuedForOrder, NewApplication, NewCertificate,
    NewOrder, Order, OrderFilter, OrderUpload, RecoveredClaims, SealedKeyArchive, SignedForOrder,
    Store, StoreError, Submission,
};

on_both_engines!(
    an_application_is_created_with_its_order_or_not_at_all,
    applications_are_edited_only_while_editable,
    issuance_is_claimed_once_and_recorded_with_its_step,
    an_issuance_claim_goes_to_one_of_many_at_the_same_instant,
    issuance_is_written_whole_or_not_at_all,
    abandoned_issuance_claims_are_recovered,
    delivery_and_receipt_move_the_order,
    first_free_is_taken_by_one_submission_at_a_time,
);

async fn organisation_admin(store: &Store, credit_code: &str, username: &str) -> (i64, i64) {
    let (org, admin) = store
        .register_organisation(
            "福州测试科技有限公司",
            credit_code,
            &super::new_account(username, Role::OrgAdmin),
            "test",
        )
        .await
        .unwrap();
    (org.id, admin.id)
}

async fn provider_id(store: &Store) -> i64 {
    store.ca_providers().await.unwrap()[0].id
}

fn order(order_no: &str, org_id: i64, admin_id: i64) -> NewOrder<'_> {
    NewOrder {
        order_no,
        org_id,
        kind: BusinessType::NewCertificate,
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

/// An application order put in `status` (as if its workflow had brought it there).
async fn application_in(store: &Store, new: NewOrder<'_>, status: OrderStatus) -> Order {
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &new,
            &application(provider, "{}"),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    put_order_in_status(store, created.id, status).await
}

/// Submits a draft as the store's one submission call does.
async fn submit(
    store: &Store,
    order_id: i64,
    first_free: bool,
    voucher: Option<&str>,
) -> Submission {
    let draft = store.order_by_id(order_id).await.unwrap().unwrap();
    let record = test_step(&draft, OrderAction::Submit, 0);
    store
        .submit_order(
            &record,
            &FixedPrice {
                amount_fen: if first_free { 0 } else { 39_900 },
                first_free,
                voucher_code: voucher,
            },
        )
        .await
        .unwrap()
}

async fn an_application_is_created_with_its_order_or_not_at_all(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &order("2026112316000000001", org, admin),
            &application(provider, r#"{"terms_accepted":false}"#),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let saved = store.application(created.id).await.unwrap().unwrap();
    assert_eq!(saved.form_json, r#"{"terms_accepted":false}"#);
    assert_eq!(saved.provider_id, provider);

    // A repeated number: neither the order nor a second application is written.
    let repeated = store
        .create_application_order(
            &order("2026112316000000001", org, admin),
            &application(provider, "{}"),
            &certdesk_store::testing::test_audit_note(),
        )
        .await;
    assert!(matches!(repeated, Err(StoreError::Conflict("order_no"))));
    // An unknown provider: the order is rolled back with the application.
    let orphan = store
        .create_application_order(
            &order("2026112316000000002", org, admin),
            &application(999_999, "{}"),
            &certdesk_store::testing::test_audit_note(),
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
            &order("2026112316000000003", org, admin),
            &application(provider, "{}"),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let mut changed = application(provider, r#"{"terms_accepted":true}"#);
    changed.years = 2;
    assert!(store
        .update_application(created.id, 79_800, &changed, 1_763_000_050)
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
    assert!(matches!(
        submit(store, created.id, false, None).await,
        Submission::Submitted { voucher: None }
    ));
    changed.years = 3;
    assert!(!store
        .update_application(created.id, 1, &changed, 1_763_000_060)
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
        .submit_offline_transfer(
            &certdesk_store::NewOfflineTransfer {
                order_id: created.id,
                receipt_blob: &"a".repeat(64),
                receipt_name: "回单.png",
                amount_fen: 100,
                submitted_by: admin,
                submitted_at: 1_763_000_080,
            },
            &certdesk_store::testing::test_audit_note(),
            "order:test",
        )
        .await
        .unwrap();
    assert!(store.blob_is_referenced(&"a".repeat(64)).await.unwrap());
}

fn intent(serial_hex: &str) -> IssuanceIntent<'_> {
    IssuanceIntent {
        serial_hex,
        encryption_serial_hex: None,
        public_key_sha256: Some("ab12"),
    }
}

fn signed<'a>(serial_hex: &'a str, issuer_ca_id: i64, profile: &'a str) -> SignedForOrder<'a> {
    SignedForOrder {
        certificate: NewCertificate {
            serial_hex,
            issuer_ca_id,
            algorithm: "sm2",
            profile,
            org_name: "福州测试科技有限公司",
            credit_code: "91350100M000100Y43",
            not_before: 1_763_000_000,
            not_after: 1_794_536_000,
            der: b"der",
            issued_at: 1_763_000_000,
        },
        key_archive: None,
    }
}

/// A dual pair whose encryption key is archived, as the CA hands it over.
fn dual<'a>(sign: &'a str, enc: &'a str, issuer_ca_id: i64) -> IssuedForOrder<'a> {
    let mut encryption = signed(enc, issuer_ca_id, "enc");
    encryption.key_archive = Some(SealedKeyArchive {
        kmk_id: "kmk-1",
        archive_der: b"sealed",
    });
    IssuedForOrder {
        signing: signed(sign, issuer_ca_id, "sign"),
        encryption: Some(encryption),
        envelope_gmt0009: Some(b"gmt0009"),
        envelope_skf: Some(b"skf"),
    }
}

async fn issuing_order(store: &Store, order_no: &str, org: i64, admin: i64) -> i64 {
    let provider = provider_id(store).await;
    let created = store
        .create_application_order(
            &order(order_no, org, admin),
            &application(provider, "{}"),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    put_order_in_status(store, created.id, OrderStatus::Issuing)
        .await
        .id
}

/// The order as a request saw it while it was being issued: its step starts at 制证中.
async fn seen_issuing(store: &Store, order_id: i64) -> Order {
    Order {
        status: OrderStatus::Issuing,
        ..store.order_by_id(order_id).await.unwrap().unwrap()
    }
}

async fn issuing_ca(store: &Store) -> i64 {
    store
        .insert_ca_hierarchy(
            &super::ca_key("sm2", "root"),
            &super::ca_key("sm2", "issuing"),
        )
        .await
        .unwrap()
        .1
        .id
}

const UNLINKED: &str = "cessationOfOperation";

async fn issuance_is_claimed_once_and_recorded_with_its_step(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let order_id = issuing_order(store, "2026112316000000004", org, admin).await;
    let ca = issuing_ca(store).await;
    assert!(store
        .claim_issuance(order_id, &intent("0a01"), 1)
        .await
        .unwrap());
    assert!(!store
        .claim_issuance(order_id, &intent("0a02"), 2)
        .await
        .unwrap());
    // Only the intent's own serial releases its claim.
    store.release_issuance(order_id, "0a02").await.unwrap();
    assert!(!store
        .claim_issuance(order_id, &intent("0a03"), 2)
        .await
        .unwrap());
    store.release_issuance(order_id, "0a01").await.unwrap();
    let both = IssuanceIntent {
        serial_hex: "0a1b2c3d4e5f6071",
        encryption_serial_hex: Some("0a1b2c3d4e5f6072"),
        public_key_sha256: Some("ab12"),
    };
    assert!(store.claim_issuance(order_id, &both, 3).await.unwrap());
    let claim = &store.stale_issuance_claims(3).await.unwrap()[0];
    assert_eq!(
        (
            claim.serial_hex.as_deref(),
            claim.encryption_serial_hex.as_deref(),
            claim.public_key_sha256.as_deref()
        ),
        (
            Some("0a1b2c3d4e5f6071"),
            Some("0a1b2c3d4e5f6072"),
            Some("ab12")
        )
    );
    // Another order cannot take an intent's serial.
    let other_order = issuing_order(store, "2026112316000000005", org, admin).await;
    assert!(matches!(
        store
            .claim_issuance(other_order, &intent("0a1b2c3d4e5f6071"), 3)
            .await,
        Err(StoreError::Conflict("serial"))
    ));

    let recorded = store
        .complete_issuance(
            order_id,
            &dual("0a1b2c3d4e5f6071", "0a1b2c3d4e5f6072", ca),
            &test_step(
                &seen_issuing(store, order_id).await,
                OrderAction::MarkIssued,
                0,
            ),
            UNLINKED,
        )
        .await
        .unwrap();
    let IssuanceRecorded::Linked {
        signing,
        encryption: Some(encryption),
    } = recorded
    else {
        panic!("not linked: {recorded:?}");
    };
    // Certificates, the encryption key's archive, the link and the step: all there.
    assert!(store.key_archive(encryption.id).await.unwrap().is_some());
    assert!(store.key_archive(signing.id).await.unwrap().is_none());
    let issuance = store.issuance(order_id).await.unwrap().unwrap();
    assert_eq!(issuance.signing_certificate_id, Some(signing.id));
    assert_eq!(issuance.encryption_certificate_id, Some(encryption.id));
    assert_eq!(issuance.envelope_skf.as_deref(), Some(&b"skf"[..]));
    assert_eq!(
        store.order_by_id(order_id).await.unwrap().unwrap().status,
        OrderStatus::Issued
    );
    assert!(store
        .stale_issuance_claims(i64::MAX)
        .await
        .unwrap()
        .is_empty());
    // Both certificates are on the audit chain with the order, written with them.
    let order_no = store.order_by_id(order_id).await.unwrap().unwrap().order_no;
    let issued: Vec<_> = store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "certificate_issued")
        .map(|e| (e.object, e.detail))
        .collect();
    assert_eq!(issued.len(), 2, "{issued:?}");
    for (serial, (object, detail)) in [&signing.serial_hex, &encryption.serial_hex]
        .into_iter()
        .zip(&issued)
    {
        assert_eq!(object, &format!("certificate:{serial}"));
        assert!(
            detail.starts_with(&format!("order={order_no} ")),
            "{detail}"
        );
    }
    // Done once: a release changes nothing, and certificates signed again for the order are
    // recorded revoked (the order has them already).
    store
        .release_issuance(order_id, "0a1b2c3d4e5f6071")
        .await
        .unwrap();
    let counter = store.revocation_counter().await.unwrap();
    let again = store
        .complete_issuance(
            order_id,
            &dual("0b01", "0b02", ca),
            &test_step(
                &seen_issuing(store, order_id).await,
                OrderAction::MarkIssued,
                0,
            ),
            UNLINKED,
        )
        .await
        .unwrap();
    let IssuanceRecorded::Revoked(revoked) = again else {
        panic!("linked twice: {again:?}");
    };
    assert_eq!(revoked.len(), 2);
    for serial in ["0b01", "0b02"] {
        let record = store.certificate_by_serial(serial).await.unwrap().unwrap();
        assert_eq!(record.revocation_reason.as_deref(), Some(UNLINKED));
        assert!(store.key_archive(record.id).await.unwrap().is_none());
    }
    assert_eq!(store.revocation_counter().await.unwrap(), counter + 2);
    let issuance = store.issuance(order_id).await.unwrap().unwrap();
    assert_eq!(issuance.signing_certificate_id, Some(signing.id));
    let listed = store.org_certificates(org).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|c| c.order_status == "issued"));
    // Another organisation sees none of it.
    let (other, _) = organisation_admin(store, "91110000100000589B", "other").await;
    assert!(store.org_certificates(other).await.unwrap().is_empty());
}

async fn issuance_is_written_whole_or_not_at_all(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let ca = issuing_ca(store).await;
    // A serial already used (2^-127, but the database is the judge): nothing is written.
    store
        .insert_certificate(&signed("0c02", ca, "sign").certificate)
        .await
        .unwrap();
    let order_id = issuing_order(store, "2026112316000000006", org, admin).await;
    assert!(store
        .claim_issuance(order_id, &intent("0c01"), 10)
        .await
        .unwrap());
    let failed = store
        .complete_issuance(
            order_id,
            &dual("0c01", "0c02", ca),
            &test_step(
                &seen_issuing(store, order_id).await,
                OrderAction::MarkIssued,
                0,
            ),
            UNLINKED,
        )
        .await;
    assert!(
        matches!(failed, Err(StoreError::Conflict("serial"))),
        "{failed:?}"
    );
    assert!(store.certificate_by_serial("0c01").await.unwrap().is_none());
    let issuance = store.issuance(order_id).await.unwrap().unwrap();
    assert_eq!(issuance.signing_certificate_id, None);
    assert_eq!(
        store.order_by_id(order_id).await.unwrap().unwrap().status,
        OrderStatus::Issuing
    );

    // The order moved on under the claim (e.g. closed by staff): the certificates are
    // recorded revoked, the claim goes, and the order keeps its new status.
    put_order_in_status(store, order_id, OrderStatus::Refunding).await;
    let recorded = store
        .complete_issuance(
            order_id,
            &dual("0c01", "0c03", ca),
            &test_step(
                &seen_issuing(store, order_id).await,
                OrderAction::MarkIssued,
                0,
            ),
            UNLINKED,
        )
        .await
        .unwrap();
    assert!(
        matches!(&recorded, IssuanceRecorded::Revoked(r) if r.len() == 2),
        "{recorded:?}"
    );
    assert!(store.issuance(order_id).await.unwrap().is_none());
    assert_eq!(
        store.order_by_id(order_id).await.unwrap().unwrap().status,
        OrderStatus::Refunding
    );
    let record = store.certificate_by_serial("0c01").await.unwrap().unwrap();
    assert!(record.revoked_at.is_some());
}

async fn abandoned_issuance_claims_are_recovered(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let ca = issuing_ca(store).await;
    // A: claimed and crashed before signing — no certificate.
    let a = issuing_order(store, "2026112316000000011", org, admin).await;
    assert!(store.claim_issuance(a, &intent("0d01"), 100).await.unwrap());
    // B: a certificate with B's serial exists and is linked to nothing (written by a path
    // that could not link it), valid.
    let b = issuing_order(store, "2026112316000000012", org, admin).await;
    let both = IssuanceIntent {
        serial_hex: "0d02",
        encryption_serial_hex: Some("0d03"),
        public_key_sha256: None,
    };
    assert!(store.claim_issuance(b, &both, 200).await.unwrap());
    store
        .insert_certificate(&signed("0d03", ca, "enc").certificate)
        .await
        .unwrap();
    // C: claimed just now — a request still at work.
    let c = issuing_order(store, "2026112316000000013", org, admin).await;
    assert!(store.claim_issuance(c, &intent("0d04"), 900).await.unwrap());
    // D: finished long ago.
    let d = issuing_order(store, "2026112316000000014", org, admin).await;
    assert!(store.claim_issuance(d, &intent("0d05"), 50).await.unwrap());
    store
        .complete_issuance(
            d,
            &IssuedForOrder {
                signing: signed("0d05", ca, "sign"),
                encryption: None,
                envelope_gmt0009: None,
                envelope_skf: None,
            },
            &test_step(&seen_issuing(store, d).await, OrderAction::MarkIssued, 0),
            UNLINKED,
        )
        .await
        .unwrap();

    let counter = store.revocation_counter().await.unwrap();
    let recovered = store
        .recover_issuance_claims(500, 1000, UNLINKED)
        .await
        .unwrap();
    assert_eq!(recovered.released, vec![a, b]);
    assert_eq!(recovered.revoked.len(), 1);
    assert_eq!(recovered.revoked[0].serial_hex, "0d03");
    assert_eq!(recovered.revoked[0].revoked_at, Some(1000));
    let record = store.certificate_by_serial("0d03").await.unwrap().unwrap();
    assert_eq!(
        (record.revoked_at, record.revocation_reason.as_deref()),
        (Some(1000), Some(UNLINKED))
    );
    assert_eq!(store.revocation_counter().await.unwrap(), counter + 1);
    // A and B can be issued again; C is still claimed; D stays issued and valid.
    assert!(store.issuance(a).await.unwrap().is_none());
    assert!(store.issuance(b).await.unwrap().is_none());
    assert!(store.issuance(c).await.unwrap().is_some());
    let linked = store.certificate_by_serial("0d05").await.unwrap().unwrap();
    assert!(linked.revoked_at.is_none());
    let unclaimed: Vec<i64> = store
        .unclaimed_orders(OrderStatus::Issuing, i64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(unclaimed, vec![a, b]);
    assert!(store
        .unclaimed_orders(OrderStatus::Issuing, 0)
        .await
        .unwrap()
        .is_empty());
    // Once recovered, nothing is left to do; C is recovered when it is old enough.
    assert_eq!(
        store
            .recover_issuance_claims(500, 1000, UNLINKED)
            .await
            .unwrap(),
        RecoveredClaims::default()
    );
    let later = store
        .recover_issuance_claims(1000, 1100, UNLINKED)
        .await
        .unwrap();
    assert_eq!(later.released, vec![c]);
    assert!(later.revoked.is_empty());
}

async fn delivery_and_receipt_move_the_order(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "boss").await;
    let created = application_in(
        store,
        order("2026112316000000005", org, admin),
        OrderStatus::Issued,
    )
    .await;
    let ship = test_step(&created, OrderAction::Ship, 0);
    assert!(store
        .ship_order(created.id, "顺丰速运", "SF1234567890", &ship)
        .await
        .unwrap());
    // Shipping twice is refused by the status check, and records nothing more.
    assert!(!store
        .ship_order(created.id, "EMS", "E1", &ship)
        .await
        .unwrap());
    let shipping = store.order_by_id(created.id).await.unwrap().unwrap();
    assert!(store
        .confirm_receipt(
            created.id,
            &test_step(&shipping, OrderAction::ConfirmReceipt, 0)
        )
        .await
        .unwrap());
    let delivery = store.delivery(created.id).await.unwrap().unwrap();
    assert_eq!(delivery.courier.as_deref(), Some("顺丰速运"));
    assert_eq!(delivery.tracking_no.as_deref(), Some("SF1234567890"));
    assert_eq!(delivery.received_at, Some(1_763_000_100));
    let events = store.order_events(created.id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action).collect::<Vec<_>>(),
        vec![OrderAction::Ship, OrderAction::ConfirmReceipt]
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
                &order(no, org, admin),
                &application(provider, "{}"),
                &certdesk_store::testing::test_audit_note(),
            )
            .await
            .unwrap();
        drafts.push(created.id);
    }
    // Two drafts submitted in the same instant: exactly one takes 首张免费; the other is
    // refused and nothing of it is written.
    let (a, b) = tokio::join!(
        submit(store, drafts[0], true, None),
        submit(store, drafts[1], true, None)
    );
    let (winner, loser) = match (a, b) {
        (Submission::Submitted { .. }, Submission::FirstFreeTaken) => (drafts[0], drafts[1]),
        (Submission::FirstFreeTaken, Submission::Submitted { .. }) => (drafts[1], drafts[0]),
        other => panic!("both or neither took it: {other:?}"),
    };
    let status = |id| async move { store.order_by_id(id).await.unwrap().unwrap() };
    assert_eq!(
        status(winner).await.status,
        OrderStatus::AwaitingInitialReview
    );
    let refused = status(loser).await;
    assert_eq!(
        (refused.status, refused.amount_fen),
        (OrderStatus::Draft, 39_900)
    );
    assert!(store.first_free_taken(org, Some(loser)).await.unwrap());
    assert!(!store.first_free_taken(org, Some(winner)).await.unwrap());
    assert!(store.order_events(loser).await.unwrap().is_empty());

    // A submission refused for its voucher writes nothing either: no step, no price.
    assert!(matches!(
        submit(store, loser, false, Some("NOSUCHCODE")).await,
        Submission::VoucherRefused(certdesk_store::Redemption::UnknownCode)
    ));
    assert_eq!(status(loser).await.status, OrderStatus::Draft);

    // The winner priced in full after all: the next draft may take it.
    store.clear_first_free(winner).await.unwrap();
    assert!(matches!(
        submit(store, drafts[2], true, None).await,
        Submission::Submitted { .. }
    ));
}

/// Eight requests claim the same order's issuance at the same instant, each with its own
/// serials: exactly one wins, and only its intent is kept.
async fn an_issuance_claim_goes_to_one_of_many_at_the_same_instant(store: &Store) {
    let (org, admin) = organisation_admin(store, "91350100M000100Y43", "racer").await;
    let order_id = issuing_order(store, "2026112316000000099", org, admin).await;
    let serials: Vec<String> = (0..8).map(|i| format!("0e{i:02}")).collect();
    let claims = serials.iter().map(|serial| {
        let store = store.clone();
        let serial = serial.clone();
        tokio::spawn(async move {
            store
                .claim_issuance(order_id, &intent(&serial), 10)
                .await
                .map(|won| won.then_some(serial))
        })
    });
    let mut winners = Vec::new();
    for claim in claims.collect::<Vec<_>>() {
        if let Some(serial) = claim.await.unwrap().unwrap() {
            winners.push(serial);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let kept = store.stale_issuance_claims(10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].serial_hex.as_deref(), Some(winners[0].as_str()));
}
