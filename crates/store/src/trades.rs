//! Paying and paying back (migration 0008): the built-in sandbox gateway's trades, offline bank
//! transfers waiting for an operator, and refunds. Every change is compare-and-set on the
//! record's status, and the order moves in the same transaction, so each happens once.

use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::orders::{apply_payment_in, apply_step_in};
use crate::{AuditNote, Payment, PaymentOutcome, StepRecord, Store, StoreError};
use certdesk_domain::AuditAction;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A trade of the sandbox gateway: what the payer page shows and confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxTrade {
    pub id: i64,
    pub order_id: i64,
    pub token: String,
    pub trade_no: String,
    pub amount_fen: i64,
    /// `waiting`, `paid` or `cancelled`.
    pub status: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewSandboxTrade<'a> {
    pub order_id: i64,
    pub token: &'a str,
    pub trade_no: &'a str,
    pub amount_fen: i64,
    pub created_at: i64,
}

/// A bank transfer's receipt and what an operator decided about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineTransfer {
    pub id: i64,
    pub order_id: i64,
    /// Of the order, for lists.
    pub order_no: String,
    pub org_id: i64,
    pub receipt_blob: String,
    pub receipt_name: String,
    pub amount_fen: i64,
    /// `pending`, `confirmed` or `rejected`.
    pub status: String,
    pub submitted_by: i64,
    pub submitted_at: i64,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub reject_reason: String,
}

#[derive(Debug, Clone)]
pub struct NewOfflineTransfer<'a> {
    pub order_id: i64,
    pub receipt_blob: &'a str,
    pub receipt_name: &'a str,
    pub amount_fen: i64,
    pub submitted_by: i64,
    pub submitted_at: i64,
}

/// What confirming an offline transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferConfirmation {
    /// The transfer was no longer pending (decided by someone else): nothing changed.
    NotPending,
    /// The order was already paid another way: nothing changed; the transfer stays pending
    /// for the operator to reject, so the money goes back.
    AlreadyPaid,
    /// Confirmed, and the payment recorded: `Applied`, or `RecordedButNotPayable` (to refund).
    Confirmed(PaymentOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: i64,
    pub order_id: i64,
    pub gateway: String,
    pub gateway_txn: String,
    pub amount_fen: i64,
    pub reason: String,
    /// `requested` or `completed`.
    pub status: String,
    pub requested_at: i64,
    pub completed_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    pub order_id: i64,
    pub gateway: &'a str,
    pub gateway_txn: &'a str,
    pub amount_fen: i64,
    pub reason: &'a str,
    pub requested_at: i64,
}

const TRADE_COLUMNS: &str =
    "id, order_id, token, trade_no, amount_fen, status, created_at, paid_at";
const TRANSFER_COLUMNS: &str = "t.id, t.order_id, o.order_no, o.org_id, t.receipt_blob, t.receipt_name, t.amount_fen, t.status, \
     t.submitted_by, t.submitted_at, t.decided_by, t.decided_at, t.reject_reason";
const REFUND_COLUMNS: &str =
    "id, order_id, gateway, gateway_txn, amount_fen, reason, status, requested_at, completed_at";

fn trade_from_row(row: &AnyRow) -> Result<SandboxTrade, StoreError> {
    Ok(SandboxTrade {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        token: row.try_get("token")?,
        trade_no: row.try_get("trade_no")?,
        amount_fen: row.try_get("amount_fen")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        paid_at: row.try_get("paid_at")?,
    })
}

fn transfer_from_row(row: &AnyRow) -> Result<OfflineTransfer, StoreError> {
    Ok(OfflineTransfer {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        order_no: row.try_get("order_no")?,
        org_id: row.try_get("org_id")?,
        receipt_blob: row.try_get("receipt_blob")?,
        receipt_name: row.try_get("receipt_name")?,
        amount_fen: row.try_get("amount_fen")?,
        status: row.try_get("status")?,
        submitted_by: row.try_get("submitted_by")?,
        submitted_at: row.try_get("submitted_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        reject_reason: row.try_get("reject_reason")?,
    })
}

fn refund_from_row(row: &AnyRow) -> Result<Refund, StoreError> {
    Ok(Refund {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        gateway: row.try_get("gateway")?,
        gateway_txn: row.try_get("gateway_txn")?,
        amount_fen: row.try_get("amount_fen")?,
        reason: row.try_get("reason")?,
        status: row.try_get("status")?,
        requested_at: row.try_get("requested_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

impl Store {
    // --- the sandbox gateway's trades ---------------------------------------------------------

    /// The order's sandbox trade: the one made before, or `new` now. One trade per order, even
    /// when two cashier pages open at once.
    pub async fn sandbox_trade_for_order(
        &self,
        new: &NewSandboxTrade<'_>,
    ) -> Result<SandboxTrade, StoreError> {
        sqlx::query(
            "INSERT INTO sandbox_trades (order_id, token, trade_no, amount_fen, status, created_at) \
             VALUES ($1, $2, $3, $4, 'waiting', $5) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(new.order_id)
        .bind(new.token)
        .bind(new.trade_no)
        .bind(new.amount_fen)
        .bind(new.created_at)
        .execute(self.pool())
        .await?;
        let sql = format!("SELECT {TRADE_COLUMNS} FROM sandbox_trades WHERE order_id = $1");
        let row = sqlx::query(&sql)
            .bind(new.order_id)
            .fetch_one(self.pool())
            .await?;
        trade_from_row(&row)
    }

    pub async fn sandbox_trade_by_token(
        &self,
        token: &str,
    ) -> Result<Option<SandboxTrade>, StoreError> {
        let sql = format!("SELECT {TRADE_COLUMNS} FROM sandbox_trades WHERE token = $1");
        let row = sqlx::query(&sql)
            .bind(token)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(trade_from_row).transpose()
    }

    /// Moves a trade from `from` to `to` (`waiting` → `paid` or `cancelled`); answers whether
    /// it moved, so a double click pays once.
    pub async fn settle_sandbox_trade(
        &self,
        trade_id: i64,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE sandbox_trades SET status = $1, paid_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(to)
        .bind(at)
        .bind(trade_id)
        .bind(from)
        .execute(self.pool())
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    // --- offline bank transfers ---------------------------------------------------------------

    /// Records a receipt for an operator to check, with its audit entry
    /// (`offline_transfer_submitted` on `object`, the detail naming the transfer and its
    /// receipt) in the same transaction. An order with a receipt already waiting is
    /// `Conflict("pending_transfer")`.
    pub async fn submit_offline_transfer(
        &self,
        new: &NewOfflineTransfer<'_>,
        audit: &AuditNote<'_>,
        object: &str,
    ) -> Result<OfflineTransfer, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO offline_transfers (order_id, receipt_blob, receipt_name, amount_fen, status, submitted_by, submitted_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(new.order_id)
        .bind(new.receipt_blob)
        .bind(new.receipt_name)
        .bind(new.amount_fen)
        .bind(new.submitted_by)
        .bind(new.submitted_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "pending_transfer"))?;
        let id: i64 = row.try_get("id")?;
        let detail = format!("上传付款凭证（凭证 {id}，文件 {}）", new.receipt_blob);
        append_audit_with_change(
            &mut tx,
            &AuditNote {
                detail: &detail,
                ..*audit
            }
            .event(AuditAction::OfflineTransferSubmitted, object),
        )
        .await?;
        tx.commit().await?;
        self.offline_transfer(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("offline transfer {id} vanished")))
    }

    pub async fn offline_transfer(&self, id: i64) -> Result<Option<OfflineTransfer>, StoreError> {
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM offline_transfers t JOIN orders o ON o.id = t.order_id WHERE t.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(transfer_from_row).transpose()
    }

    /// Transfers in a status, oldest first (the operator's queue), at most `limit`.
    pub async fn offline_transfers(
        &self,
        status: &str,
        limit: i64,
    ) -> Result<Vec<OfflineTransfer>, StoreError> {
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM offline_transfers t JOIN orders o ON o.id = t.order_id \
             WHERE t.status = $1 ORDER BY t.submitted_at, t.id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(status)
            .bind(limit.clamp(1, 500))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(transfer_from_row).collect()
    }

    /// The order's transfers, newest first.
    pub async fn offline_transfers_of_order(
        &self,
        order_id: i64,
    ) -> Result<Vec<OfflineTransfer>, StoreError> {
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM offline_transfers t JOIN orders o ON o.id = t.order_id \
             WHERE t.order_id = $1 ORDER BY t.submitted_at DESC, t.id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(order_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(transfer_from_row).collect()
    }

    /// Confirms a pending transfer and applies its payment (as [`Store::apply_payment`]) in one
    /// transaction: a second confirmation, or one racing the first, changes nothing.
    pub async fn confirm_offline_transfer(
        &self,
        transfer_id: i64,
        decided_by: i64,
        payment: &Payment,
        record: Option<&StepRecord<'_>>,
    ) -> Result<TransferConfirmation, StoreError> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE offline_transfers SET status = 'confirmed', decided_by = $1, decided_at = $2 \
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(decided_by)
        .bind(payment.paid_at)
        .bind(transfer_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(TransferConfirmation::NotPending);
        }
        let outcome = apply_payment_in(&mut tx, payment, record).await?;
        if matches!(
            outcome,
            PaymentOutcome::AlreadyApplied | PaymentOutcome::PaidTwice
        ) {
            // Dropping the transaction rolls the confirmation back too (and keeps no duplicate:
            // the operator answers a transfer for a paid order by rejecting it).
            return Ok(TransferConfirmation::AlreadyPaid);
        }
        tx.commit().await?;
        Ok(TransferConfirmation::Confirmed(outcome))
    }

    /// Rejects a pending transfer with the reason the supplier sees, and writes `audit` with it;
    /// answers whether it was still pending (when not, nothing is written).
    pub async fn reject_offline_transfer(
        &self,
        transfer_id: i64,
        decided_by: i64,
        at: i64,
        reason: &str,
        audit: &NewAuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE offline_transfers SET status = 'rejected', decided_by = $1, decided_at = $2, reject_reason = $3 \
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(decided_by)
        .bind(at)
        .bind(reason)
        .bind(transfer_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    // --- refunds ------------------------------------------------------------------------------

    /// Moves the order by `step` (into 退款中) and records the refund to make, in one
    /// transaction; answers whether the order moved. Nothing changes when it had moved on, or
    /// when a refund was already requested for it.
    pub async fn start_refund(
        &self,
        record: &StepRecord<'_>,
        refund: &NewRefund<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO refunds (order_id, gateway, gateway_txn, amount_fen, reason, status, requested_at) \
             VALUES ($1, $2, $3, $4, $5, 'requested', $6)",
        )
        .bind(refund.order_id)
        .bind(refund.gateway)
        .bind(refund.gateway_txn)
        .bind(refund.amount_fen)
        .bind(refund.reason)
        .bind(refund.requested_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(false),
            Err(err) => return Err(err.into()),
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn refund_of_order(&self, order_id: i64) -> Result<Option<Refund>, StoreError> {
        let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(refund_from_row).transpose()
    }

    /// Marks the order's requested refund completed and moves the order by `step` (退款中 →
    /// 已退款), in one transaction; answers whether this call did it. Repeated gateway
    /// notifications find it done and change nothing.
    pub async fn complete_refund(
        &self,
        order_id: i64,
        record: &StepRecord<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE refunds SET status = 'completed', completed_at = $1 WHERE order_id = $2 AND status = 'requested'",
        )
        .bind(record.at)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}
