//! Accounts of every role.

use crate::audit::append_audit_with_change;
use crate::{AuditNote, Store, StoreError};
use certdesk_domain::{AuditAction, Role};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<i64>,
    /// The argon2id PHC string; never the password.
    pub password_hash: String,
    pub disabled: bool,
    /// An admin reset the password: the user sets their own before anything else.
    pub must_change_password: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub org_id: Option<i64>,
    pub password_hash: &'a str,
    pub created_at: i64,
}

pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, username, display_name, role, org_id, password_hash, disabled, must_change_password, created_at";

pub(crate) fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Account {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: role
            .parse()
            .map_err(|e: certdesk_domain::UnknownRole| StoreError::Corrupt(e.to_string()))?,
        org_id: row.try_get("org_id")?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Adds an account. A taken user name is [`StoreError::Conflict`]`("username")`.
    /// Creates an account, with its `account_created` audit entry in the same transaction.
    pub async fn create_account(
        &self,
        new: &NewAccount<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Account, StoreError> {
        let sql = format!(
            "INSERT INTO accounts (username, display_name, role, org_id, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ACCOUNT_COLUMNS}"
        );
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(&sql)
            .bind(new.username)
            .bind(new.display_name)
            .bind(new.role.as_str())
            .bind(new.org_id)
            .bind(new.password_hash)
            .bind(new.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "username"))?;
        let account = account_from_row(&row)?;
        let object = format!("account:{}", account.id);
        append_audit_with_change(&mut tx, &audit.event(AuditAction::AccountCreated, &object))
            .await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1");
        let row = sqlx::query(&sql)
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn count_accounts_with_role(&self, role: Role) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE role = $1")
            .bind(role.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Replaces an account's password hash; answers whether the account exists.
    /// Sets a new password hash (the user's own: a reset's must-change ends) and, in the same
    /// transaction with its `password_changed` audit entry, ends every session of the account
    /// but `keep_session` (the one it was changed in, if any) and revokes every API token of
    /// it at `now`: whoever held the old password loses what it opened. Answers whether the
    /// account exists.
    pub async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !set_password_in(&mut tx, id, password_hash, false).await? {
            return Ok(false);
        }
        let (sessions, tokens) = end_sessions_and_tokens(&mut tx, id, keep_session, now).await?;
        let object = format!("account:{id}");
        let detail = format!(
            "{}{}结束其他会话 {sessions} 个，吊销API令牌 {tokens} 个",
            audit.detail,
            if audit.detail.is_empty() { "" } else { " " }
        );
        append_audit_with_change(
            &mut tx,
            &AuditNote {
                detail: &detail,
                ..*audit
            }
            .event(AuditAction::PasswordChanged, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Disables (or enables again) an account; disabling ends its sessions and revokes its API
    /// tokens in the same transaction, with the audit entry. Answers whether it changed.
    pub async fn set_account_disabled(
        &self,
        id: i64,
        disabled: bool,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done =
            sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2 AND disabled <> $1")
                .bind(i64::from(disabled))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if disabled {
            end_sessions_and_tokens(&mut tx, id, None, now).await?;
        }
        let object = format!("account:{id}");
        let action = if disabled {
            AuditAction::AccountDisabled
        } else {
            AuditAction::AccountEnabled
        };
        append_audit_with_change(&mut tx, &audit.event(action, &object)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An admin's reset: a new password hash the user must replace at the next login; every
    /// session and API token of the account ends, in one transaction with the audit entry.
    pub async fn reset_password(
        &self,
        id: i64,
        password_hash: &str,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !set_password_in(&mut tx, id, password_hash, true).await? {
            return Ok(false);
        }
        end_sessions_and_tokens(&mut tx, id, None, now).await?;
        let object = format!("account:{id}");
        append_audit_with_change(&mut tx, &audit.event(AuditAction::PasswordReset, &object))
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Sets an account's password hash and whether it must be changed, inside the caller's
/// transaction; answers whether the account exists.
async fn set_password_in(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    password_hash: &str,
    must_change: bool,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE accounts SET password_hash = $1, must_change_password = $2 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(i64::from(must_change))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of an account but `keep_session` and revokes its API tokens at `now`,
/// inside the caller's transaction; answers how many of each.
pub(crate) async fn end_sessions_and_tokens(
    conn: &mut sqlx::AnyConnection,
    account_id: i64,
    keep_session: Option<&str>,
    now: i64,
) -> Result<(u64, u64), StoreError> {
    let sessions = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2")
        .bind(account_id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let tokens = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((sessions, tokens))
}
