//! One-time notices bound to a session (issue 12): put after a page action, taken (and so
//! removed) by the next page the session shows.

use crate::{Store, StoreError};
use sqlx::Row;

impl Store {
    /// Puts `message` in `slot` for the session; a newer message in a slot replaces the older.
    pub async fn put_flash(
        &self,
        session_hash: &str,
        slot: &str,
        message: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO flashes (session_hash, slot, message, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (session_hash, slot) DO UPDATE SET message = $3, created_at = $4",
        )
        .bind(session_hash)
        .bind(slot)
        .bind(message)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the session's messages as (slot, message): they are shown once.
    pub async fn take_flashes(
        &self,
        session_hash: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            sqlx::query("DELETE FROM flashes WHERE session_hash = $1 RETURNING slot, message")
                .bind(session_hash)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("slot")?, row.try_get("message")?)))
            .collect()
    }
}
