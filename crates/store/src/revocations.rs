//! 吊销 on request: the request behind a revocation order.

use crate::audit::AuditNote;
use crate::orders::{apply_step_in, insert_draft_order_in, Order};
use crate::{NewOrder, StepRecord, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

pub struct NewRevocationRequest<'a> {
    pub certificate_id: i64,
    pub key_serial: &'a str,
    pub reason: &'a str,
    pub note: &'a str,
    pub legal_rep_name: &'a str,
    pub legal_rep_id_sealed: &'a str,
    pub legal_rep_mobile_sealed: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRequest {
    pub order_id: i64,
    pub certificate_id: i64,
    pub key_serial: String,
    pub reason: String,
    pub note: String,
    pub legal_rep_name: String,
    pub legal_rep_id: String,
    pub legal_rep_mobile: String,
    pub revoked_at: Option<i64>,
}

const REVOCATION_COLUMNS: &str = "order_id, certificate_id, key_serial, reason, note, \
     legal_rep_name, legal_rep_id, legal_rep_mobile, revoked_at";

fn revocation_from_row(row: &AnyRow) -> Result<RevocationRequest, StoreError> {
    Ok(RevocationRequest {
        order_id: row.try_get("order_id")?,
        certificate_id: row.try_get("certificate_id")?,
        key_serial: row.try_get("key_serial")?,
        reason: row.try_get("reason")?,
        note: row.try_get("note")?,
        legal_rep_name: row.try_get("legal_rep_name")?,
        legal_rep_id: row.try_get("legal_rep_id")?,
        legal_rep_mobile: row.try_get("legal_rep_mobile")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Creates a revocation order (草稿) with its request and the audit entry, all or nothing.
    pub async fn create_revocation_order(
        &self,
        order: &NewOrder<'_>,
        request: &NewRevocationRequest<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        let created = insert_draft_order_in(&mut tx, order).await?;
        let sql = format!(
            "INSERT INTO revocation_requests ({REVOCATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)"
        );
        sqlx::query(&sql)
            .bind(created.id)
            .bind(request.certificate_id)
            .bind(request.key_serial)
            .bind(request.reason)
            .bind(request.note)
            .bind(request.legal_rep_name)
            .bind(request.legal_rep_id_sealed)
            .bind(request.legal_rep_mobile_sealed)
            .execute(&mut *tx)
            .await?;
        crate::orders::audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn revocation_request(
        &self,
        order_id: i64,
    ) -> Result<Option<RevocationRequest>, StoreError> {
        let sql =
            format!("SELECT {REVOCATION_COLUMNS} FROM revocation_requests WHERE order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(revocation_from_row).transpose()
    }

    /// The serials of every certificate of the key whose signing certificate is `certificate_id`:
    /// the signing one, and the encryption one of an SM2 dual pair.
    pub async fn key_certificate_serials(
        &self,
        certificate_id: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT c.serial_hex FROM ",
            crate::key_pairs!(),
            " kp JOIN certificates c ON c.id = kp.signing_id OR c.id = kp.encryption_id \
             WHERE kp.signing_id = $1 ORDER BY c.id",
        ))
        .bind(certificate_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("serial_hex")?))
            .collect()
    }

    /// Applies the step that completes a revocation (the CA revoked the certificate before),
    /// with the time it was revoked, in one transaction; false when the order had moved on.
    pub async fn complete_revocation(
        &self,
        record: &StepRecord<'_>,
        revoked_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE revocation_requests SET revoked_at = $1 WHERE order_id = $2")
            .bind(revoked_at)
            .bind(record.order.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
