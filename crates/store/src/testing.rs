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

// --- orders in tests ----------------------------------------------------------------------

/// When test steps happen (Unix seconds).
pub const TEST_STEP_AT: i64 = 1_763_000_100;

/// Puts an order in `status` at once, as if its workflow had brought it there: for tests that
/// start in the middle of a flow. (Outside tests an order moves only by steps.)
pub async fn put_order_in_status(
    store: &Store,
    order_id: i64,
    status: certdesk_domain::OrderStatus,
) -> crate::Order {
    sqlx::query("UPDATE orders SET status = $1 WHERE id = $2")
        .bind(status.as_str())
        .bind(order_id)
        .execute(store.pool())
        .await
        .expect("set the order's status");
    store
        .order_by_id(order_id)
        .await
        .expect("read the order")
        .expect("the order exists")
}

/// A completed 新办 order of `org_id` whose key holds a signing certificate (serial
/// `serial_hex`, expiring at `not_after`, issued by the first CA key): what a supplier has after
/// delivery, for tests of what happens later in a certificate's life. Answers the certificate's
/// id.
pub async fn put_held_certificate(
    store: &Store,
    org_id: i64,
    created_by: i64,
    serial_hex: &str,
    not_after: i64,
) -> i64 {
    let issuer = store.ca_keys().await.expect("CA keys")[0].id;
    let certificate = store
        .insert_certificate(&crate::NewCertificate {
            serial_hex,
            issuer_ca_id: issuer,
            algorithm: "sm2",
            profile: "sign",
            org_name: "测试单位",
            credit_code: "91350100M000100Y43",
            not_before: not_after - 365 * 86_400,
            not_after,
            der: b"not a real certificate",
            issued_at: not_after - 365 * 86_400,
        })
        .await
        .expect("the certificate");
    hold_certificate(store, org_id, created_by, certificate.id, serial_hex).await;
    certificate.id
}

/// Links a certificate already recorded (one the CA issued in the test) to a completed 新办
/// order of `org_id`, as if it had been issued for it and delivered.
pub async fn hold_certificate(
    store: &Store,
    org_id: i64,
    created_by: i64,
    certificate_id: i64,
    serial_hex: &str,
) {
    let order = store
        .create_order_in_status(
            "completed",
            &crate::NewOrder {
                order_no: &format!("HELD{serial_hex}"),
                org_id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 0,
                created_by,
                on_behalf: false,
                created_at: TEST_STEP_AT,
            },
        )
        .await
        .expect("the order");
    sqlx::query(
        "INSERT INTO order_issuance (order_id, claimed_at, serial_hex, signing_certificate_id, \
         issued_at) VALUES ($1, $2, $3, $4, $2)",
    )
    .bind(order.id)
    .bind(TEST_STEP_AT)
    .bind(serial_hex)
    .bind(certificate_id)
    .execute(store.pool())
    .await
    .expect("link the certificate to its order");
}

/// Links an issued key pair (its signing and, for SM2, encryption certificate) to an order, as
/// issuance would have.
pub async fn link_key_pair(
    store: &Store,
    order_id: i64,
    signing_certificate_id: i64,
    encryption_certificate_id: Option<i64>,
    serial_hex: &str,
) {
    sqlx::query(
        "INSERT INTO order_issuance (order_id, claimed_at, serial_hex, signing_certificate_id, \
         encryption_certificate_id, issued_at) VALUES ($1, $2, $3, $4, $5, $2)",
    )
    .bind(order_id)
    .bind(TEST_STEP_AT)
    .bind(serial_hex)
    .bind(signing_certificate_id)
    .bind(encryption_certificate_id)
    .execute(store.pool())
    .await
    .expect("link the key pair to its order");
}

impl Store {
    /// Creates an order already in `status` (its stored name), as if its workflow had brought
    /// it there: for tests that start in the middle of a flow.
    pub async fn create_order_in_status(
        &self,
        status: &str,
        new: &crate::NewOrder<'_>,
    ) -> Result<crate::Order, crate::StoreError> {
        let status = status
            .parse()
            .unwrap_or_else(|_| panic!("{status} is not an order status"));
        let created = self.create_order(new).await?;
        Ok(put_order_in_status(self, created.id, status).await)
    }

    /// [`Store::create_application_order`], the order already in `status` (see
    /// [`Store::create_order_in_status`]).
    pub async fn create_application_order_in_status(
        &self,
        status: &str,
        new: &crate::NewOrder<'_>,
        application: &crate::NewApplication<'_>,
    ) -> Result<crate::Order, crate::StoreError> {
        let status = status
            .parse()
            .unwrap_or_else(|_| panic!("{status} is not an order status"));
        let created = self
            .create_application_order(new, application, &test_audit_note())
            .await?;
        Ok(put_order_in_status(self, created.id, status).await)
    }
}

/// The step `action` makes on `order` by the first actor its workflow allows (the system
/// first), with `paid_fen` received and the payment window over; panics when no actor may.
pub fn test_step<'a>(
    order: &'a crate::Order,
    action: certdesk_domain::OrderAction,
    paid_fen: u64,
) -> crate::StepRecord<'a> {
    use certdesk_domain::{Actor, DeliveryMethod, OrderFacts, Role};
    let facts = OrderFacts {
        amount_due_fen: u64::try_from(order.amount_fen).unwrap_or(0),
        paid_amount_fen: paid_fen,
        payment_window_expired: true,
        delivery: DeliveryMethod::Mail,
        cannot_issue: None,
    };
    let actors = [
        Actor::System,
        Actor::Role(Role::OrgAdmin),
        Actor::Role(Role::PlatformOperator),
        Actor::Role(Role::CaOfficer),
    ];
    let step = actors
        .iter()
        .find_map(|actor| {
            order
                .kind
                .workflow()
                .step(order.status, action, *actor, &facts)
                .ok()
        })
        .unwrap_or_else(|| panic!("{action} is not allowed from {}", order.status));
    crate::StepRecord {
        order,
        step,
        at: TEST_STEP_AT,
        actor_account_id: None,
        actor_label: "系统",
        audit_actor: "-",
        note: "",
    }
}

/// Who tests act as in the audit entries the store writes with a change.
pub fn test_audit_note() -> crate::AuditNote<'static> {
    crate::AuditNote {
        at: 0,
        actor_account_id: None,
        actor_label: "test",
        org_id: None,
        detail: "",
    }
}

/// An audit entry for tests to hand to store calls that write one with their change.
pub fn test_audit_event() -> crate::NewAuditEvent<'static> {
    test_audit_note().event(certdesk_domain::AuditAction::ConfigurationChanged, "test")
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
