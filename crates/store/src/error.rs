use thiserror::Error;

/// What can go wrong in the store. Messages name the database without its password.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unsupported database URL {url}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl { url: String },
    #[error("cannot connect to database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint refused the row; the field names what was taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    /// The blob store's directory could not be read or written.
    #[error("blob store: cannot {action} {}: {source}", path.display())]
    Blob {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Turns a unique-constraint violation into [`StoreError::Conflict`], anything else as is.
    pub(crate) fn conflict_on_unique(err: sqlx::Error, what: &'static str) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Database(err),
        }
    }
}
