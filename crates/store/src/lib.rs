//! certdesk's storage. One [`Store`] over either engine: SQLite (the embedded default) or
//! PostgreSQL. Queries are written once in the SQL both engines accept (`$1` placeholders,
//! `RETURNING`, integers for times and flags); only the migrations differ per engine.

/// Every key pair's certificates as issued, as a table `(order_id, source_order_id,
/// signing_id, encryption_id, status)`: by a 新办 order (its status) or by a renewal (the key's
/// 新办 order as the source; renewed means held, so 'completed').
macro_rules! key_pairs {
    () => {
        "(SELECT i.order_id, i.order_id AS source_order_id, \
          i.signing_certificate_id AS signing_id, i.encryption_certificate_id AS encryption_id, \
          io.status AS status FROM order_issuance i JOIN orders io ON io.id = i.order_id \
          WHERE i.signing_certificate_id IS NOT NULL \
          UNION ALL SELECT r.order_id, r.source_order_id, r.new_signing_certificate_id, \
          r.new_encryption_certificate_id, 'completed' FROM renewal_items r \
          WHERE r.new_signing_certificate_id IS NOT NULL)"
    };
}
pub(crate) use key_pairs;

mod accounts;
mod applications;
mod audit;
mod bindings;
pub mod blobs;
mod ca;
mod changes;
mod claims;
mod credentials;
mod error;
mod failpoints;
mod flashes;
mod identity;
mod messages;
mod orders;
mod organisations;
mod outbox;
mod productions;
mod products;
mod rate_limits;
mod renewals;
mod replacements;
mod revocations;
mod sessions;
#[cfg(feature = "testing")]
pub mod testing;
mod trades;
mod unlocks;

pub use accounts::{Account, NewAccount};
pub use applications::{
    Application, Delivery, Issuance, IssuanceClaim, IssuanceIntent, IssuanceRecorded,
    IssuedForOrder, NewApplication, OrderUpload, OrgCertificate, RecoveredClaims, SealedKeyArchive,
    SignedForOrder,
};
pub use audit::{AuditEvent, AuditNote, AuditQuery, AuditSeal, NewAuditEvent, MAX_AUDIT_PAGE};
pub use bindings::{
    Binding, BindingFilter, CaProvider, ForeignCrl, NewBinding, NewProviderCa, ProviderCa,
};
pub use blobs::{
    inspect_image, BlobId, BlobStore, InspectedImage, InvalidBlobId, StoredImage, UploadError,
};
pub use ca::{
    CaKeyRecord, CertificateRecord, CrlRecord, KeyArchiveRecord, NewCaKey, NewCertificate,
    RevokeOutcome,
};
pub use changes::{ChangeRequest, NewChange};
pub use claims::{ClaimHandover, NewOrganisationClaim, OrganisationClaim};
pub use credentials::{ApiToken, Challenge};
pub use error::StoreError;
pub use failpoints::{configure_failpoints_from_env, failpoint, ISSUANCE_FAILPOINTS};
pub use identity::{IdentityCheck, NewIdentityCheck};
pub use messages::{ExpiringCertificate, Message, NewMessage};
pub use orders::{
    duplicate_payment_detail, DuplicatePayment, NewOrder, Order, OrderEvent, OrderFilter, Payment,
    PaymentOutcome, StepRecord,
};
pub use organisations::Organisation;
pub use outbox::{Channel, FailedTry, NewOutboxMessage, OutboxMessage};
pub use productions::KeyProduction;
pub use products::{FixedPrice, NewVoucher, Product, Redemption, Submission, Voucher};
pub use rate_limits::{RateLimit, Slot};
pub use renewals::{AdoptedKey, NewRenewal, Renewal, RenewalItem, RenewalTarget, SupersededKey};
pub use replacements::{NewReplacement, ReplacedKey, ReplacementRequest};
pub use revocations::{NewRevocationRequest, RevocationRequest};
pub use sessions::{Session, SessionWithAccount};
pub use trades::{
    NewOfflineTransfer, NewRefund, NewSandboxTrade, OfflineTransfer, Refund, SandboxTrade,
    TransferConfirmation,
};
pub use unlocks::{IssuedUnlockCode, NewUnlockRequest, UnlockRequest};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// `$first, $first+1, …` for `count` values bound in an `IN (…)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a database URL names, or `None` for a scheme we do not support.
    pub fn from_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// The handle to the database. Cheap to clone: it shares one connection pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

/// How long to wait for the database before giving up, on start and on each request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens the database a URL names (`sqlite://…` or `postgres://…`), creating the SQLite
    /// file when it does not exist, and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let engine = Engine::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl {
            url: mask_url_password(url),
        })?;
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)
            .map_err(|source| StoreError::Connect {
                url: mask_url_password(url),
                source,
            })?
            // Statements are logged at debug level only: they never carry secrets, but at
            // info level they would drown the request log.
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let max_connections = match engine {
            // SQLite serialises writers anyway; a few readers are plenty.
            Engine::Sqlite => 4,
            Engine::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(CONNECT_TIMEOUT)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers go on while one request writes; foreign keys are
                        // off by default in SQLite and our schema relies on them.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: mask_url_password(url),
                source,
            })?;
        let store = Store { pool, engine };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Answers whether the database takes a query right now (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Waits for open queries to finish and closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A database URL with its password replaced by `***`, for messages and logs.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            mask_url_password("postgres://app:s3cret@db:5432/certdesk"),
            "postgres://app:***@db:5432/certdesk"
        );
        assert_eq!(
            mask_url_password("postgres://app@db/certdesk"),
            "postgres://app@db/certdesk"
        );
        assert_eq!(
            mask_url_password("sqlite:///var/lib/certdesk/certdesk.db"),
            "sqlite:///var/lib/certdesk/certdesk.db"
        );
    }

    #[test]
    fn engines_come_from_the_url_scheme() {
        assert_eq!(Engine::from_url("sqlite://x.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::from_url("postgres://h/db"), Some(Engine::Postgres));
        assert_eq!(
            Engine::from_url("postgresql://h/db"),
            Some(Engine::Postgres)
        );
        assert_eq!(Engine::from_url("mysql://h/db"), None);
    }
}
