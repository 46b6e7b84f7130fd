//! Orders (业务单), their status history, and payments. Status changes are compare-and-set:
//! a change applies only if the order is still in the status the rule was checked against,
//! so two requests racing on one order cannot both move it.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub order_no: String,
    pub org_id: i64,
    pub kind: String,
    pub status: String,
    pub amount_fen: i64,
    pub created_by: i64,
    pub on_behalf: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub order_no: &'a str,
    pub org_id: i64,
    pub kind: &'a str,
    pub status: &'a str,
    pub amount_fen: i64,
    pub created_by: i64,
    pub on_behalf: bool,
    pub created_at: i64,
}

/// Which orders to list (业务单 filters).
#[derive(Debug, Clone, Default)]
pub struct OrderFilter<'a> {
    pub org_id: Option<i64>,
    /// Orders whose application is with this CA provider.
    pub provider_id: Option<i64>,
    pub order_no: Option<&'a str>,
    pub status: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub created_since: Option<i64>,
    pub created_until: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub at: i64,
    pub actor_account_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub note: String,
}

/// One step of an order, as the caller decided it.
#[derive(Debug, Clone)]
pub struct OrderStep<'a> {
    pub at: i64,
    pub actor_account_id: Option<i64>,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub from_status: &'a str,
    pub to_status: &'a str,
    pub note: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub order_id: i64,
    pub gateway: String,
    pub gateway_txn: String,
    pub amount_fen: i64,
    pub paid_at: i64,
}

/// What applying a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Recorded now, and the order moved by `step`.
    Applied,
    /// This transaction was recorded before: nothing changed.
    AlreadyApplied,
    /// The order was paid before by another transaction: this money is kept apart in
    /// `duplicate_payments` (not the order's payment) and has to be paid back.
    PaidTwice,
    /// The order was no longer waiting for payment (e.g. closed): the money is recorded, the
    /// order is not moved; it has to be refunded.
    RecordedButNotPayable { status: String },
}

pub(crate) const ORDER_COLUMNS: &str =
    "id, order_no, org_id, kind, status, amount_fen, created_by, on_behalf, created_at, updated_at";

pub(crate) fn order_from_row(row: &AnyRow) -> Result<Order, StoreError> {
    Ok(Order {
        id: row.try_get("id")?,
        order_no: row.try_get("order_no")?,
        org_id: row.try_get("org_id")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        amount_fen: row.try_get("amount_fen")?,
        created_by: row.try_get("created_by")?,
        on_behalf: row.try_get::<i64, _>("on_behalf")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Compare-and-set of an order's status with its history entry, inside a transaction:
/// answers whether the order was still in `step.from_status` and moved.
pub(crate) async fn move_order(
    conn: &mut sqlx::AnyConnection,
    order_id: i64,
    step: &OrderStep<'_>,
) -> Result<bool, StoreError> {
    let moved =
        sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(step.to_status)
            .bind(step.at)
            .bind(order_id)
            .bind(step.from_status)
            .execute(&mut *conn)
            .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    insert_event(conn, order_id, step).await?;
    Ok(true)
}

async fn insert_event(
    conn: &mut sqlx::AnyConnection,
    order_id: i64,
    step: &OrderStep<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, at, actor_account_id, actor_label, action, from_status, to_status, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(order_id)
    .bind(step.at)
    .bind(step.actor_account_id)
    .bind(step.actor_label)
    .bind(step.action)
    .bind(step.from_status)
    .bind(step.to_status)
    .bind(step.note)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`Store::apply_payment`] inside the caller's transaction (an operator's confirmation of an
/// offline transfer records its decision in the same one).
pub(crate) async fn apply_payment_in(
    conn: &mut sqlx::AnyConnection,
    payment: &Payment,
    step: &OrderStep<'_>,
) -> Result<PaymentOutcome, StoreError> {
    // The insert comes first: it takes the write lock (SQLite) or the unique-index lock
    // (PostgreSQL) before anything is read, so concurrent notifications queue here. A
    // conflict does nothing (rather than fail, which would spoil a PostgreSQL transaction), and
    // the payment that holds the order says whether this is a repeat or a second payment.
    if !insert_payment_into(conn, "payments", payment).await? {
        return not_inserted(conn, payment).await;
    }
    if move_order(conn, payment.order_id, step).await? {
        Ok(PaymentOutcome::Applied)
    } else {
        let row = sqlx::query("SELECT status FROM orders WHERE id = $1")
            .bind(payment.order_id)
            .fetch_one(&mut *conn)
            .await?;
        Ok(PaymentOutcome::RecordedButNotPayable {
            status: row.try_get("status")?,
        })
    }
}

/// A payment the `payments` table refused: a repeat of the transaction it holds (or that holds
/// the transaction), or a second transaction for an order already paid, kept apart.
async fn not_inserted(
    conn: &mut sqlx::AnyConnection,
    payment: &Payment,
) -> Result<PaymentOutcome, StoreError> {
    let holder = sqlx::query("SELECT gateway, gateway_txn FROM payments WHERE order_id = $1")
        .bind(payment.order_id)
        .fetch_optional(&mut *conn)
        .await?;
    let repeat = match holder {
        Some(row) => {
            row.try_get::<String, _>("gateway")? == payment.gateway
                && row.try_get::<String, _>("gateway_txn")? == payment.gateway_txn
        }
        // The transaction is another order's: nothing of it belongs here.
        None => true,
    };
    if repeat {
        return Ok(PaymentOutcome::AlreadyApplied);
    }
    Ok(
        if insert_payment_into(conn, "duplicate_payments", payment).await? {
            PaymentOutcome::PaidTwice
        } else {
            PaymentOutcome::AlreadyApplied
        },
    )
}

/// Inserts `payment` into `table` (`payments` or `duplicate_payments`, which share these
/// columns); a unique conflict inserts nothing. Answers whether the row went in.
async fn insert_payment_into(
    conn: &mut sqlx::AnyConnection,
    table: &'static str,
    payment: &Payment,
) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO {table} (order_id, gateway, gateway_txn, amount_fen, paid_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
    );
    let inserted = sqlx::query(&sql)
        .bind(payment.order_id)
        .bind(&payment.gateway)
        .bind(&payment.gateway_txn)
        .bind(payment.amount_fen)
        .bind(payment.paid_at)
        .execute(&mut *conn)
        .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Money kept apart because its order was paid before (`PaymentOutcome::PaidTwice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePayment {
    pub id: i64,
    pub order_id: i64,
    pub gateway: String,
    pub gateway_txn: String,
    pub amount_fen: i64,
    pub paid_at: i64,
    pub refund_requested_at: Option<i64>,
    pub refunded_at: Option<i64>,
}

fn duplicate_from_row(row: &AnyRow) -> Result<DuplicatePayment, StoreError> {
    Ok(DuplicatePayment {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        gateway: row.try_get("gateway")?,
        gateway_txn: row.try_get("gateway_txn")?,
        amount_fen: row.try_get("amount_fen")?,
        paid_at: row.try_get("paid_at")?,
        refund_requested_at: row.try_get("refund_requested_at")?,
        refunded_at: row.try_get("refunded_at")?,
    })
}

const DUPLICATE_COLUMNS: &str =
    "id, order_id, gateway, gateway_txn, amount_fen, paid_at, refund_requested_at, refunded_at";

impl Store {
    /// Money an order received after it was paid, oldest first.
    pub async fn duplicate_payments_of_order(
        &self,
        order_id: i64,
    ) -> Result<Vec<DuplicatePayment>, StoreError> {
        let sql = format!(
            "SELECT {DUPLICATE_COLUMNS} FROM duplicate_payments WHERE order_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(order_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(duplicate_from_row).collect()
    }

    /// The duplicate payment of a gateway transaction, if that is what it was.
    pub async fn duplicate_payment(
        &self,
        gateway: &str,
        gateway_txn: &str,
    ) -> Result<Option<DuplicatePayment>, StoreError> {
        let sql = format!(
            "SELECT {DUPLICATE_COLUMNS} FROM duplicate_payments WHERE gateway = $1 AND gateway_txn = $2"
        );
        let row = sqlx::query(&sql)
            .bind(gateway)
            .bind(gateway_txn)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(duplicate_from_row).transpose()
    }

    /// Notes that the refund of a duplicate payment was asked of its gateway.
    pub async fn duplicate_refund_requested(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE duplicate_payments SET refund_requested_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The gateway paid a duplicate payment back; answers whether this call recorded it.
    pub async fn duplicate_refunded(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE duplicate_payments SET refunded_at = $1 WHERE id = $2 AND refunded_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// Creates an order; a number already used is `Conflict("order_no")`.
    pub async fn create_order(&self, new: &NewOrder<'_>) -> Result<Order, StoreError> {
        let sql = format!(
            "INSERT INTO orders (order_no, org_id, kind, status, amount_fen, created_by, on_behalf, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {ORDER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(new.order_no)
            .bind(new.org_id)
            .bind(new.kind)
            .bind(new.status)
            .bind(new.amount_fen)
            .bind(new.created_by)
            .bind(i64::from(new.on_behalf))
            .bind(new.created_at)
            .fetch_one(self.pool())
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "order_no"))?;
        order_from_row(&row)
    }

    pub async fn order_by_no(&self, order_no: &str) -> Result<Option<Order>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_no = $1");
        let row = sqlx::query(&sql)
            .bind(order_no)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    pub async fn order_by_id(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// Orders matching a filter, newest first, one page.
    pub async fn orders(&self, filter: &OrderFilter<'_>) -> Result<Vec<Order>, StoreError> {
        let mut sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.org_id.is_some() {
            sql.push_str(&format!(" AND org_id = ${}", next()));
        }
        if filter.provider_id.is_some() {
            sql.push_str(&format!(
                " AND id IN (SELECT order_id FROM applications WHERE provider_id = ${})",
                next()
            ));
        }
        if filter.order_no.is_some() {
            sql.push_str(&format!(" AND order_no = ${}", next()));
        }
        if filter.status.is_some() {
            sql.push_str(&format!(" AND status = ${}", next()));
        }
        if filter.kind.is_some() {
            sql.push_str(&format!(" AND kind = ${}", next()));
        }
        if filter.created_since.is_some() {
            sql.push_str(&format!(" AND created_at >= ${}", next()));
        }
        if filter.created_until.is_some() {
            sql.push_str(&format!(" AND created_at < ${}", next()));
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            next(),
            next()
        ));
        let mut query = sqlx::query(&sql);
        for value in [filter.org_id, filter.provider_id].into_iter().flatten() {
            query = query.bind(value);
        }
        for value in [filter.order_no, filter.status, filter.kind]
            .into_iter()
            .flatten()
        {
            query = query.bind(value);
        }
        for value in [filter.created_since, filter.created_until]
            .into_iter()
            .flatten()
        {
            query = query.bind(value);
        }
        let rows = query
            .bind(filter.limit.clamp(1, 200))
            .bind(filter.offset.max(0))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Orders in `status` whose last change was at or before `changed_at_or_before`, oldest
    /// first (e.g. unpaid orders whose payment window has passed).
    pub async fn orders_in_status_since(
        &self,
        status: &str,
        changed_at_or_before: i64,
    ) -> Result<Vec<Order>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1 AND updated_at <= $2 ORDER BY updated_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(status)
            .bind(changed_at_or_before)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Moves an order from `step.from_status` to `step.to_status` and records the step, only
    /// if it is still in `from_status`; answers whether it moved.
    pub async fn advance_order(
        &self,
        order_id: i64,
        step: &OrderStep<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !move_order(&mut tx, order_id, step).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records a payment and applies `step` to its order, in one transaction: exactly once
    /// per gateway transaction, whatever order and however often notifications arrive.
    pub async fn apply_payment(
        &self,
        payment: &Payment,
        step: &OrderStep<'_>,
    ) -> Result<PaymentOutcome, StoreError> {
        let mut tx = self.pool().begin().await?;
        let outcome = apply_payment_in(&mut tx, payment, step).await?;
        if outcome != PaymentOutcome::AlreadyApplied {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    pub async fn payments_of_order(&self, order_id: i64) -> Result<Vec<Payment>, StoreError> {
        let rows = sqlx::query("SELECT order_id, gateway, gateway_txn, amount_fen, paid_at FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Payment {
                    order_id: row.try_get("order_id")?,
                    gateway: row.try_get("gateway")?,
                    gateway_txn: row.try_get("gateway_txn")?,
                    amount_fen: row.try_get("amount_fen")?,
                    paid_at: row.try_get("paid_at")?,
                })
            })
            .collect()
    }

    /// The status history of an order, oldest first.
    pub async fn order_events(&self, order_id: i64) -> Result<Vec<OrderEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor_account_id, actor_label, action, from_status, to_status, note \
             FROM order_events WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OrderEvent {
                    at: row.try_get("at")?,
                    actor_account_id: row.try_get("actor_account_id")?,
                    actor_label: row.try_get("actor_label")?,
                    action: row.try_get("action")?,
                    from_status: row.try_get("from_status")?,
                    to_status: row.try_get("to_status")?,
                    note: row.try_get("note")?,
                })
            })
            .collect()
    }
}
