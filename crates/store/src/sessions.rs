//! Login sessions. The cookie carries a random token; the table keeps only its SHA-256, so a
//! copy of the database does not let anyone in.

use crate::accounts::{account_from_row, Account};
use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::{Store, StoreError};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub account_id: i64,
    /// The token every state-changing form of this session must echo.
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct SessionWithAccount {
    pub session: Session,
    pub account: Account,
}

impl Store {
    /// Starts a session, with its audit entry (the login) in the same transaction.
    pub async fn create_session(
        &self,
        session: &Session,
        audit: &NewAuditEvent<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.token_hash)
        .bind(session.account_id)
        .bind(&session.csrf_token)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "session"))?;
        append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session with this token hash and its account; `None` when there is none, it
    /// expired at or before `now`, or the account is disabled.
    pub async fn live_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionWithAccount>, StoreError> {
        let row = sqlx::query(
            "SELECT s.token_hash, s.account_id, s.csrf_token, s.created_at AS s_created_at, \
                    s.expires_at, a.id, a.username, a.display_name, a.role, a.org_id, \
                    a.password_hash, a.disabled, a.must_change_password, a.created_at \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionWithAccount {
            session: Session {
                token_hash: row.try_get("token_hash")?,
                account_id: row.try_get("account_id")?,
                csrf_token: row.try_get("csrf_token")?,
                created_at: row.try_get("s_created_at")?,
                expires_at: row.try_get("expires_at")?,
            },
            account: account_from_row(&row)?,
        }))
    }

    /// Ends one session; answers whether it existed.
    /// Ends a session (a logout); answers whether there was one, and then writes `audit` with
    /// it.
    pub async fn delete_session(
        &self,
        token_hash: &str,
        audit: &NewAuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes sessions that expired at or before `now`; answers how many.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
