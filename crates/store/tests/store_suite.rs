//! The store suite: every test runs on SQLite and on a real PostgreSQL server, in the same run.

use certdesk_domain::Role;
use certdesk_store::testing::{postgres_store, sqlite_store};
use certdesk_store::{
    CrlRecord, Engine, NewAccount, NewCaKey, NewCertificate, RevokeOutcome, Session, Store,
    StoreError,
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
    certificate_serials_are_unique,
    revocation_is_recorded_once_and_counted,
    crl_numbers_increase_and_never_repeat,
);

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
        .create_account(&new_account("admin", Role::SystemAdmin))
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
        .set_password_hash(created.id, "new-hash")
        .await
        .unwrap());
    let changed = store.account_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(changed.password_hash, "new-hash");
    assert!(!store
        .set_password_hash(created.id + 1000, "x")
        .await
        .unwrap());
}

async fn usernames_are_unique(store: &Store) {
    store
        .create_account(&new_account("li.si", Role::Employee))
        .await
        .unwrap();
    let second = store
        .create_account(&new_account("li.si", Role::OrgAdmin))
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
        .create_account(&new_account("wang.wu", Role::OrgAdmin))
        .await
        .unwrap();
    let session = Session {
        token_hash: "a".repeat(64),
        account_id: account.id,
        csrf_token: "csrf-1".into(),
        created_at: 1000,
        expires_at: 2000,
    };
    store.create_session(&session).await.unwrap();
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
    store.create_session(&other).await.unwrap();
    assert_eq!(store.delete_expired_sessions(2000).await.unwrap(), 1);
    assert!(store.delete_session(&other.token_hash).await.unwrap());
    assert!(!store.delete_session(&other.token_hash).await.unwrap());
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
