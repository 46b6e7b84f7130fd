//! 制证 (issue 14): which UKey the CA's station made an order's keys on, the SO PIN it set
//! there (sealed by the caller), and when the certificates were written into it.

use crate::audit::append_audit_with_change;
use crate::{AuditNote, Store, StoreError};
use certdesk_domain::AuditAction;
use sqlx::Row;

/// An order's 制证 record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProduction {
    pub order_id: i64,
    /// CA锁ID.
    pub key_serial: String,
    /// The SO PIN set on the key, sealed with the personal data key; `None` for a key whose SO
    /// PIN only its vendor's tool sets (a PKCS#11 token).
    pub so_pin_sealed: Option<String>,
    pub produced_by: i64,
    pub produced_at: i64,
    pub written_at: Option<i64>,
}

const COLUMNS: &str = "order_id, key_serial, so_pin_sealed, produced_by, produced_at, written_at";

fn production_of(row: &sqlx::any::AnyRow) -> Result<KeyProduction, StoreError> {
    Ok(KeyProduction {
        order_id: row.try_get("order_id")?,
        key_serial: row.try_get("key_serial")?,
        so_pin_sealed: row.try_get("so_pin_sealed")?,
        produced_by: row.try_get("produced_by")?,
        produced_at: row.try_get("produced_at")?,
        written_at: row.try_get("written_at")?,
    })
}

impl Store {
    /// Records `key_serial` as the key the order's certificates go into, with the SO PIN set
    /// on it, unless the order has its key already: then that record is answered (the first
    /// key chosen stays the order's, whoever asks at the same instant).
    pub async fn choose_production_key(
        &self,
        order_id: i64,
        key_serial: &str,
        so_pin_sealed: Option<&str>,
        audit: &AuditNote<'_>,
        object: &str,
    ) -> Result<KeyProduction, StoreError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO key_productions (order_id, key_serial, so_pin_sealed, produced_by, produced_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id)
        .bind(key_serial)
        .bind(so_pin_sealed)
        .bind(audit.actor_account_id)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            append_audit_with_change(&mut tx, &audit.event(AuditAction::KeyProduced, object))
                .await?;
        }
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM key_productions WHERE order_id = $1"
        ))
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        production_of(&row)
    }

    pub async fn key_production(&self, order_id: i64) -> Result<Option<KeyProduction>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM key_productions WHERE order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(production_of)
        .transpose()
    }

    /// Marks the certificates written into the order's key; `false` when they were already (or
    /// the key is another).
    pub async fn mark_key_written(
        &self,
        order_id: i64,
        key_serial: &str,
        audit: &AuditNote<'_>,
        object: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let marked = sqlx::query(
            "UPDATE key_productions SET written_at = $1 \
             WHERE order_id = $2 AND key_serial = $3 AND written_at IS NULL",
        )
        .bind(audit.at)
        .bind(order_id)
        .bind(key_serial)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked != 1 {
            return Ok(false);
        }
        append_audit_with_change(&mut tx, &audit.event(AuditAction::KeyWritten, object)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The 制证 record of the key whose first signing certificate has `serial_hex` (lower-case
    /// hex), as a 解锁授权码 names it.
    pub async fn production_of_certificate(
        &self,
        serial_hex: &str,
    ) -> Result<Option<KeyProduction>, StoreError> {
        sqlx::query(
            "SELECT p.order_id, p.key_serial, p.so_pin_sealed, p.produced_by, p.produced_at, p.written_at \
             FROM key_productions p \
             JOIN order_issuance i ON i.order_id = p.order_id \
             JOIN certificates c ON c.id = i.signing_certificate_id \
             WHERE c.serial_hex = $1",
        )
        .bind(serial_hex)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(production_of)
        .transpose()
    }
}
