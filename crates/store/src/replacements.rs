//! 补办: the key a replacement order replaces, and the old certificates revoked once the new
//! ones are issued.

use crate::applications::NewApplication;
use crate::audit::AuditNote;
use crate::orders::{audit_created_in, insert_draft_order_in, Order};
use crate::{NewOrder, Store, StoreError};
use sqlx::Row;

pub struct NewReplacement<'a> {
    pub certificate_id: i64,
    pub reason: &'a str,
    pub restore_encryption_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacementRequest {
    pub order_id: i64,
    pub certificate_id: i64,
    pub serial_hex: String,
    pub not_after: i64,
    pub reason: String,
    pub restore_encryption_key: bool,
    pub replaced_at: Option<i64>,
}

/// A replacement whose new certificates are issued and whose old ones are still to be revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacedKey {
    pub order_id: i64,
    pub org_id: i64,
    pub order_no: String,
    pub certificate_id: i64,
    pub serial_hex: String,
    pub reason: String,
}

/// Order statuses in which a replacement no longer holds its key.
const ENDED: &str = "('closed', 'withdrawn', 'refunding', 'refunded')";

/// A replacement order (补办, or 变更's re-certification), its application and the key it
/// replaces, inside the caller's transaction. Under the organisation's lock, a key already in
/// a replacement that has not ended is [`StoreError::Conflict`]`("replacement")`.
pub(crate) async fn insert_replacement_in(
    conn: &mut sqlx::AnyConnection,
    order: &NewOrder<'_>,
    application: &NewApplication<'_>,
    request: &NewReplacement<'_>,
) -> Result<Order, StoreError> {
    sqlx::query("UPDATE organisations SET name = name WHERE id = $1")
        .bind(order.org_id)
        .execute(&mut *conn)
        .await?;
    let taken = sqlx::query(&format!(
        "SELECT 1 FROM replacement_requests r JOIN orders o ON o.id = r.order_id \
         WHERE r.certificate_id = $1 AND o.status NOT IN {ENDED}"
    ))
    .bind(request.certificate_id)
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict("replacement"));
    }
    let created = insert_draft_order_in(conn, order).await?;
    crate::applications::insert_application_in(conn, created.id, application, order.created_at)
        .await?;
    sqlx::query(
        "INSERT INTO replacement_requests (order_id, certificate_id, reason, \
         restore_encryption_key, replaced_at) VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(created.id)
    .bind(request.certificate_id)
    .bind(request.reason)
    .bind(i64::from(request.restore_encryption_key))
    .execute(&mut *conn)
    .await?;
    Ok(created)
}

impl Store {
    /// Creates a 补办 order (草稿) with its application and request, all or nothing (see
    /// [`insert_replacement_in`]).
    pub async fn create_replacement_order(
        &self,
        order: &NewOrder<'_>,
        application: &NewApplication<'_>,
        request: &NewReplacement<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        let created = insert_replacement_in(&mut tx, order, application, request).await?;
        audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn replacement_request(
        &self,
        order_id: i64,
    ) -> Result<Option<ReplacementRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT r.order_id, r.certificate_id, c.serial_hex, c.not_after, r.reason, \
             r.restore_encryption_key, r.replaced_at FROM replacement_requests r \
             JOIN certificates c ON c.id = r.certificate_id WHERE r.order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(ReplacementRequest {
                order_id: row.try_get("order_id")?,
                certificate_id: row.try_get("certificate_id")?,
                serial_hex: row.try_get("serial_hex")?,
                not_after: row.try_get("not_after")?,
                reason: row.try_get("reason")?,
                restore_encryption_key: row.try_get::<i64, _>("restore_encryption_key")? != 0,
                replaced_at: row.try_get("replaced_at")?,
            })
        })
        .transpose()
    }

    /// Replacements whose new certificates are issued and whose old ones are not yet marked
    /// revoked, oldest first.
    pub async fn replaced_due(&self, limit: i64) -> Result<Vec<ReplacedKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.order_id, o.org_id, o.order_no, r.certificate_id, c.serial_hex, r.reason \
             FROM replacement_requests r JOIN orders o ON o.id = r.order_id \
             JOIN order_issuance i ON i.order_id = r.order_id \
             JOIN certificates c ON c.id = r.certificate_id \
             WHERE r.replaced_at IS NULL AND i.signing_certificate_id IS NOT NULL \
             ORDER BY r.order_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReplacedKey {
                    order_id: row.try_get("order_id")?,
                    org_id: row.try_get("org_id")?,
                    order_no: row.try_get("order_no")?,
                    certificate_id: row.try_get("certificate_id")?,
                    serial_hex: row.try_get("serial_hex")?,
                    reason: row.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Marks the old certificates of a replacement revoked (the CA revoked them first).
    pub async fn mark_replaced(&self, order_id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE replacement_requests SET replaced_at = $1 \
             WHERE order_id = $2 AND replaced_at IS NULL",
        )
        .bind(at)
        .bind(order_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
