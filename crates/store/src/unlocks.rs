//! 解锁: the request behind an unlock order, and its one-time code (see
//! `certdesk_domain::unlock`).

use crate::audit::{append_audit_with_change, AuditNote};
use crate::orders::{apply_step_in, insert_draft_order_in, Order};
use crate::{NewOrder, StepRecord, Store, StoreError};
use certdesk_domain::AuditAction;
use sqlx::any::AnyRow;
use sqlx::Row;

/// What a supplier asks to unlock, and for whom.
pub struct NewUnlockRequest<'a> {
    pub certificate_id: i64,
    pub key_serial: &'a str,
    pub holder_name: &'a str,
    pub holder_id_sealed: &'a str,
    pub holder_mobile_sealed: &'a str,
    pub reason: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockRequest {
    pub order_id: i64,
    /// The unlock order's number.
    pub order_no: String,
    pub certificate_id: i64,
    pub key_serial: String,
    pub holder_name: String,
    pub holder_id: String,
    pub holder_mobile: String,
    pub reason: String,
    pub code_sealed: Option<String>,
    pub code_issued_at: Option<i64>,
    pub code_expires_at: Option<i64>,
    pub code_used_at: Option<i64>,
    pub code_used_by: Option<i64>,
}

/// The code written with an approval.
pub struct IssuedUnlockCode<'a> {
    pub hash: &'a str,
    pub sealed: &'a str,
    pub expires_at: i64,
}

const UNLOCK_COLUMNS: &str = "u.order_id, o.order_no, u.certificate_id, u.key_serial, \
     u.holder_name, u.holder_id, u.holder_mobile, u.reason, u.code_sealed, u.code_issued_at, \
     u.code_expires_at, u.code_used_at, u.code_used_by";
/// A request with its order (for the number, and the organisation that may see it).
const UNLOCK_FROM: &str = "unlock_requests u JOIN orders o ON o.id = u.order_id";

fn unlock_from_row(row: &AnyRow) -> Result<UnlockRequest, StoreError> {
    Ok(UnlockRequest {
        order_id: row.try_get("order_id")?,
        order_no: row.try_get("order_no")?,
        certificate_id: row.try_get("certificate_id")?,
        key_serial: row.try_get("key_serial")?,
        holder_name: row.try_get("holder_name")?,
        holder_id: row.try_get("holder_id")?,
        holder_mobile: row.try_get("holder_mobile")?,
        reason: row.try_get("reason")?,
        code_sealed: row.try_get("code_sealed")?,
        code_issued_at: row.try_get("code_issued_at")?,
        code_expires_at: row.try_get("code_expires_at")?,
        code_used_at: row.try_get("code_used_at")?,
        code_used_by: row.try_get("code_used_by")?,
    })
}

impl Store {
    /// Creates an unlock order (草稿) with its request and the audit entry, all or nothing.
    pub async fn create_unlock_order(
        &self,
        order: &NewOrder<'_>,
        request: &NewUnlockRequest<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        let created = insert_draft_order_in(&mut tx, order).await?;
        sqlx::query(
            "INSERT INTO unlock_requests (order_id, certificate_id, key_serial, holder_name, \
             holder_id, holder_mobile, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(created.id)
        .bind(request.certificate_id)
        .bind(request.key_serial)
        .bind(request.holder_name)
        .bind(request.holder_id_sealed)
        .bind(request.holder_mobile_sealed)
        .bind(request.reason)
        .execute(&mut *tx)
        .await?;
        crate::orders::audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn unlock_request(&self, order_id: i64) -> Result<Option<UnlockRequest>, StoreError> {
        let sql = format!("SELECT {UNLOCK_COLUMNS} FROM {UNLOCK_FROM} WHERE u.order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(unlock_from_row).transpose()
    }

    /// The request of organisation `org_id` whose code has this hash (another organisation's
    /// code is not there for it).
    pub async fn unlock_request_by_code(
        &self,
        code_hash: &str,
        org_id: i64,
    ) -> Result<Option<UnlockRequest>, StoreError> {
        let sql = format!(
            "SELECT {UNLOCK_COLUMNS} FROM {UNLOCK_FROM} WHERE u.code_hash = $1 AND o.org_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(code_hash)
            .bind(org_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(unlock_from_row).transpose()
    }

    /// Applies the approval `record` (待初审 → 已完成) with the code it issues and the message
    /// that tells the organisation's admins, in one transaction; false when the order had moved
    /// on.
    pub async fn approve_unlock(
        &self,
        record: &StepRecord<'_>,
        code: &IssuedUnlockCode<'_>,
        tell_admins: &crate::NewMessage<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        let written = sqlx::query(
            "UPDATE unlock_requests SET code_hash = $1, code_sealed = $2, code_issued_at = $3, \
             code_expires_at = $4 WHERE order_id = $5 AND code_hash IS NULL",
        )
        .bind(code.hash)
        .bind(code.sealed)
        .bind(record.at)
        .bind(code.expires_at)
        .bind(record.order.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written != 1 {
            return Err(StoreError::Corrupt(format!(
                "unlock order {} has no request or a code already",
                record.order.order_no
            )));
        }
        crate::messages::message_org_admins_in(
            &mut tx,
            record.order.org_id,
            tell_admins,
            record.at,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Uses the code of unlock order `order_id` once, while it is valid at `now`, with its
    /// audit entry; false when it was used already or has expired (whoever came first won).
    pub async fn use_unlock_code(
        &self,
        order_id: i64,
        now: i64,
        audit: &AuditNote<'_>,
        object: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let used = sqlx::query(
            "UPDATE unlock_requests SET code_used_at = $1, code_used_by = $2 \
             WHERE order_id = $3 AND code_used_at IS NULL AND code_expires_at > $1",
        )
        .bind(now)
        .bind(audit.actor_account_id)
        .bind(order_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used != 1 {
            return Ok(false);
        }
        append_audit_with_change(&mut tx, &audit.event(AuditAction::UnlockCodeUsed, object))
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
