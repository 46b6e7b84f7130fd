//! Orders (业务单), their status history, and payments.
//!
//! An order's status changes only by a [`StepRecord`]: the domain's [`Step`] (which only a
//! workflow table makes) with who took it. [`apply_step_in`] applies it compare-and-set — only
//! if the order is still in the status the rule was checked against, so two requests racing on
//! one order cannot both move it — with its history entry, the side writes the store makes
//! itself, and its audit entry, inside the caller's transaction. Every store call that moves
//! an order (here, in `applications.rs` and `trades.rs`) goes through it, together with the
//! data its step writes.

use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::{Store, StoreError};
use certdesk_domain::{AuditAction, BusinessType, OrderAction, OrderStatus, SideEffect, Step};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub order_no: String,
    pub org_id: i64,
    pub kind: BusinessType,
    pub status: OrderStatus,
    pub amount_fen: i64,
    pub created_by: i64,
    pub on_behalf: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Order {
    /// The order as it stands after `step` (without reading it again).
    pub fn after(&self, step: &Step) -> Order {
        Order {
            status: step.to(),
            ..self.clone()
        }
    }
}

/// A new order starts as a draft (草稿) of its business type.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub order_no: &'a str,
    pub org_id: i64,
    pub kind: BusinessType,
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
    pub status: Option<OrderStatus>,
    pub kind: Option<BusinessType>,
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
    pub action: OrderAction,
    pub from_status: OrderStatus,
    pub to_status: OrderStatus,
    pub note: String,
}

/// A step of an order, ready to apply: the [`Step`] a workflow table allowed, and who took it,
/// when, with what note.
#[derive(Debug, Clone)]
pub struct StepRecord<'a> {
    pub order: &'a Order,
    pub step: Step,
    pub at: i64,
    pub actor_account_id: Option<i64>,
    /// Who acted, as the history shows it (e.g. `name（操作员代办）`, 系统, 支付网关).
    pub actor_label: &'a str,
    /// The account name the audit entry keeps; `-` for the system.
    pub audit_actor: &'a str,
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
    RecordedButNotPayable { status: OrderStatus },
}

pub(crate) const ORDER_COLUMNS: &str =
    "id, order_no, org_id, kind, status, amount_fen, created_by, on_behalf, created_at, updated_at";

pub(crate) fn order_from_row(row: &AnyRow) -> Result<Order, StoreError> {
    Ok(Order {
        id: row.try_get("id")?,
        order_no: row.try_get("order_no")?,
        org_id: row.try_get("org_id")?,
        kind: parse_stored(row.try_get::<String, _>("kind")?)?,
        status: parse_stored(row.try_get::<String, _>("status")?)?,
        amount_fen: row.try_get("amount_fen")?,
        created_by: row.try_get("created_by")?,
        on_behalf: row.try_get::<i64, _>("on_behalf")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A stored name read back as its type; anything else is a corrupt row, named.
pub(crate) fn parse_stored<T: std::str::FromStr>(text: String) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown stored name {text:?}")))
}

/// Applies a step inside the caller's transaction: compare-and-set of the order's status, its
/// history entry, the side writes the store makes itself ([`SideEffect::ReleaseVoucher`]) and
/// the audit entry, all or nothing. Answers whether the order was still in the step's `from`
/// status and moved; when it was not, nothing was written.
/// Inserts a new order in 草稿 inside the caller's transaction (with the row of its kind that
/// the caller adds); a number already used is `Conflict("order_no")`.
pub(crate) async fn insert_draft_order_in(
    conn: &mut sqlx::AnyConnection,
    order: &NewOrder<'_>,
) -> Result<Order, StoreError> {
    insert_order_in(conn, order, OrderStatus::Draft).await
}

/// Inserts the record of something done outside certdesk's flow as a completed order (a key
/// pair the CA issued at the counter, adopted by an operator): no step leads there, so none
/// is recorded; the caller writes the audit entry saying what it was.
pub(crate) async fn insert_completed_record_in(
    conn: &mut sqlx::AnyConnection,
    order: &NewOrder<'_>,
) -> Result<Order, StoreError> {
    insert_order_in(conn, order, OrderStatus::Completed).await
}

async fn insert_order_in(
    conn: &mut sqlx::AnyConnection,
    order: &NewOrder<'_>,
    status: OrderStatus,
) -> Result<Order, StoreError> {
    let sql = format!(
        "INSERT INTO orders (order_no, org_id, kind, status, amount_fen, created_by, on_behalf, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {ORDER_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(order.order_no)
        .bind(order.org_id)
        .bind(order.kind.as_str())
        .bind(status.as_str())
        .bind(order.amount_fen)
        .bind(order.created_by)
        .bind(i64::from(order.on_behalf))
        .bind(order.created_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "order_no"))?;
    order_from_row(&row)
}

/// The audit entry of an order just created (`order_transition` on `order:<number>`, filed on
/// its organisation), inside the caller's transaction.
pub(crate) async fn audit_created_in(
    conn: &mut sqlx::AnyConnection,
    created: &Order,
    audit: &crate::AuditNote<'_>,
) -> Result<(), StoreError> {
    let object = format!("order:{}", created.order_no);
    crate::audit::append_audit_with_change(
        conn,
        &crate::AuditNote {
            org_id: Some(created.org_id),
            ..*audit
        }
        .event(AuditAction::OrderTransition, &object),
    )
    .await?;
    Ok(())
}

pub(crate) async fn apply_step_in(
    conn: &mut sqlx::AnyConnection,
    record: &StepRecord<'_>,
) -> Result<bool, StoreError> {
    if !move_by_step(conn, record).await? {
        return Ok(false);
    }
    audit_step_in(conn, record).await?;
    Ok(true)
}

/// The step's own writes, without its audit entry: for a caller that writes more under the
/// order's lock and appends the entry last ([`audit_step_in`]), since the audit lock is taken
/// last everywhere.
pub(crate) async fn move_by_step(
    conn: &mut sqlx::AnyConnection,
    record: &StepRecord<'_>,
) -> Result<bool, StoreError> {
    let step = &record.step;
    if step.business_type() != record.order.kind {
        return Err(StoreError::Corrupt(format!(
            "a {} step for order {} of type {}",
            step.business_type(),
            record.order.order_no,
            record.order.kind
        )));
    }
    let moved =
        sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(step.to().as_str())
            .bind(record.at)
            .bind(record.order.id)
            .bind(step.from().as_str())
            .execute(&mut *conn)
            .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO order_events (order_id, at, actor_account_id, actor_label, action, from_status, to_status, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(record.order.id)
    .bind(record.at)
    .bind(record.actor_account_id)
    .bind(record.actor_label)
    .bind(step.action().as_str())
    .bind(step.from().as_str())
    .bind(step.to().as_str())
    .bind(record.note)
    .execute(&mut *conn)
    .await?;
    if step.has(SideEffect::ReleaseVoucher) {
        sqlx::query(
            "UPDATE vouchers SET redeemed_order_id = NULL, redeemed_at = NULL WHERE redeemed_order_id = $1",
        )
        .bind(record.order.id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// The audit entry of a step, appended in the caller's transaction.
pub(crate) async fn audit_step_in(
    conn: &mut sqlx::AnyConnection,
    record: &StepRecord<'_>,
) -> Result<(), StoreError> {
    let step = &record.step;
    append_audit_with_change(
        conn,
        &NewAuditEvent {
            at: record.at,
            actor_account_id: record.actor_account_id,
            actor_label: record.audit_actor,
            org_id: Some(record.order.org_id),
            action: AuditAction::OrderTransition,
            object: &format!("order:{}", record.order.order_no),
            // Read by staff on the audit page: in Chinese, e.g. 确认收货：待领取 → 已完成.
            detail: &format!(
                "{}：{} → {}",
                step.action().label_zh(),
                step.from().label_zh(),
                step.to().label_zh()
            ),
        },
    )
    .await?;
    Ok(())
}

/// [`Store::apply_payment`] inside the caller's transaction (an operator's confirmation of an
/// offline transfer records its decision in the same one).
pub(crate) async fn apply_payment_in(
    conn: &mut sqlx::AnyConnection,
    payment: &Payment,
    record: Option<&StepRecord<'_>>,
) -> Result<PaymentOutcome, StoreError> {
    // The insert comes first: it takes the write lock (SQLite) or the unique-index lock
    // (PostgreSQL) before anything is read, so concurrent notifications queue here. A
    // conflict does nothing (rather than fail, which would spoil a PostgreSQL transaction), and
    // the payment that holds the order says whether this is a repeat or a second payment.
    if !insert_payment_into(conn, "payments", payment).await? {
        return not_inserted(conn, payment).await;
    }
    let moved = match record {
        Some(record) => apply_step_in(conn, record).await?,
        None => false,
    };
    if moved {
        Ok(PaymentOutcome::Applied)
    } else {
        let row = sqlx::query("SELECT status FROM orders WHERE id = $1")
            .bind(payment.order_id)
            .fetch_one(&mut *conn)
            .await?;
        Ok(PaymentOutcome::RecordedButNotPayable {
            status: parse_stored(row.try_get::<String, _>("status")?)?,
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
    if !insert_payment_into(conn, "duplicate_payments", payment).await? {
        return Ok(PaymentOutcome::AlreadyApplied);
    }
    // Kept apart and to be paid back: audited with the row that says so.
    let order = sqlx::query("SELECT order_no, org_id FROM orders WHERE id = $1")
        .bind(payment.order_id)
        .fetch_one(&mut *conn)
        .await?;
    let object = format!("order:{}", order.try_get::<String, _>("order_no")?);
    let detail = duplicate_payment_detail(payment, "另行记录，将原路退回");
    crate::audit::append_audit_with_change(
        conn,
        &crate::NewAuditEvent {
            at: payment.paid_at,
            actor_account_id: None,
            actor_label: "-",
            org_id: Some(order.try_get("org_id")?),
            action: certdesk_domain::AuditAction::DuplicatePayment,
            object: &object,
            detail: &detail,
        },
    )
    .await?;
    Ok(PaymentOutcome::PaidTwice)
}

/// The audit detail of a duplicate payment's step (将原路退回, 退款已到账).
pub fn duplicate_payment_detail(payment: &Payment, step: &str) -> String {
    format!(
        "重复支付（{} 交易号 {}，¥{}）：{step}",
        payment.gateway,
        payment.gateway_txn,
        certdesk_domain::product::yuan(payment.amount_fen)
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

    /// The gateway paid a duplicate payment back; answers whether this call recorded it (then
    /// with `audit`, in the same transaction).
    pub async fn duplicate_refunded(
        &self,
        id: i64,
        now: i64,
        audit: &crate::NewAuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE duplicate_payments SET refunded_at = $1 WHERE id = $2 AND refunded_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        crate::audit::append_audit_with_change(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
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
            .bind(new.kind.as_str())
            .bind(OrderStatus::Draft.as_str())
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
        for value in [
            filter.order_no,
            filter.status.map(OrderStatus::as_str),
            filter.kind.map(BusinessType::as_str),
        ]
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
        status: OrderStatus,
        changed_at_or_before: i64,
    ) -> Result<Vec<Order>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1 AND updated_at <= $2 ORDER BY updated_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(changed_at_or_before)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Applies a step that writes nothing else (see [`apply_step_in`]): answers whether the
    /// order was still where the step starts and moved.
    pub async fn apply_step(&self, record: &StepRecord<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records a payment and applies its step (when the rules let the order be paid now; none
    /// for an order that no longer waits for payment) in one transaction: exactly once per
    /// gateway transaction, whatever order and however often notifications arrive.
    pub async fn apply_payment(
        &self,
        payment: &Payment,
        record: Option<&StepRecord<'_>>,
    ) -> Result<PaymentOutcome, StoreError> {
        let mut tx = self.pool().begin().await?;
        let outcome = apply_payment_in(&mut tx, payment, record).await?;
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
                    action: parse_stored(row.try_get::<String, _>("action")?)?,
                    from_status: parse_stored(row.try_get::<String, _>("from_status")?)?,
                    to_status: parse_stored(row.try_get::<String, _>("to_status")?)?,
                    note: row.try_get("note")?,
                })
            })
            .collect()
    }
}
