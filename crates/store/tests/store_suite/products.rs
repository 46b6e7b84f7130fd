//! Products, vouchers and the "first certificate" fact on both engines.

use certdesk_domain::product::{KeyAlgorithm, Medium, ProductSpec};
use certdesk_domain::{BusinessType, OrderAction, OrderStatus, Role};
use certdesk_store::testing::{put_order_in_status, test_step};
use certdesk_store::{NewAccount, NewOrder, NewVoucher, Redemption, Store};

on_both_engines!(
    products_are_created_listed_and_updated,
    vouchers_are_redeemed_once_and_released,
    the_first_certificate_is_known_from_issued_orders,
);

fn spec(name: &str) -> ProductSpec {
    ProductSpec {
        name: name.into(),
        medium: Medium::UKey,
        algorithm: KeyAlgorithm::Sm2,
        dual: true,
        min_years: 1,
        max_years: 3,
        price_per_year_fen: 39_900,
        sub_price_per_year_fen: 20_000,
        first_free: true,
        active: true,
    }
}

/// Two organisations, each with its admin: (org id, admin id).
async fn two_orgs(store: &Store) -> ((i64, i64), (i64, i64)) {
    let admin = |username| NewAccount {
        username,
        display_name: "管理员",
        role: Role::OrgAdmin,
        org_id: None,
        password_hash: "x",
        created_at: 0,
    };
    let (a, a_admin) = store
        .register_organisation("甲公司", "91350100M000100Y43", &admin("a.admin"), "test")
        .await
        .unwrap();
    let (b, b_admin) = store
        .register_organisation("乙公司", "91110108MA01W4JK2X", &admin("b.admin"), "test")
        .await
        .unwrap();
    ((a.id, a_admin.id), (b.id, b_admin.id))
}

async fn order(store: &Store, no: &str, org: (i64, i64), status: OrderStatus) -> i64 {
    let id = store
        .create_order(&NewOrder {
            order_no: no,
            org_id: org.0,
            kind: BusinessType::NewCertificate,
            amount_fen: 39_900,
            created_by: org.1,
            on_behalf: false,
            created_at: 100,
        })
        .await
        .unwrap()
        .id;
    put_order_in_status(store, id, status).await;
    id
}

async fn products_are_created_listed_and_updated(store: &Store) {
    assert!(store.products(false).await.unwrap().is_empty());
    let providers = store.ca_providers().await.unwrap();
    let own = providers.iter().find(|p| p.operated_here).unwrap();
    let ukey = store
        .create_product(
            own.id,
            &spec("SM2 双证书 UKey"),
            100,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert_eq!(ukey.spec, spec("SM2 双证书 UKey"));
    assert_eq!(ukey.provider_name, own.name);
    let mut mobile = spec("SM2 移动版");
    mobile.medium = Medium::Mobile;
    mobile.algorithm = KeyAlgorithm::P256;
    mobile.dual = false;
    mobile.first_free = false;
    let mobile = store
        .create_product(
            own.id,
            &mobile,
            101,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert_eq!(mobile.spec.medium, Medium::Mobile);
    assert_eq!(mobile.spec.algorithm, KeyAlgorithm::P256);
    assert!(!mobile.spec.dual && !mobile.spec.first_free);

    let mut stopped = ukey.spec.clone();
    stopped.active = false;
    stopped.price_per_year_fen = 29_900;
    let updated = store
        .update_product(
            ukey.id,
            &stopped,
            200,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.spec, stopped);
    assert_eq!((updated.created_at, updated.updated_at), (100, 200));
    assert_eq!(
        store
            .update_product(
                9_999,
                &stopped,
                200,
                &certdesk_store::testing::test_audit_note()
            )
            .await
            .unwrap(),
        None
    );

    let all: Vec<i64> = store
        .products(false)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(all, vec![ukey.id, mobile.id]);
    let active: Vec<i64> = store
        .products(true)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(active, vec![mobile.id]);
    assert_eq!(store.product_by_id(9_999).await.unwrap(), None);
}

async fn vouchers_are_redeemed_once_and_released(store: &Store) {
    let (a, b) = two_orgs(store).await;
    let first = order(store, "20261123000000000001", a, OrderStatus::Draft).await;
    let second = order(store, "20261123000000000002", a, OrderStatus::Draft).await;
    let theirs = order(store, "20261123000000000003", b, OrderStatus::Draft).await;
    let voucher = |code, org_id, valid_until| NewVoucher {
        code,
        amount_fen: 10_000,
        valid_until,
        org_id,
        created_at: 50,
    };
    let any = store
        .create_voucher(
            &voucher("ANY-1", None, 1_000),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert_eq!(any.redeemed_order_id, None);
    assert!(matches!(
        store
            .create_voucher(
                &voucher("ANY-1", None, 1_000),
                &certdesk_store::testing::test_audit_note()
            )
            .await,
        Err(certdesk_store::StoreError::Conflict("code"))
    ));
    store
        .create_voucher(
            &voucher("A-ONLY", Some(a.0), 1_000),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    store
        .create_voucher(
            &voucher("OLD", None, 500),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();

    // Redeemed once; again for the same order is fine; for another order it is used.
    let Redemption::Redeemed(v) = store
        .redeem_voucher("ANY-1", a.0, first, 400)
        .await
        .unwrap()
    else {
        panic!("not redeemed")
    };
    assert_eq!(
        (v.redeemed_order_id, v.redeemed_at),
        (Some(first), Some(400))
    );
    assert!(matches!(
        store
            .redeem_voucher("ANY-1", a.0, first, 401)
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    assert_eq!(
        store
            .redeem_voucher("ANY-1", a.0, second, 402)
            .await
            .unwrap(),
        Redemption::AlreadyUsed
    );
    assert_eq!(
        store
            .redeem_voucher("A-ONLY", b.0, theirs, 400)
            .await
            .unwrap(),
        Redemption::OtherOrganisation
    );
    assert_eq!(
        store.redeem_voucher("OLD", a.0, second, 500).await.unwrap(),
        Redemption::Expired
    );
    assert_eq!(
        store
            .redeem_voucher("NOPE", a.0, second, 400)
            .await
            .unwrap(),
        Redemption::UnknownCode
    );
    // Nothing refused changed anything.
    assert_eq!(
        store
            .voucher_by_code("A-ONLY")
            .await
            .unwrap()
            .unwrap()
            .redeemed_order_id,
        None
    );
    assert_eq!(
        store
            .voucher_by_code("OLD")
            .await
            .unwrap()
            .unwrap()
            .redeemed_order_id,
        None
    );
    assert_eq!(
        store.voucher_of_order(first).await.unwrap().unwrap().code,
        "ANY-1"
    );

    // Two orders racing for one voucher: exactly one wins.
    let (x, y) = tokio::join!(
        store.redeem_voucher("A-ONLY", a.0, first, 410),
        store.redeem_voucher("A-ONLY", a.0, second, 410)
    );
    let wins = [x.unwrap(), y.unwrap()]
        .iter()
        .filter(|r| matches!(r, Redemption::Redeemed(_)))
        .count();
    assert_eq!(wins, 1);

    // A withdrawn order gives its voucher back with its step; it can be used again.
    let withdrawn = store.order_by_id(first).await.unwrap().unwrap();
    assert!(store
        .apply_step(&test_step(&withdrawn, OrderAction::Withdraw, 0))
        .await
        .unwrap());
    assert_eq!(store.voucher_of_order(first).await.unwrap(), None);
    assert!(matches!(
        store
            .redeem_voucher("ANY-1", a.0, second, 420)
            .await
            .unwrap(),
        Redemption::Redeemed(_)
    ));
    assert_eq!(store.vouchers().await.unwrap().len(), 3);
}

async fn the_first_certificate_is_known_from_issued_orders(store: &Store) {
    let (a, b) = two_orgs(store).await;
    for (i, status) in [
        OrderStatus::Draft,
        OrderStatus::AwaitingPayment,
        OrderStatus::Issuing,
        OrderStatus::Withdrawn,
        OrderStatus::Refunded,
    ]
    .into_iter()
    .enumerate()
    {
        order(store, &format!("2026112300000000010{i}"), a, status).await;
    }
    assert!(!store.org_has_issued_certificate(a.0).await.unwrap());
    for (i, status) in [
        OrderStatus::Issued,
        OrderStatus::Shipping,
        OrderStatus::AwaitingPickup,
        OrderStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let no = format!("2026112300000000020{i}");
        let id = order(store, &no, b, status).await;
        assert!(
            store.org_has_issued_certificate(b.0).await.unwrap(),
            "{status}"
        );
        // One at a time: move it away again before the next status.
        put_order_in_status(store, id, OrderStatus::Draft).await;
        assert!(!store.org_has_issued_certificate(b.0).await.unwrap());
    }
    assert!(!store.org_has_issued_certificate(a.0).await.unwrap());
}
