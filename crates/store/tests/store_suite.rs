//! The store suite: every test runs on SQLite and on a real PostgreSQL server, in the same run.

use certdesk_domain::{BusinessType, OrderAction, OrderStatus, Role};
use certdesk_store::testing::{postgres_store, put_order_in_status, sqlite_store, test_step};
use certdesk_store::{
    BindingFilter, Challenge, CrlRecord, Engine, ForeignCrl, NewAccount, NewBinding, NewCaKey,
    NewCertificate, NewProviderCa, RevokeOutcome, Session, Store, StoreError,
};

/// Declares `$name` once per engine: `$name::sqlite` and `$name::postgres`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = certdesk_store::testing::sqlite_store().await;
                assert_eq!(store.engine(), certdesk_store::Engine::Sqlite);
                super::$name(&store).await;
                store.close().await;
            }
            #[tokio::test]
            async fn postgres() {
                let store = certdesk_store::testing::postgres_store().await;
                assert_eq!(store.engine(), certdesk_store::Engine::Postgres);
                super::$name(&store).await;
                store.close().await;
            }
        }
    )*};
}

on_both_engines!(
    accounts_are_created_and_found,
    usernames_are_unique,
    sessions_live_expire_and_end,
    ping_answers,
    ca_hierarchies_are_stored_whole_and_once,
    an_issuing_ca_is_replaced_and_the_old_one_kept_retired,
    issuing_cas_replaced_at_once_leave_one_in_service,
    an_account_disabled_at_once_by_many_is_disabled_and_audited_once,
    a_flash_taken_at_once_by_many_is_shown_once,
    certificate_serials_are_unique,
    revocation_is_recorded_once_and_counted,
    crl_numbers_increase_and_never_repeat,
    organisations_register_with_their_admin_or_not_at_all,
    api_tokens_authenticate_until_revoked,
    rate_slots_are_taken_in_their_window,
    flashes_are_shown_once_and_go_with_their_session,
    rate_slots_taken_at_once_never_exceed_the_limit,
    challenges_are_used_once,
    a_challenge_answered_at_once_by_many_is_used_once,
    providers_are_seeded_and_bindings_are_unique,
    sandbox_trades_are_one_per_order_and_settle_once,
    offline_transfers_pay_once_and_only_while_pending,
    refunds_are_requested_and_completed_once,
    foreign_crls_are_kept_newest_first,
);

// The audit log's tests live in their own file; `on_both_engines!` reaches them from here.
#[path = "store_suite/applications.rs"]
mod applications;
#[path = "store_suite/audit.rs"]
mod audit;
#[path = "store_suite/claims.rs"]
mod claims;
#[path = "store_suite/identity.rs"]
mod identity;
#[path = "store_suite/outbox.rs"]
mod outbox;
#[path = "store_suite/productions.rs"]
mod productions;
#[path = "store_suite/products.rs"]
mod products;
#[path = "store_suite/renewals.rs"]
mod renewals;

fn new_account(username: &str, role: Role) -> NewAccount<'_> {
    NewAccount {
        username,
        display_name: "张三",
        role,
        org_id: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        created_at: 1_763_000_000,
    }
}

async fn accounts_are_created_and_found(store: &Store) {
    assert_eq!(
        store
            .count_accounts_with_role(Role::SystemAdmin)
            .await
            .unwrap(),
        0
    );
    let created = store
        .create_account(
            &new_account("admin", Role::SystemAdmin),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert_eq!(created.username, "admin");
    assert_eq!(created.display_name, "张三");
    assert_eq!(created.role, Role::SystemAdmin);
    assert!(!created.disabled);

    let by_name = store.account_by_username("admin").await.unwrap().unwrap();
    assert_eq!(by_name, created);
    let by_id = store.account_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(by_id, created);
    assert!(store.account_by_username("nobody").await.unwrap().is_none());
    assert_eq!(
        store
            .count_accounts_with_role(Role::SystemAdmin)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_accounts_with_role(Role::Employee)
            .await
            .unwrap(),
        0
    );

    assert!(store
        .set_password_hash(
            created.id,
            "new-hash",
            None,
            0,
            &certdesk_store::testing::test_audit_note()
        )
        .await
        .unwrap());
    let changed = store.account_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(changed.password_hash, "new-hash");
    assert!(!store
        .set_password_hash(
            created.id + 1000,
            "x",
            None,
            0,
            &certdesk_store::testing::test_audit_note()
        )
        .await
        .unwrap());
}

async fn usernames_are_unique(store: &Store) {
    store
        .create_account(
            &new_account("li.si", Role::Employee),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let second = store
        .create_account(
            &new_account("li.si", Role::OrgAdmin),
            &certdesk_store::testing::test_audit_note(),
        )
        .await;
    assert!(
        matches!(second, Err(StoreError::Conflict("username"))),
        "{second:?}"
    );
    // The refused insert left nothing behind.
    assert_eq!(
        store
            .count_accounts_with_role(Role::OrgAdmin)
            .await
            .unwrap(),
        0
    );
}

async fn sessions_live_expire_and_end(store: &Store) {
    let account = store
        .create_account(
            &new_account("wang.wu", Role::OrgAdmin),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let session = Session {
        token_hash: "a".repeat(64),
        account_id: account.id,
        csrf_token: "csrf-1".into(),
        created_at: 1000,
        expires_at: 2000,
    };
    store
        .create_session(&session, &certdesk_store::testing::test_audit_event())
        .await
        .unwrap();
    let live = store
        .live_session(&session.token_hash, 1999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.session, session);
    assert_eq!(live.account, account);
    assert!(store
        .live_session(&session.token_hash, 2000)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .live_session(&"b".repeat(64), 1500)
        .await
        .unwrap()
        .is_none());

    let other = Session {
        token_hash: "c".repeat(64),
        expires_at: 5000,
        ..session.clone()
    };
    store
        .create_session(&other, &certdesk_store::testing::test_audit_event())
        .await
        .unwrap();
    assert_eq!(store.delete_expired_sessions(2000).await.unwrap(), 1);
    assert!(store
        .delete_session(
            &other.token_hash,
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());
    assert!(!store
        .delete_session(
            &other.token_hash,
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());
}

async fn ping_answers(store: &Store) {
    store.ping().await.unwrap();
}

#[tokio::test]
async fn both_engines_are_really_used() {
    let (sqlite, _dir) = sqlite_store().await;
    let postgres = postgres_store().await;
    assert_eq!(sqlite.engine(), Engine::Sqlite);
    assert_eq!(postgres.engine(), Engine::Postgres);
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_error() {
    // Port 1 on loopback: nothing listens there.
    let err = Store::open("postgres://certdesk:secret@127.0.0.1:1/certdesk")
        .await
        .err()
        .expect("connecting to a closed port must fail");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot connect to database"),
        "{message}"
    );
    assert!(!message.contains("secret"), "password leaked: {message}");
}

fn ca_key<'a>(algorithm: &'a str, role: &'a str) -> NewCaKey<'a> {
    NewCaKey {
        algorithm,
        role,
        certificate_der: &[0x30, 0x03, 0x02, 0x01, 0x01],
        private_key_pem: "-----BEGIN ENCRYPTED PRIVATE KEY-----",
        created_at: 1000,
    }
}

async fn ca_hierarchies_are_stored_whole_and_once(store: &Store) {
    let (root, issuing) = store
        .insert_ca_hierarchy(&ca_key("sm2", "root"), &ca_key("sm2", "issuing"))
        .await
        .unwrap();
    assert_eq!(
        (root.role.as_str(), issuing.role.as_str()),
        ("root", "issuing")
    );
    assert_eq!(issuing.certificate_der, vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    // A second hierarchy for the same algorithm is refused whole: not even its root is kept.
    let again = store
        .insert_ca_hierarchy(&ca_key("p256", "root"), &ca_key("sm2", "issuing"))
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict("ca_key"))),
        "{again:?}"
    );
    let keys = store.ca_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.algorithm == "sm2"));
}

async fn issuing_cas_replaced_at_once_leave_one_in_service(store: &Store) {
    store
        .insert_ca_hierarchy(&ca_key("p256", "root"), &ca_key("p256", "issuing"))
        .await
        .unwrap();
    let tries: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .replace_issuing_ca(
                        &ca_key("p256", "issuing"),
                        100 + n,
                        &certdesk_store::testing::test_audit_note(),
                    )
                    .await
            })
        })
        .collect();
    let mut replaced = 0;
    for attempt in tries {
        match attempt.await.unwrap() {
            Ok(_) => replaced += 1,
            // Another replacement took the row first: refused whole, nothing written.
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(replaced >= 1);
    let keys = store.ca_keys().await.unwrap();
    let issuing: Vec<_> = keys.iter().filter(|k| k.role != "root").collect();
    assert_eq!(
        issuing.iter().filter(|k| k.retired_at.is_none()).count(),
        1,
        "one issuing CA in service: {issuing:?}"
    );
    assert_eq!(issuing.len(), replaced + 1, "each replacement retired one");
    let audited = store
        .audit_chain()
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "ca_issuing_replaced")
        .count();
    assert_eq!(audited, replaced);
}

async fn an_account_disabled_at_once_by_many_is_disabled_and_audited_once(store: &Store) {
    let account = store
        .create_account(
            &new_account("many.admins", Role::Employee),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .set_account_disabled(
                        account.id,
                        true,
                        500,
                        &certdesk_store::testing::test_audit_note(),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut changed = 0;
    for attempt in tries {
        changed += usize::from(attempt.await.unwrap());
    }
    assert_eq!(changed, 1);
    assert!(
        store
            .account_by_id(account.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    let audited = store
        .audit_chain()
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "account_disabled")
        .count();
    assert_eq!(audited, 1);
}

async fn a_flash_taken_at_once_by_many_is_shown_once(store: &Store) {
    let session = signed_in(store, "flash.many", "e").await;
    store
        .put_flash(&session.token_hash, "notice", "只显示一次", 100)
        .await
        .unwrap();
    let takes: Vec<_> = (0..8)
        .map(|_| {
            let (store, hash) = (store.clone(), session.token_hash.clone());
            tokio::spawn(async move { store.take_flashes(&hash).await.unwrap() })
        })
        .collect();
    let mut shown = 0;
    for take in takes {
        shown += take.await.unwrap().len();
    }
    assert_eq!(shown, 1);
}

async fn an_issuing_ca_is_replaced_and_the_old_one_kept_retired(store: &Store) {
    let note = certdesk_store::testing::test_audit_note();
    // Nothing to replace yet: refused, and nothing written.
    let none = store
        .replace_issuing_ca(&ca_key("p256", "issuing"), 50, &note)
        .await;
    assert!(
        matches!(none, Err(StoreError::Conflict("issuing_ca"))),
        "{none:?}"
    );
    let (_, first) = store
        .insert_ca_hierarchy(&ca_key("p256", "root"), &ca_key("p256", "issuing"))
        .await
        .unwrap();
    store
        .insert_certificate(&certificate("0c0c", first.id))
        .await
        .unwrap();
    let second = store
        .replace_issuing_ca(&ca_key("p256", "issuing"), 100, &note)
        .await
        .unwrap();
    let third = store
        .replace_issuing_ca(&ca_key("p256", "issuing"), 200, &note)
        .await
        .unwrap();
    let keys = store.ca_keys().await.unwrap();
    let in_service: Vec<_> = keys
        .iter()
        .filter(|k| k.role == "issuing" && k.retired_at.is_none())
        .collect();
    assert_eq!(in_service.len(), 1);
    assert_eq!(in_service[0].id, third.id);
    let retired: Vec<_> = keys
        .iter()
        .filter(|k| k.retired_at.is_some())
        .map(|k| (k.id, k.role.clone(), k.retired_at))
        .collect();
    assert_eq!(
        retired,
        vec![
            (first.id, format!("issuing-{}", first.id), Some(100)),
            (second.id, format!("issuing-{}", second.id), Some(200)),
        ]
    );
    // The retired CA's certificates still name it.
    let kept = store.certificate_by_serial("0c0c").await.unwrap().unwrap();
    assert_eq!(kept.issuer_ca_id, first.id);
    let entries = store.audit_chain().await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "ca_issuing_replaced" && e.object == "ca:p256")
            .count(),
        2
    );
}

fn certificate<'a>(serial_hex: &'a str, issuer_ca_id: i64) -> NewCertificate<'a> {
    NewCertificate {
        serial_hex,
        issuer_ca_id,
        algorithm: "sm2",
        profile: "sign",
        org_name: "福州测试有限公司",
        credit_code: "91350100M000100Y43",
        not_before: 1000,
        not_after: 2000,
        der: &[1, 2, 3],
        issued_at: 1000,
    }
}

async fn certificate_serials_are_unique(store: &Store) {
    let (_, issuing) = store
        .insert_ca_hierarchy(&ca_key("sm2", "root"), &ca_key("sm2", "issuing"))
        .await
        .unwrap();
    let first = store
        .insert_certificate(&certificate("0a1b", issuing.id))
        .await
        .unwrap();
    assert_eq!(first.org_name, "福州测试有限公司");
    assert_eq!(first.revoked_at, None);
    let twice = store
        .insert_certificate(&certificate("0a1b", issuing.id))
        .await;
    assert!(
        matches!(twice, Err(StoreError::Conflict("serial"))),
        "{twice:?}"
    );
    assert_eq!(store.count_certificates().await.unwrap(), 1);
    // A certificate must name a CA we hold.
    assert!(store
        .insert_certificate(&certificate("0c", issuing.id + 100))
        .await
        .is_err());
    assert_eq!(store.count_certificates().await.unwrap(), 1);
    assert_eq!(
        store.certificate_by_serial("0a1b").await.unwrap(),
        Some(first)
    );
    assert_eq!(store.certificate_by_serial("ffff").await.unwrap(), None);
}

async fn revocation_is_recorded_once_and_counted(store: &Store) {
    let (_, issuing) = store
        .insert_ca_hierarchy(&ca_key("sm2", "root"), &ca_key("sm2", "issuing"))
        .await
        .unwrap();
    store
        .insert_certificate(&certificate("01", issuing.id))
        .await
        .unwrap();
    store
        .insert_certificate(&certificate("02", issuing.id))
        .await
        .unwrap();
    assert_eq!(store.revocation_counter().await.unwrap(), 0);

    let RevokeOutcome::Revoked(record) = store
        .revoke_certificate("01", 1500, "keyCompromise")
        .await
        .unwrap()
    else {
        panic!("first revocation");
    };
    assert_eq!(record.revoked_at, Some(1500));
    assert_eq!(record.revocation_reason.as_deref(), Some("keyCompromise"));
    assert_eq!(store.revocation_counter().await.unwrap(), 1);

    let RevokeOutcome::AlreadyRevoked(record) = store
        .revoke_certificate("01", 1600, "superseded")
        .await
        .unwrap()
    else {
        panic!("second revocation");
    };
    assert_eq!(record.revoked_at, Some(1500), "the first revocation stands");
    assert_eq!(store.revocation_counter().await.unwrap(), 1);
    assert_eq!(
        store
            .revoke_certificate("99", 1600, "superseded")
            .await
            .unwrap(),
        RevokeOutcome::NotFound
    );

    let revoked = store.revoked_certificates(issuing.id).await.unwrap();
    assert_eq!(
        revoked
            .iter()
            .map(|r| r.serial_hex.as_str())
            .collect::<Vec<_>>(),
        vec!["01"]
    );
}

async fn crl_numbers_increase_and_never_repeat(store: &Store) {
    assert_eq!(store.next_crl_number("p256").await.unwrap(), 1);
    assert!(store.latest_crl("p256").await.unwrap().is_none());
    let crl = |n: i64| CrlRecord {
        algorithm: "p256".into(),
        crl_number: n,
        this_update: 10 * n,
        next_update: 10 * n + 5,
        der: vec![n as u8],
    };
    store.insert_crl(&crl(1)).await.unwrap();
    store.insert_crl(&crl(2)).await.unwrap();
    let taken = store.insert_crl(&crl(2)).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict("crl_number"))),
        "{taken:?}"
    );
    assert_eq!(store.next_crl_number("p256").await.unwrap(), 3);
    assert_eq!(store.next_crl_number("sm2").await.unwrap(), 1);
    let latest = store.latest_crl("p256").await.unwrap().unwrap();
    assert_eq!((latest.crl_number, latest.der), (2, vec![2]));
}

async fn organisations_register_with_their_admin_or_not_at_all(store: &Store) {
    let admin = NewAccount {
        org_id: None,
        ..new_account("fz.admin", Role::OrgAdmin)
    };
    let (org, account) = store
        .register_organisation("福州测试科技有限公司", "91350100M000100Y43", &admin, "test")
        .await
        .unwrap();
    assert_eq!(account.org_id, Some(org.id));
    assert_eq!(account.role, Role::OrgAdmin);
    // Names for a list, asked once per organisation; an unknown id is simply absent.
    let names = store
        .organisation_names([org.id, org.id, org.id + 1000])
        .await
        .unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(names[&org.id], "福州测试科技有限公司");
    assert!(store.organisation_names([]).await.unwrap().is_empty());
    assert_eq!(
        store.organisation_by_id(org.id).await.unwrap(),
        Some(org.clone())
    );

    let same_code = store
        .register_organisation(
            "别的公司",
            "91350100M000100Y43",
            &NewAccount {
                username: "other.admin",
                ..admin.clone()
            },
            "test",
        )
        .await;
    assert!(
        matches!(same_code, Err(StoreError::Conflict("credit_code"))),
        "{same_code:?}"
    );
    // A taken user name rolls the organisation back too.
    let same_user = store
        .register_organisation("别的公司", "91110000100000000X", &admin, "test")
        .await;
    assert!(
        matches!(same_user, Err(StoreError::Conflict("username"))),
        "{same_user:?}"
    );
    assert_eq!(store.accounts_of(Some(org.id)).await.unwrap().len(), 1);
    assert!(store.accounts_of(None).await.unwrap().is_empty());
}

async fn api_tokens_authenticate_until_revoked(store: &Store) {
    let account = store
        .create_account(
            &new_account("script.user", Role::OrgAdmin),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let token = store
        .create_api_token(
            account.id,
            "nightly export",
            &"h".repeat(64),
            100,
            10_000,
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert_eq!(token.expires_at, Some(10_000));
    // Past its expiry it opens nothing.
    assert!(store
        .account_by_api_token(&"h".repeat(64), 10_000)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .account_by_api_token(&"h".repeat(64), 200)
            .await
            .unwrap()
            .map(|a| a.id),
        Some(account.id)
    );
    assert_eq!(
        store.api_tokens_of(account.id).await.unwrap()[0].last_used_at,
        Some(200)
    );
    assert!(
        !store
            .revoke_api_token(
                account.id + 1,
                token.id,
                300,
                &certdesk_store::testing::test_audit_note()
            )
            .await
            .unwrap(),
        "only the owner revokes"
    );
    assert!(store
        .revoke_api_token(
            account.id,
            token.id,
            300,
            &certdesk_store::testing::test_audit_note()
        )
        .await
        .unwrap());
    // Created and revoked, each with its audit entry; the refused revocation wrote none.
    let token_entries: Vec<String> = store
        .audit_chain()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.object == format!("api_token:{}", token.id))
        .map(|e| e.action)
        .collect();
    assert_eq!(token_entries, ["api_token_created", "api_token_revoked"]);
    assert!(store
        .account_by_api_token(&"h".repeat(64), 400)
        .await
        .unwrap()
        .is_none());
}

/// A session (token hash `hash_char` × 64, alive until 10 000) of a new account `username`.
async fn signed_in(store: &Store, username: &str, hash_char: &str) -> Session {
    let account = store
        .create_account(
            &new_account(username, Role::OrgAdmin),
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let session = Session {
        token_hash: hash_char.repeat(64),
        account_id: account.id,
        csrf_token: "c".into(),
        created_at: 100,
        expires_at: 10_000,
    };
    store
        .create_session(&session, &certdesk_store::testing::test_audit_event())
        .await
        .unwrap();
    session
}

async fn flashes_are_shown_once_and_go_with_their_session(store: &Store) {
    let session = signed_in(store, "flash.user", "f").await;
    store
        .put_flash(&session.token_hash, "notice", "草稿已保存", 100)
        .await
        .unwrap();
    store
        .put_flash(&session.token_hash, "notice", "资料已上传", 101)
        .await
        .unwrap();
    store
        .put_flash(&session.token_hash, "error", "出错了", 101)
        .await
        .unwrap();
    let mut taken = store.take_flashes(&session.token_hash).await.unwrap();
    taken.sort();
    assert_eq!(
        taken,
        vec![
            ("error".to_string(), "出错了".to_string()),
            ("notice".to_string(), "资料已上传".to_string())
        ]
    );
    assert!(store
        .take_flashes(&session.token_hash)
        .await
        .unwrap()
        .is_empty());
    store
        .put_flash(&session.token_hash, "notice", "x", 102)
        .await
        .unwrap();
    store
        .delete_session(
            &session.token_hash,
            &certdesk_store::testing::test_audit_event(),
        )
        .await
        .unwrap();
    assert!(store
        .take_flashes(&session.token_hash)
        .await
        .unwrap()
        .is_empty());
}

async fn rate_slots_are_taken_in_their_window(store: &Store) {
    use certdesk_store::{RateLimit, Slot};
    let limit = RateLimit {
        max: 2,
        window_secs: 100,
    };
    assert_eq!(
        store.take_rate_slot("k", limit, 1000).await.unwrap(),
        Slot::Taken(1)
    );
    assert_eq!(
        store.take_rate_slot("k", limit, 1010).await.unwrap(),
        Slot::Taken(2)
    );
    assert_eq!(
        store.take_rate_slot("k", limit, 1020).await.unwrap(),
        Slot::Full { until: 1100 }
    );
    // Another key is its own.
    assert_eq!(
        store.take_rate_slot("other", limit, 1020).await.unwrap(),
        Slot::Taken(1)
    );
    // A slot given back can be taken again; the window then runs out and starts anew.
    store.give_back_rate_slot("k").await.unwrap();
    assert_eq!(store.rate_taken("k").await.unwrap(), 1);
    assert_eq!(
        store.take_rate_slot("k", limit, 1030).await.unwrap(),
        Slot::Taken(2)
    );
    assert_eq!(
        store.take_rate_slot("k", limit, 1100).await.unwrap(),
        Slot::Taken(1)
    );
    // The lock of a window is audited once.
    let audit = certdesk_store::testing::test_audit_event();
    assert!(store.audit_rate_lock_once("k", &audit).await.unwrap());
    assert!(!store.audit_rate_lock_once("k", &audit).await.unwrap());
    store.reset_rate_key("k").await.unwrap();
    assert_eq!(store.rate_taken("k").await.unwrap(), 0);
    assert_eq!(store.purge_rate_limits(2000).await.unwrap(), 1);
}

async fn rate_slots_taken_at_once_never_exceed_the_limit(store: &Store) {
    use certdesk_store::{RateLimit, Slot};
    let limit = RateLimit {
        max: 5,
        window_secs: 900,
    };
    let tries: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_rate_slot("together", limit, 5000).await })
        })
        .collect();
    let mut taken = 0;
    for attempt in tries {
        match attempt.await.unwrap().unwrap() {
            Slot::Taken(_) => taken += 1,
            Slot::Full { until } => assert_eq!(until, 5900),
        }
    }
    assert_eq!(taken, 5);
    assert_eq!(store.rate_taken("together").await.unwrap(), 5);
}

async fn challenges_are_used_once(store: &Store) {
    let challenge = Challenge {
        id: "c1".into(),
        purpose: "login".into(),
        account_id: None,
        holder_hash: "browser-a".into(),
        created_at: 100,
        expires_at: 200,
    };
    store.create_challenge(&challenge).await.unwrap();
    assert!(
        store
            .consume_challenge("c1", "bind", "browser-a", 150)
            .await
            .unwrap()
            .is_none(),
        "another purpose"
    );
    assert!(
        store
            .consume_challenge("c1", "login", "browser-b", 150)
            .await
            .unwrap()
            .is_none(),
        "another browser"
    );
    assert_eq!(
        store
            .consume_challenge("c1", "login", "browser-a", 150)
            .await
            .unwrap(),
        Some(challenge.clone())
    );
    assert!(
        store
            .consume_challenge("c1", "login", "browser-a", 151)
            .await
            .unwrap()
            .is_none(),
        "replayed"
    );
    store
        .create_challenge(&Challenge {
            id: "c2".into(),
            ..challenge
        })
        .await
        .unwrap();
    assert!(
        store
            .consume_challenge("c2", "login", "browser-a", 200)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(store.challenge_exists("c2").await.unwrap());
    assert!(store.challenge_held_by("c2", "browser-a").await.unwrap());
    assert!(!store.challenge_held_by("c2", "browser-b").await.unwrap());
    assert!(!store.challenge_exists("c3").await.unwrap());

    // Purging takes those expired by then, used (c1) or not (c2), and keeps later ones.
    store
        .create_challenge(&Challenge {
            id: "c3".into(),
            purpose: "login".into(),
            account_id: None,
            holder_hash: "browser-a".into(),
            created_at: 300,
            expires_at: 400,
        })
        .await
        .unwrap();
    assert_eq!(store.delete_expired_challenges(399).await.unwrap(), 2);
    assert!(!store.challenge_exists("c1").await.unwrap());
    assert!(!store.challenge_exists("c2").await.unwrap());
    assert!(store.challenge_exists("c3").await.unwrap());
}

async fn providers_are_seeded_and_bindings_are_unique(store: &Store) {
    let providers = store.ca_providers().await.unwrap();
    let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    for name in [
        "汇信CA",
        "天谷CA",
        "新疆CA",
        "西部CA",
        "广西CA",
        "云南CA",
        "北京CA",
        "重庆CA",
        "四川CA",
        "天威CA",
        "CFCA",
        "吉林安信CA",
    ] {
        assert!(names.contains(&name), "{name} missing");
    }
    assert_eq!(providers.iter().filter(|p| p.operated_here).count(), 1);
    let cfca = store.ca_provider_by_name("CFCA").await.unwrap().unwrap();
    assert_eq!(cfca.hotline, "400-880-9888");

    let imported = store
        .add_provider_ca(
            &NewProviderCa {
                provider_id: cfca.id,
                subject: "CN=CFCA SM2 OCA1",
                fingerprint: "f1",
                certificate_der: &[1],
                not_after: 9,
                created_at: 1,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    assert_eq!(store.provider_cas().await.unwrap(), vec![imported]);
    let twice = store
        .add_provider_ca(
            &NewProviderCa {
                provider_id: cfca.id,
                subject: "x",
                fingerprint: "f1",
                certificate_der: &[1],
                not_after: 9,
                created_at: 1,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await;
    assert!(matches!(twice, Err(StoreError::Conflict("fingerprint"))));

    let admin = NewAccount {
        org_id: None,
        ..new_account("bind.admin", Role::OrgAdmin)
    };
    let (org, admin) = store
        .register_organisation("福州测试科技有限公司", "91350100M000100Y43", &admin, "test")
        .await
        .unwrap();
    let employee = store
        .create_account(
            &NewAccount {
                org_id: Some(org.id),
                display_name: "王小明",
                ..new_account("bind.employee", Role::Employee)
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let binding = |fingerprint| NewBinding {
        account_id: employee.id,
        org_id: org.id,
        provider_id: cfca.id,
        fingerprint,
        serial_hex: "0a",
        key_id: "ab12",
        subject_name: "福州测试科技有限公司",
        not_after: 5000,
        certificate_der: &[0x30],
        bound_by: admin.id,
        bound_at: 1000,
    };
    let note = certdesk_store::AuditNote {
        at: 1000,
        actor_account_id: Some(admin.id),
        actor_label: "admin",
        org_id: Some(org.id),
        detail: "serial=0a",
    };
    let entries = || async { store.audit_chain().await.unwrap().len() };
    let before = entries().await;
    let bound = store.create_binding(&binding("fp-1"), &note).await.unwrap();
    // The binding and its audit entry are written together.
    assert_eq!(entries().await, before + 1);
    assert_eq!(
        (
            bound.account_name.as_str(),
            bound.bound_by_name.as_str(),
            bound.provider_name.as_str()
        ),
        ("王小明", "张三", "CFCA")
    );
    let again = store
        .create_binding(
            &NewBinding {
                account_id: admin.id,
                ..binding("fp-1")
            },
            &note,
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict("certificate"))),
        "{again:?}"
    );
    assert_eq!(
        entries().await,
        before + 1,
        "a refused binding audits nothing"
    );

    let by_name = |name| BindingFilter {
        org_id: Some(org.id),
        name_contains: Some(name),
        ..Default::default()
    };
    assert_eq!(store.bindings(&by_name("小明")).await.unwrap().len(), 1);
    assert_eq!(
        store.bindings(&by_name("%")).await.unwrap().len(),
        0,
        "LIKE wildcards are literal"
    );
    assert_eq!(
        store
            .bindings(&BindingFilter {
                org_id: Some(org.id + 1),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .bindings(&BindingFilter {
                account_id: Some(employee.id),
                username_contains: Some("employee"),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .binding_by_fingerprint("fp-1")
            .await
            .unwrap()
            .map(|b| b.id),
        Some(bound.id)
    );
    assert!(store.delete_binding(bound.id, &note).await.unwrap());
    assert_eq!(entries().await, before + 2);
    assert!(!store.delete_binding(bound.id, &note).await.unwrap());
    assert_eq!(
        entries().await,
        before + 2,
        "nothing unbound, nothing audited"
    );
    // Unbound, the certificate may bind another account.
    store
        .create_binding(
            &NewBinding {
                account_id: admin.id,
                ..binding("fp-1")
            },
            &note,
        )
        .await
        .unwrap();
}

// --- payments beyond notifications (migration 0008) ----------------------------------------------

/// An organisation with its admin and one order in `status`.
async fn paying_order(store: &Store, order_no: &str, status: OrderStatus) -> (i64, i64) {
    let (org, admin) = store
        .register_organisation(
            &format!("付款测试公司{order_no}"),
            "91350100M000100Y43",
            &new_account(&format!("payer{order_no}"), Role::OrgAdmin),
            "test",
        )
        .await
        .unwrap();
    let order = store
        .create_order(&certdesk_store::NewOrder {
            order_no,
            org_id: org.id,
            kind: BusinessType::NewCertificate,
            amount_fen: 39_900,
            created_by: admin.id,
            on_behalf: false,
            created_at: 1_763_000_000,
        })
        .await
        .unwrap();
    put_order_in_status(store, order.id, status).await;
    (order.id, admin.id)
}

async fn order_now(store: &Store, order_id: i64) -> certdesk_store::Order {
    store.order_by_id(order_id).await.unwrap().unwrap()
}

async fn sandbox_trades_are_one_per_order_and_settle_once(store: &Store) {
    let (order_id, _) = paying_order(store, "1001", OrderStatus::AwaitingPayment).await;
    let new = |token: &'static str, trade_no: &'static str| certdesk_store::NewSandboxTrade {
        order_id,
        token,
        trade_no,
        amount_fen: 39_900,
        created_at: 1,
    };
    let first = store
        .sandbox_trade_for_order(&new("tok-a", "T1"))
        .await
        .unwrap();
    let again = store
        .sandbox_trade_for_order(&new("tok-b", "T2"))
        .await
        .unwrap();
    assert_eq!(first, again, "a second cashier page gets the same trade");
    assert_eq!(
        (first.token.as_str(), first.status.as_str()),
        ("tok-a", "waiting")
    );
    assert!(store
        .sandbox_trade_by_token("tok-b")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .settle_sandbox_trade(first.id, "waiting", "paid", 5)
        .await
        .unwrap());
    assert!(!store
        .settle_sandbox_trade(first.id, "waiting", "paid", 6)
        .await
        .unwrap());
    assert!(!store
        .settle_sandbox_trade(first.id, "waiting", "cancelled", 6)
        .await
        .unwrap());
    let paid = store
        .sandbox_trade_by_token("tok-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((paid.status.as_str(), paid.paid_at), ("paid", Some(5)));
}

async fn offline_transfers_pay_once_and_only_while_pending(store: &Store) {
    let (order_id, admin) = paying_order(store, "1002", OrderStatus::AwaitingPayment).await;
    let new = certdesk_store::NewOfflineTransfer {
        order_id,
        receipt_blob: &"ab".repeat(32),
        receipt_name: "回单.jpg",
        amount_fen: 39_900,
        submitted_by: admin,
        submitted_at: 10,
    };
    let transfer = store
        .submit_offline_transfer(
            &new,
            &certdesk_store::testing::test_audit_note(),
            "order:test",
        )
        .await
        .unwrap();
    assert_eq!(
        (transfer.status.as_str(), transfer.order_no.as_str()),
        ("pending", "1002")
    );
    assert!(matches!(
        store
            .submit_offline_transfer(
                &new,
                &certdesk_store::testing::test_audit_note(),
                "order:test"
            )
            .await,
        Err(StoreError::Conflict("pending_transfer"))
    ));
    let payment = certdesk_store::Payment {
        order_id,
        gateway: "offline".into(),
        gateway_txn: format!("offline-{}", transfer.id),
        amount_fen: 39_900,
        paid_at: 20,
    };
    let unpaid = order_now(store, order_id).await;
    let pay = test_step(&unpaid, OrderAction::PayConfirmed, 39_900);
    assert_eq!(
        store
            .confirm_offline_transfer(transfer.id, admin, &payment, Some(&pay))
            .await
            .unwrap(),
        certdesk_store::TransferConfirmation::Confirmed(certdesk_store::PaymentOutcome::Applied)
    );
    assert_eq!(
        store
            .confirm_offline_transfer(transfer.id, admin, &payment, Some(&pay))
            .await
            .unwrap(),
        certdesk_store::TransferConfirmation::NotPending
    );
    assert!(!store
        .reject_offline_transfer(
            transfer.id,
            admin,
            30,
            "x",
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());
    assert_eq!(store.payments_of_order(order_id).await.unwrap().len(), 1);
    let order = store.order_by_no("1002").await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::AwaitingSecondReview);
    assert_eq!(store.order_events(order_id).await.unwrap().len(), 1);

    // A second receipt for a paid order cannot be confirmed: it stays for rejection.
    let second = store
        .submit_offline_transfer(
            &new,
            &certdesk_store::testing::test_audit_note(),
            "order:test",
        )
        .await
        .unwrap();
    let other = certdesk_store::Payment {
        gateway_txn: format!("offline-{}", second.id),
        ..payment.clone()
    };
    assert_eq!(
        store
            .confirm_offline_transfer(second.id, admin, &other, Some(&pay))
            .await
            .unwrap(),
        certdesk_store::TransferConfirmation::AlreadyPaid
    );
    assert_eq!(
        store.offline_transfers("pending", 10).await.unwrap().len(),
        1
    );
    assert!(store
        .reject_offline_transfer(
            second.id,
            admin,
            40,
            "重复付款，将退回",
            &certdesk_store::testing::test_audit_event()
        )
        .await
        .unwrap());
    let rejected = store.offline_transfer(second.id).await.unwrap().unwrap();
    assert_eq!(
        (rejected.status.as_str(), rejected.reject_reason.as_str()),
        ("rejected", "重复付款，将退回")
    );
    assert_eq!(
        store
            .offline_transfers_of_order(order_id)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(store.payments_of_order(order_id).await.unwrap().len(), 1);
    assert!(
        store
            .duplicate_payments_of_order(order_id)
            .await
            .unwrap()
            .is_empty(),
        "a refused confirmation keeps nothing"
    );

    // Gateway money for the paid order: kept apart once, however often it is notified, and
    // marked paid back once.
    let twice = certdesk_store::Payment {
        gateway: "sandbox".into(),
        gateway_txn: "QR-2".into(),
        ..payment.clone()
    };
    for expected in [
        certdesk_store::PaymentOutcome::PaidTwice,
        certdesk_store::PaymentOutcome::AlreadyApplied,
    ] {
        assert_eq!(
            store.apply_payment(&twice, Some(&pay)).await.unwrap(),
            expected
        );
    }
    assert_eq!(
        store.apply_payment(&payment, Some(&pay)).await.unwrap(),
        certdesk_store::PaymentOutcome::AlreadyApplied,
        "the order's own payment repeated"
    );
    let kept = store.duplicate_payments_of_order(order_id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        store.duplicate_payment("sandbox", "QR-2").await.unwrap(),
        Some(kept[0].clone())
    );
    store
        .duplicate_refund_requested(kept[0].id, 50)
        .await
        .unwrap();
    assert!(store
        .duplicate_refunded(kept[0].id, 60, &certdesk_store::testing::test_audit_event())
        .await
        .unwrap());
    assert!(!store
        .duplicate_refunded(kept[0].id, 61, &certdesk_store::testing::test_audit_event())
        .await
        .unwrap());
    let done = store
        .duplicate_payment("sandbox", "QR-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.refund_requested_at, done.refunded_at),
        (Some(50), Some(60))
    );
    assert_eq!(store.payments_of_order(order_id).await.unwrap().len(), 1);
    assert_eq!(store.order_events(order_id).await.unwrap().len(), 1);
}

async fn refunds_are_requested_and_completed_once(store: &Store) {
    let (order_id, _) = paying_order(store, "1003", OrderStatus::AwaitingSecondReview).await;
    let refund = certdesk_store::NewRefund {
        order_id,
        gateway: "sandbox",
        gateway_txn: "T9",
        amount_fen: 39_900,
        reason: "不需要了",
        requested_at: 50,
    };
    let paid = order_now(store, order_id).await;
    let withdraw = test_step(&paid, OrderAction::Withdraw, 39_900);
    assert!(store.start_refund(&withdraw, &refund).await.unwrap());
    assert!(
        !store.start_refund(&withdraw, &refund).await.unwrap(),
        "the order moved on"
    );
    let requested = store.refund_of_order(order_id).await.unwrap().unwrap();
    assert_eq!(
        (requested.status.as_str(), requested.completed_at),
        ("requested", None)
    );
    let refunding = order_now(store, order_id).await;
    let done = test_step(&refunding, OrderAction::RefundCompleted, 39_900);
    assert!(store.complete_refund(order_id, &done).await.unwrap());
    assert!(
        !store.complete_refund(order_id, &done).await.unwrap(),
        "repeats change nothing"
    );
    let completed = store.refund_of_order(order_id).await.unwrap().unwrap();
    assert_eq!(completed.status, "completed");
    assert_eq!(
        store.order_by_no("1003").await.unwrap().unwrap().status,
        OrderStatus::Refunded
    );
    let events = store.order_events(order_id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.to_status).collect::<Vec<_>>(),
        [OrderStatus::Refunding, OrderStatus::Refunded]
    );

    // An order that is not where the step starts gets no refund row.
    let requester = store.order_by_no("1003").await.unwrap().unwrap();
    let other = store
        .create_order(&certdesk_store::NewOrder {
            order_no: "1004",
            org_id: requester.org_id,
            kind: BusinessType::NewCertificate,
            amount_fen: 39_900,
            created_by: requester.created_by,
            on_behalf: false,
            created_at: 1_763_000_000,
        })
        .await
        .unwrap()
        .id;
    // Read while it waited for review; meanwhile the CA started issuing.
    let stale = put_order_in_status(store, other, OrderStatus::AwaitingSecondReview).await;
    put_order_in_status(store, other, OrderStatus::Issuing).await;
    let late_withdraw = test_step(&stale, OrderAction::Withdraw, 39_900);
    let refund = certdesk_store::NewRefund {
        order_id: other,
        ..refund
    };
    assert!(!store.start_refund(&late_withdraw, &refund).await.unwrap());
    assert!(store.refund_of_order(other).await.unwrap().is_none());
}

async fn foreign_crls_are_kept_newest_first(store: &Store) {
    let cfca = store.ca_provider_by_name("CFCA").await.unwrap().unwrap();
    let ca = store
        .add_provider_ca(
            &NewProviderCa {
                provider_id: cfca.id,
                subject: "CN=CFCA SM2 OCA1",
                fingerprint: "crl-ca",
                certificate_der: &[1],
                not_after: 9_000,
                created_at: 1,
            },
            &certdesk_store::testing::test_audit_note(),
        )
        .await
        .unwrap();
    let url = "http://crl.cfca.example/crl1.crl";
    assert_eq!(store.foreign_crl(url).await.unwrap(), None);
    let first = ForeignCrl {
        url: url.into(),
        provider_ca_id: ca.id,
        der: vec![1, 2, 3],
        this_update: 100,
        next_update: 200,
        fetched_at: 101,
    };
    assert!(store.keep_foreign_crl(&first).await.unwrap());
    assert_eq!(store.foreign_crl(url).await.unwrap().as_ref(), Some(&first));

    // A newer CRL replaces it; an older one (a replay) does not.
    let newer = ForeignCrl {
        der: vec![4, 5],
        this_update: 150,
        next_update: 250,
        fetched_at: 151,
        ..first.clone()
    };
    assert!(store.keep_foreign_crl(&newer).await.unwrap());
    assert!(!store.keep_foreign_crl(&first).await.unwrap());
    assert_eq!(store.foreign_crl(url).await.unwrap(), Some(newer.clone()));
    // The same CRL fetched again counts as kept, with the time it was seen.
    let again = ForeignCrl {
        fetched_at: 180,
        ..newer
    };
    assert!(store.keep_foreign_crl(&again).await.unwrap());
    assert_eq!(store.foreign_crl(url).await.unwrap(), Some(again));
}

/// Eight answers to one challenge at the same instant: exactly one uses it.
async fn a_challenge_answered_at_once_by_many_is_used_once(store: &Store) {
    store
        .create_challenge(&Challenge {
            id: "race".into(),
            purpose: "login".into(),
            account_id: None,
            holder_hash: "browser-a".into(),
            created_at: 100,
            expires_at: 200,
        })
        .await
        .unwrap();
    let answers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .consume_challenge("race", "login", "browser-a", 150)
                    .await
                    .unwrap()
                    .is_some()
            })
        })
        .collect();
    let mut used = 0;
    for answer in answers {
        if answer.await.unwrap() {
            used += 1;
        }
    }
    assert_eq!(used, 1);
}
