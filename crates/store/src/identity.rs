//! Identity checks of orders and the daily face-match counter. A typed code is recorded with a
//! compare-and-set on the attempts seen, so two requests typing codes at once cannot both use
//! the same try; the face counter is one upsert that refuses past the limit.

use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCheck {
    pub id: i64,
    pub order_id: i64,
    /// `certdesk_domain::IdentityMethod::as_str`.
    pub method: String,
    pub subject_hash: String,
    pub subject_name: String,
    pub masked_id: String,
    pub masked_target: String,
    /// `certdesk_domain::CheckStatus::as_str`.
    pub status: String,
    pub failure: String,
    pub code_salt: Option<String>,
    pub code_hash: Option<String>,
    pub expires_at: Option<i64>,
    /// Wrong codes typed so far.
    pub attempts: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewIdentityCheck<'a> {
    pub order_id: i64,
    pub method: &'a str,
    pub subject_hash: &'a str,
    pub subject_name: &'a str,
    pub masked_id: &'a str,
    pub masked_target: &'a str,
    pub status: &'a str,
    pub failure: &'a str,
    pub code_salt: Option<&'a str>,
    pub code_hash: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

const CHECK_COLUMNS: &str = "id, order_id, method, subject_hash, subject_name, masked_id, \
     masked_target, status, failure, code_salt, code_hash, expires_at, attempts, created_at, updated_at";

fn check_from_row(row: &AnyRow) -> Result<IdentityCheck, StoreError> {
    Ok(IdentityCheck {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        method: row.try_get("method")?,
        subject_hash: row.try_get("subject_hash")?,
        subject_name: row.try_get("subject_name")?,
        masked_id: row.try_get("masked_id")?,
        masked_target: row.try_get("masked_target")?,
        status: row.try_get("status")?,
        failure: row.try_get("failure")?,
        code_salt: row.try_get("code_salt")?,
        code_hash: row.try_get("code_hash")?,
        expires_at: row.try_get("expires_at")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Records a new check of an order, with `audit`. A code still pending for the same order
    /// and method is superseded (`locked`) in the same transaction: only the newest code counts.
    pub async fn create_identity_check(
        &self,
        new: &NewIdentityCheck<'_>,
        audit: &NewAuditEvent<'_>,
    ) -> Result<IdentityCheck, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE identity_checks SET status = 'locked', updated_at = $1 \
             WHERE order_id = $2 AND method = $3 AND status = 'pending'",
        )
        .bind(new.created_at)
        .bind(new.order_id)
        .bind(new.method)
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "INSERT INTO identity_checks (order_id, method, subject_hash, subject_name, masked_id, \
             masked_target, status, failure, code_salt, code_hash, expires_at, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $12) RETURNING {CHECK_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(new.order_id)
            .bind(new.method)
            .bind(new.subject_hash)
            .bind(new.subject_name)
            .bind(new.masked_id)
            .bind(new.masked_target)
            .bind(new.status)
            .bind(new.failure)
            .bind(new.code_salt)
            .bind(new.code_hash)
            .bind(new.expires_at)
            .bind(new.created_at)
            .fetch_one(&mut *tx)
            .await?;
        let check = check_from_row(&row)?;
        append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(check)
    }

    /// How many checks by `method` were started for a person since `since`, over all orders.
    pub async fn identity_checks_of_subject_since(
        &self,
        subject_hash: &str,
        method: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM identity_checks \
             WHERE subject_hash = $1 AND method = $2 AND created_at >= $3",
        )
        .bind(subject_hash)
        .bind(method)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The newest check of an order by one method.
    pub async fn latest_identity_check(
        &self,
        order_id: i64,
        method: &str,
    ) -> Result<Option<IdentityCheck>, StoreError> {
        let sql = format!(
            "SELECT {CHECK_COLUMNS} FROM identity_checks WHERE order_id = $1 AND method = $2 \
             ORDER BY id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(order_id)
            .bind(method)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(check_from_row).transpose()
    }

    /// Every check of an order, oldest first.
    pub async fn identity_checks_of_order(
        &self,
        order_id: i64,
    ) -> Result<Vec<IdentityCheck>, StoreError> {
        let sql =
            format!("SELECT {CHECK_COLUMNS} FROM identity_checks WHERE order_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(order_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(check_from_row).collect()
    }

    /// The newest passed check of an order for the person `subject_hash`, if any.
    pub async fn passed_identity_check(
        &self,
        order_id: i64,
        subject_hash: &str,
    ) -> Result<Option<IdentityCheck>, StoreError> {
        let sql = format!(
            "SELECT {CHECK_COLUMNS} FROM identity_checks WHERE order_id = $1 AND subject_hash = $2 \
             AND status = 'passed' ORDER BY id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(order_id)
            .bind(subject_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(check_from_row).transpose()
    }

    /// Records the outcome of a typed code: `attempts` and `status` become the new values, only
    /// if the check is still pending with `seen_attempts` wrong codes; answers whether it was
    /// (then `audit` is written with it).
    pub async fn record_code_attempt(
        &self,
        check_id: i64,
        seen_attempts: i64,
        attempts: i64,
        status: &str,
        now: i64,
        audit: &NewAuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE identity_checks SET attempts = $1, status = $2, updated_at = $3 \
             WHERE id = $4 AND attempts = $5 AND status = 'pending'",
        )
        .bind(attempts)
        .bind(status)
        .bind(now)
        .bind(check_id)
        .bind(seen_attempts)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes one face-match try for a person on a day: the new count, or `None` when `limit`
    /// tries were taken already (nothing changes then).
    pub async fn take_face_try(
        &self,
        subject_hash: &str,
        day: &str,
        limit: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO face_attempts (subject_hash, day, attempts) VALUES ($1, $2, 1) \
             ON CONFLICT (subject_hash, day) DO UPDATE SET attempts = face_attempts.attempts + 1 \
             WHERE face_attempts.attempts < $3 RETURNING attempts",
        )
        .bind(subject_hash)
        .bind(day)
        .bind(limit)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get::<i64, _>("attempts"))
            .transpose()
            .map_err(Into::into)
    }

    /// Face-match tries a person has taken on a day.
    pub async fn face_tries(&self, subject_hash: &str, day: &str) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT attempts FROM face_attempts WHERE subject_hash = $1 AND day = $2")
                .bind(subject_hash)
                .bind(day)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some(r) => r.try_get("attempts")?,
            None => 0,
        })
    }
}
