//! Throw-away databases for test suites: a SQLite file in a temporary directory, and a fresh
//! database on the PostgreSQL server named by `CERTDESK_TEST_DATABASE_URL`.
//!
//! The PostgreSQL half is not optional: when the variable is missing or the server does not
//! answer, the test fails with a message that says how to get one (`scripts/test` starts it).

use crate::Store;
use rand::Rng;
use sqlx::Connection;

pub const POSTGRES_URL_VAR: &str = "CERTDESK_TEST_DATABASE_URL";

/// A store on a new SQLite file; the directory lives as long as the returned guard.
pub async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("create a temporary directory for SQLite");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let store = Store::open(&url).await.expect("open the SQLite test store");
    (store, dir)
}

/// The server URL from the environment, or a panic that says what to do.
pub fn postgres_server_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VAR} is not set. The store suite runs on PostgreSQL as well as SQLite \
             and never skips it: run scripts/test (it installs and starts PostgreSQL), or set \
             {POSTGRES_URL_VAR}=postgres://USER@HOST:PORT/DB for a server you run."
        )
    })
}

/// Creates a new, empty database on the test server and answers its URL.
pub async fn fresh_postgres_database() -> String {
    let server = postgres_server_url();
    let name = format!("certdesk_test_{:016x}", rand::thread_rng().gen::<u64>());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    admin.close().await.ok();
    with_database(&server, &name)
}

/// A store on a new PostgreSQL database.
pub async fn postgres_store() -> Store {
    let url = fresh_postgres_database().await;
    Store::open(&url)
        .await
        .expect("open the PostgreSQL test store")
}

/// `url` with its database name replaced by `database`, query string kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_and_path = &base[scheme_end..];
    let authority = match authority_and_path.find('/') {
        Some(i) => &authority_and_path[..i],
        None => authority_and_path,
    };
    let mut out = format!("{}{authority}/{database}", &base[..scheme_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
