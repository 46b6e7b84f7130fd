//! What proves who someone is, besides the password: API tokens, the record of failed
//! logins that throttles guessing, and one-time challenges for key holders to sign.

use crate::accounts::{account_from_row, Account};
use crate::audit::append_audit_with_change;
use crate::{AuditNote, Store, StoreError};
use certdesk_domain::AuditAction;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// When it stops working (Unix seconds).
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    pub purpose: String,
    pub account_id: Option<i64>,
    /// SHA-256 (hex) of what identifies who asked for it (a browser's pre-login cookie, a
    /// session): only the same holder can use it.
    pub holder_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const TOKEN_COLUMNS: &str =
    "id, account_id, name, created_at, last_used_at, revoked_at, expires_at";

impl Store {
    /// Creates an API token (kept as its hash), with its `api_token_created` audit entry in the
    /// same transaction.
    pub async fn create_api_token(
        &self,
        account_id: i64,
        name: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
        audit: &AuditNote<'_>,
    ) -> Result<ApiToken, StoreError> {
        let sql = format!(
            "INSERT INTO api_tokens (account_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLUMNS}"
        );
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(&sql)
            .bind(account_id)
            .bind(name)
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "token"))?;
        let token = token_from_row(&row)?;
        let object = format!("api_token:{}", token.id);
        append_audit_with_change(&mut tx, &audit.event(AuditAction::ApiTokenCreated, &object))
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The account's tokens, newest first, revoked ones included.
    pub async fn api_tokens_of(&self, account_id: i64) -> Result<Vec<ApiToken>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE account_id = $1 ORDER BY id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    pub async fn api_token_by_id(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Revokes one of the account's own tokens; answers whether a live token was revoked.
    /// Revokes one of `account_id`'s tokens, with its `api_token_revoked` audit entry in the
    /// same transaction; answers whether it was live.
    pub async fn revoke_api_token(
        &self,
        account_id: i64,
        token_id: i64,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let object = format!("api_token:{token_id}");
        append_audit_with_change(&mut tx, &audit.event(AuditAction::ApiTokenRevoked, &object))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The enabled account a live token belongs to; notes the token's use.
    pub async fn account_by_api_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id AS token_id, a.id, a.username, a.display_name, a.role, a.org_id, \
                    a.password_hash, a.disabled, a.must_change_password, a.created_at \
             FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND a.disabled = 0 \
               AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token_id: i64 = row.try_get("token_id")?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id)
            .execute(self.pool())
            .await?;
        Ok(Some(account_from_row(&row)?))
    }

    pub async fn create_challenge(&self, challenge: &Challenge) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO challenges (id, purpose, account_id, holder_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&challenge.id)
        .bind(&challenge.purpose)
        .bind(challenge.account_id)
        .bind(&challenge.holder_hash)
        .bind(challenge.created_at)
        .bind(challenge.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Uses up a challenge: answers it when it exists for this purpose and this holder, is unused
    /// and has not expired at `now`; it can never be used again, even by a concurrent request.
    /// Another holder's attempt changes nothing (it cannot use the challenge up either).
    pub async fn consume_challenge(
        &self,
        id: &str,
        purpose: &str,
        holder_hash: &str,
        now: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        let done = sqlx::query(
            "UPDATE challenges SET used_at = $1 WHERE id = $2 AND purpose = $3 AND holder_hash = $4 \
             AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .bind(purpose)
        .bind(holder_hash)
        .execute(self.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT id, purpose, account_id, holder_hash, created_at, expires_at FROM challenges \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(Some(Challenge {
            id: row.try_get("id")?,
            purpose: row.try_get("purpose")?,
            account_id: row.try_get("account_id")?,
            holder_hash: row.try_get("holder_hash")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Removes challenges, used or not, that expired at or before `before`; answers how many.
    pub async fn delete_expired_challenges(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Whether a challenge exists at all (to tell "used or expired" from "never issued").
    /// Whether the challenge `id` exists and is `holder_hash`'s (used or not).
    pub async fn challenge_held_by(&self, id: &str, holder_hash: &str) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM challenges WHERE id = $1 AND holder_hash = $2")
                .bind(id)
                .bind(holder_hash)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn challenge_exists(&self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM challenges WHERE id = $1")
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}
