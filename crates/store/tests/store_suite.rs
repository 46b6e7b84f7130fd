//! The store suite: every test runs on SQLite and on a real PostgreSQL server, in the same run.

use certdesk_domain::Role;
use certdesk_store::testing::{postgres_store, sqlite_store};
use certdesk_store::{Engine, NewAccount, Session, Store, StoreError};

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
