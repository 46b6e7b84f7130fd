//! Limits that hold under concurrent requests: a slot is taken with one atomic upsert before
//! the work it guards, so that of N requests arriving together only as many as the limit get
//! through, on SQLite and PostgreSQL alike (the row is the lock).

use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::{Store, StoreError};
use sqlx::Row;

/// A limit: at most `max` slots per key in a window of `window_secs` from the first taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: i64,
    pub window_secs: i64,
}

/// What taking a slot found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Taken: the `n`th of the window.
    Taken(i64),
    /// The window's slots are all taken until `until` (Unix seconds).
    Full { until: i64 },
}

impl Store {
    /// Takes a slot of `key` under `limit` at `now`; a window that has run out starts again.
    pub async fn take_rate_slot(
        &self,
        key: &str,
        limit: RateLimit,
        now: i64,
    ) -> Result<Slot, StoreError> {
        let expired_before = now - limit.window_secs;
        let row = sqlx::query(
            "INSERT INTO rate_limits (key, window_start, taken) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               taken = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.taken + 1 END, \
               lock_audited = CASE WHEN rate_limits.window_start <= $3 THEN 0 ELSE rate_limits.lock_audited END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
             WHERE rate_limits.window_start <= $3 OR rate_limits.taken < $4 \
             RETURNING taken",
        )
        .bind(key)
        .bind(now)
        .bind(expired_before)
        .bind(limit.max)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = row {
            return Ok(Slot::Taken(row.try_get("taken")?));
        }
        let row = sqlx::query("SELECT window_start FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_one(self.pool())
            .await?;
        Ok(Slot::Full {
            until: row.try_get::<i64, _>("window_start")? + limit.window_secs,
        })
    }

    /// Gives a taken slot back (the work it guarded did not happen).
    pub async fn give_back_rate_slot(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE rate_limits SET taken = taken - 1 WHERE key = $1 AND taken > 0")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets `key`'s window (a password login succeeded: its failures no longer count).
    pub async fn reset_rate_key(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Writes `audit` for the lock of `key`'s current window, once: answers whether this call
    /// wrote it.
    pub async fn audit_rate_lock_once(
        &self,
        key: &str,
        audit: &NewAuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let marked = sqlx::query(
            "UPDATE rate_limits SET lock_audited = 1 WHERE key = $1 AND lock_audited = 0",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            return Ok(false);
        }
        append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The slots taken in `key`'s window (0 when it has none).
    pub async fn rate_taken(&self, key: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT taken FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("taken")?,
            None => 0,
        })
    }

    /// Removes windows that started before `before`; answers how many.
    pub async fn purge_rate_limits(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
