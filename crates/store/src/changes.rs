//! 变更: what a change order changes, and the registration updated with the CA's approval.

use crate::applications::NewApplication;
use crate::audit::AuditNote;
use crate::orders::{apply_step_in, audit_created_in, Order};
use crate::replacements::insert_replacement_in;
use crate::{NewOrder, NewReplacement, StepRecord, Store, StoreError};
use sqlx::Row;

pub struct NewChange<'a> {
    pub org_name: &'a str,
    pub renames: bool,
    pub legal_rep_name: &'a str,
    pub legal_rep_id_sealed: &'a str,
    pub legal_rep_mobile_sealed: &'a str,
    pub changes_legal_rep: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub order_id: i64,
    pub org_name: String,
    pub renames: bool,
    pub legal_rep_name: String,
    /// Sealed.
    pub legal_rep_id: String,
    /// Sealed.
    pub legal_rep_mobile: String,
    pub changes_legal_rep: bool,
    pub applied_at: Option<i64>,
}

impl Store {
    /// Creates a 变更 order (草稿): its application (the key's, to be re-certified), the key it
    /// replaces and the change, all or nothing; a key already in a replacement or change that
    /// has not ended is [`StoreError::Conflict`]`("replacement")`.
    pub async fn create_change_order(
        &self,
        order: &NewOrder<'_>,
        application: &NewApplication<'_>,
        replaces: &NewReplacement<'_>,
        change: &NewChange<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        let created = insert_replacement_in(&mut tx, order, application, replaces).await?;
        sqlx::query(
            "INSERT INTO change_requests (order_id, org_name, renames, legal_rep_name, \
             legal_rep_id, legal_rep_mobile, changes_legal_rep, applied_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(created.id)
        .bind(change.org_name)
        .bind(i64::from(change.renames))
        .bind(change.legal_rep_name)
        .bind(change.legal_rep_id_sealed)
        .bind(change.legal_rep_mobile_sealed)
        .bind(i64::from(change.changes_legal_rep))
        .execute(&mut *tx)
        .await?;
        audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn change_request(&self, order_id: i64) -> Result<Option<ChangeRequest>, StoreError> {
        let row = sqlx::query(
            "SELECT order_id, org_name, renames, legal_rep_name, legal_rep_id, legal_rep_mobile, \
             changes_legal_rep, applied_at FROM change_requests WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(ChangeRequest {
                order_id: row.try_get("order_id")?,
                org_name: row.try_get("org_name")?,
                renames: row.try_get::<i64, _>("renames")? != 0,
                legal_rep_name: row.try_get("legal_rep_name")?,
                legal_rep_id: row.try_get("legal_rep_id")?,
                legal_rep_mobile: row.try_get("legal_rep_mobile")?,
                changes_legal_rep: row.try_get::<i64, _>("changes_legal_rep")? != 0,
                applied_at: row.try_get("applied_at")?,
            })
        })
        .transpose()
    }

    /// Applies the CA's approval of a 变更 in one transaction: the step, the organisation's
    /// registered name (`rename_to`, when it changes), the order's application form (the new
    /// name and legal representative, sealed by the caller) and the change marked applied.
    /// False, and nothing written, when the order had moved on.
    pub async fn apply_change(
        &self,
        record: &StepRecord<'_>,
        rename_to: Option<&str>,
        form_json: &str,
    ) -> Result<bool, StoreError> {
        let order = record.order;
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        if let Some(name) = rename_to {
            sqlx::query("UPDATE organisations SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(order.org_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE applications SET form_json = $1, updated_at = $2 WHERE order_id = $3")
            .bind(form_json)
            .bind(record.at)
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE change_requests SET applied_at = $1 WHERE order_id = $2")
            .bind(record.at)
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
