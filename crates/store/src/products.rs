//! Products (a CA provider's offers and prices) and vouchers (抵扣券). A voucher is redeemed
//! with a compare-and-set on `redeemed_order_id IS NULL`, so two orders racing for one voucher
//! cannot both have it.

use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::orders::{audit_step_in, move_by_step};
use crate::{AuditNote, StepRecord, Store, StoreError};
use certdesk_domain::product::{KeyAlgorithm, Medium, ProductSpec, VoucherFacts};
use certdesk_domain::{AuditAction, OrderStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub provider_id: i64,
    pub provider_name: String,
    pub spec: ProductSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    pub id: i64,
    pub code: String,
    pub amount_fen: i64,
    pub valid_until: i64,
    pub org_id: Option<i64>,
    pub redeemed_order_id: Option<i64>,
    pub redeemed_at: Option<i64>,
    pub created_at: i64,
}

impl Voucher {
    /// The facts the pricing rules need.
    pub fn facts(&self) -> VoucherFacts {
        VoucherFacts {
            code: self.code.clone(),
            amount_fen: self.amount_fen,
            valid_until: self.valid_until,
            org_id: self.org_id,
            redeemed_order_id: self.redeemed_order_id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewVoucher<'a> {
    pub code: &'a str,
    pub amount_fen: i64,
    pub valid_until: i64,
    pub org_id: Option<i64>,
    pub created_at: i64,
}

/// What redeeming a voucher did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Redeemed for the order now (or it already was, for this same order).
    Redeemed(Voucher),
    UnknownCode,
    /// Redeemed for another order before.
    AlreadyUsed,
    Expired,
    /// Meant for another organisation.
    OtherOrganisation,
}

/// What submitting an application fixes with its step.
#[derive(Debug, Clone)]
pub struct FixedPrice<'a> {
    /// What the order costs from now on, in fen.
    pub amount_fen: i64,
    /// Whether the price counts on 首张免费.
    pub first_free: bool,
    /// The voucher to redeem (normalised), if any.
    pub voucher_code: Option<&'a str>,
}

/// What submitting did.
#[derive(Debug, Clone)]
pub enum Submission {
    /// Submitted, with the voucher redeemed for it, if any.
    Submitted { voucher: Option<Voucher> },
    /// The order was no longer where the step starts (submitted meanwhile): nothing written.
    OrderChanged,
    /// 首张免费 was spent meanwhile: nothing written; submit again at the standard price.
    FirstFreeTaken,
    /// The voucher cannot be used: nothing written.
    VoucherRefused(Redemption),
}

const PRODUCT_COLUMNS: &str = "p.id, p.provider_id, c.name AS provider_name, p.name, p.medium, \
     p.algorithm, p.dual, p.min_years, p.max_years, p.price_per_year_fen, \
     p.sub_price_per_year_fen, p.first_free, p.active, p.created_at, p.updated_at";
const PRODUCT_FROM: &str = "products p JOIN ca_providers c ON c.id = p.provider_id";
const VOUCHER_COLUMNS: &str =
    "id, code, amount_fen, valid_until, org_id, redeemed_order_id, redeemed_at, created_at";

/// Statuses an order has reached once its certificate was issued.
const ISSUED_STATUSES: [OrderStatus; 4] = [
    OrderStatus::Issued,
    OrderStatus::Shipping,
    OrderStatus::AwaitingPickup,
    OrderStatus::Completed,
];

fn years(row: &AnyRow, column: &str) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("products.{column} = {value}")))
}

fn product_from_row(row: &AnyRow) -> Result<Product, StoreError> {
    let medium: String = row.try_get("medium")?;
    let algorithm: String = row.try_get("algorithm")?;
    Ok(Product {
        id: row.try_get("id")?,
        provider_id: row.try_get("provider_id")?,
        provider_name: row.try_get("provider_name")?,
        spec: ProductSpec {
            name: row.try_get("name")?,
            medium: medium
                .parse::<Medium>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            algorithm: algorithm
                .parse::<KeyAlgorithm>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            dual: row.try_get::<i64, _>("dual")? != 0,
            min_years: years(row, "min_years")?,
            max_years: years(row, "max_years")?,
            price_per_year_fen: row.try_get("price_per_year_fen")?,
            sub_price_per_year_fen: row.try_get("sub_price_per_year_fen")?,
            first_free: row.try_get::<i64, _>("first_free")? != 0,
            active: row.try_get::<i64, _>("active")? != 0,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn voucher_from_row(row: &AnyRow) -> Result<Voucher, StoreError> {
    Ok(Voucher {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        amount_fen: row.try_get("amount_fen")?,
        valid_until: row.try_get("valid_until")?,
        org_id: row.try_get("org_id")?,
        redeemed_order_id: row.try_get("redeemed_order_id")?,
        redeemed_at: row.try_get("redeemed_at")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Creates a product of `provider_id`, with its audit entry (`configuration_changed` on
    /// `product:<id>`) in the same transaction. The caller has validated the spec
    /// (`certdesk_domain::validate_product`).
    pub async fn create_product(
        &self,
        provider_id: i64,
        spec: &ProductSpec,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<Product, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO products (provider_id, name, medium, algorithm, dual, min_years, max_years, \
             price_per_year_fen, sub_price_per_year_fen, first_free, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(provider_id)
        .bind(spec.name.trim())
        .bind(spec.medium.as_str())
        .bind(spec.algorithm.as_str())
        .bind(i64::from(spec.dual))
        .bind(i64::from(spec.min_years))
        .bind(i64::from(spec.max_years))
        .bind(spec.price_per_year_fen)
        .bind(spec.sub_price_per_year_fen)
        .bind(i64::from(spec.first_free))
        .bind(i64::from(spec.active))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let object = format!("product:{id}");
        append_audit_with_change(
            &mut tx,
            &audit.event(AuditAction::ConfigurationChanged, &object),
        )
        .await?;
        tx.commit().await?;
        self.product_by_id(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("product {id} vanished")))
    }

    /// Replaces a product's spec (its provider stays), with its audit entry
    /// (`configuration_changed` on `product:<id>`) in the same transaction; `None` when there is
    /// no such product, and nothing is written.
    pub async fn update_product(
        &self,
        id: i64,
        spec: &ProductSpec,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<Option<Product>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE products SET name = $1, medium = $2, algorithm = $3, dual = $4, min_years = $5, \
             max_years = $6, price_per_year_fen = $7, sub_price_per_year_fen = $8, first_free = $9, \
             active = $10, updated_at = $11 WHERE id = $12",
        )
        .bind(spec.name.trim())
        .bind(spec.medium.as_str())
        .bind(spec.algorithm.as_str())
        .bind(i64::from(spec.dual))
        .bind(i64::from(spec.min_years))
        .bind(i64::from(spec.max_years))
        .bind(spec.price_per_year_fen)
        .bind(spec.sub_price_per_year_fen)
        .bind(i64::from(spec.first_free))
        .bind(i64::from(spec.active))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let object = format!("product:{id}");
        append_audit_with_change(
            &mut tx,
            &audit.event(AuditAction::ConfigurationChanged, &object),
        )
        .await?;
        tx.commit().await?;
        self.product_by_id(id).await
    }

    pub async fn product_by_id(&self, id: i64) -> Result<Option<Product>, StoreError> {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} WHERE p.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(product_from_row).transpose()
    }

    /// Products in the providers' order, then by id; only active ones when `active_only`.
    pub async fn products(&self, active_only: bool) -> Result<Vec<Product>, StoreError> {
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM {PRODUCT_FROM} WHERE p.active = 1 OR $1 = 0 \
             ORDER BY c.sort_order, p.id"
        );
        let rows = sqlx::query(&sql)
            .bind(i64::from(active_only))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(product_from_row).collect()
    }

    /// Creates a voucher, with its audit entry (`configuration_changed` on `voucher:<id>`: by
    /// id, the code is a bearer secret until redeemed) in the same transaction; a code already
    /// used is `Conflict("code")`.
    pub async fn create_voucher(
        &self,
        new: &NewVoucher<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Voucher, StoreError> {
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "INSERT INTO vouchers (code, amount_fen, valid_until, org_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {VOUCHER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(new.code)
            .bind(new.amount_fen)
            .bind(new.valid_until)
            .bind(new.org_id)
            .bind(new.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "code"))?;
        let voucher = voucher_from_row(&row)?;
        let object = format!("voucher:{}", voucher.id);
        append_audit_with_change(
            &mut tx,
            &audit.event(AuditAction::ConfigurationChanged, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(voucher)
    }

    /// Every voucher, newest first.
    pub async fn vouchers(&self) -> Result<Vec<Voucher>, StoreError> {
        let sql = format!("SELECT {VOUCHER_COLUMNS} FROM vouchers ORDER BY id DESC");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(voucher_from_row).collect()
    }

    pub async fn voucher_by_code(&self, code: &str) -> Result<Option<Voucher>, StoreError> {
        let sql = format!("SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE code = $1");
        let row = sqlx::query(&sql)
            .bind(code)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(voucher_from_row).transpose()
    }

    /// The voucher redeemed for an order, if any.
    pub async fn voucher_of_order(&self, order_id: i64) -> Result<Option<Voucher>, StoreError> {
        let sql = format!("SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE redeemed_order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(voucher_from_row).transpose()
    }

    /// Redeems voucher `code` for order `order_id` of organisation `org_id` at `now`: only if
    /// no order has it yet, it is still valid and it is meant for the organisation (or for
    /// anyone). Redeeming again for the same order answers `Redeemed` and changes nothing.
    pub async fn redeem_voucher(
        &self,
        code: &str,
        org_id: i64,
        order_id: i64,
        now: i64,
    ) -> Result<Redemption, StoreError> {
        let mut tx = self.pool().begin().await?;
        let redemption = redeem_voucher_in(&mut tx, code, org_id, order_id, now).await?;
        tx.commit().await?;
        Ok(redemption)
    }

    /// Whether 首张免费 is spent for the organisation, as seen from order `except_order` (the one
    /// being priced): a certificate was issued, or another application of it was submitted
    /// with 首张免费 and is still on its way (not withdrawn, closed or refunded).
    pub async fn first_free_taken(
        &self,
        org_id: i64,
        except_order: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        first_free_taken_on(&mut conn, org_id, except_order).await
    }

    /// Submits an application (提交 or 修改后重新提交) in one transaction: the step, the price it
    /// is given now, 首张免费 (taken only if, checked again under the organisation's lock, no
    /// certificate was issued meanwhile and no other application of the organisation was
    /// submitted free in the same instant) and the voucher (redeemed once). Any refusal writes
    /// nothing, so nothing has to be given back.
    pub async fn submit_order(
        &self,
        record: &StepRecord<'_>,
        price: &FixedPrice<'_>,
    ) -> Result<Submission, StoreError> {
        let order = record.order;
        let mut tx = self.pool().begin().await?;
        // The step first: it takes the order's row (PostgreSQL) or the write lock (SQLite).
        if !move_by_step(&mut tx, record).await? {
            return Ok(Submission::OrderChanged);
        }
        sqlx::query("UPDATE orders SET amount_fen = $1 WHERE id = $2")
            .bind(price.amount_fen)
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        if price.first_free {
            // Serialises the organisation's claims: a row lock (PostgreSQL), the write lock
            // (SQLite).
            sqlx::query("UPDATE organisations SET name = name WHERE id = $1")
                .bind(order.org_id)
                .execute(&mut *tx)
                .await?;
            if first_free_taken_on(&mut tx, order.org_id, Some(order.id)).await? {
                return Ok(Submission::FirstFreeTaken);
            }
        }
        sqlx::query("UPDATE applications SET first_free = $1 WHERE order_id = $2")
            .bind(i64::from(price.first_free))
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        let mut voucher = None;
        if let Some(code) = price.voucher_code {
            match redeem_voucher_in(&mut tx, code, order.org_id, order.id, record.at).await? {
                Redemption::Redeemed(redeemed) => voucher = Some(redeemed),
                refused => return Ok(Submission::VoucherRefused(refused)),
            }
        }
        if let Some(voucher) = &voucher {
            append_audit_with_change(
                &mut tx,
                &NewAuditEvent {
                    at: record.at,
                    actor_account_id: record.actor_account_id,
                    actor_label: record.audit_actor,
                    org_id: Some(order.org_id),
                    action: AuditAction::ConfigurationChanged,
                    object: &format!("voucher:{}", voucher.id),
                    detail: &format!("用于订单 {}", order.order_no),
                },
            )
            .await?;
        }
        audit_step_in(&mut tx, record).await?;
        tx.commit().await?;
        Ok(Submission::Submitted { voucher })
    }

    /// Whether any order of the organisation has had its certificate issued (已发证, 配送中,
    /// 待领取 or 已完成): then 首张免费 is spent.
    pub async fn org_has_issued_certificate(&self, org_id: i64) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        org_has_issued_certificate_on(&mut conn, org_id).await
    }
}

async fn first_free_taken_on(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    except_order: Option<i64>,
) -> Result<bool, StoreError> {
    if org_has_issued_certificate_on(conn, org_id).await? {
        return Ok(true);
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM orders o JOIN applications a ON a.order_id = o.id \
         WHERE o.org_id = $1 AND a.first_free = 1 AND o.id <> $2 \
         AND o.status IN ($3, $4, $5, $6, $7, $8)",
    )
    .bind(org_id)
    .bind(except_order.unwrap_or(0))
    // A draft holds it only in the instant of its submission (a failed one gives it back).
    .bind(OrderStatus::Draft.as_str())
    .bind(OrderStatus::AwaitingInitialReview.as_str())
    .bind(OrderStatus::Rejected.as_str())
    .bind(OrderStatus::AwaitingPayment.as_str())
    .bind(OrderStatus::AwaitingSecondReview.as_str())
    .bind(OrderStatus::Issuing.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

async fn org_has_issued_certificate_on(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM orders WHERE org_id = $1 AND status IN ($2, $3, $4, $5)",
    )
    .bind(org_id)
    .bind(ISSUED_STATUSES[0].as_str())
    .bind(ISSUED_STATUSES[1].as_str())
    .bind(ISSUED_STATUSES[2].as_str())
    .bind(ISSUED_STATUSES[3].as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Redeems a voucher inside the caller's transaction (see [`Store::redeem_voucher`]).
async fn redeem_voucher_in(
    conn: &mut sqlx::AnyConnection,
    code: &str,
    org_id: i64,
    order_id: i64,
    now: i64,
) -> Result<Redemption, StoreError> {
    let updated = sqlx::query(
        "UPDATE vouchers SET redeemed_order_id = $1, redeemed_at = $2 \
         WHERE code = $3 AND redeemed_order_id IS NULL AND valid_until > $2 \
         AND (org_id IS NULL OR org_id = $4)",
    )
    .bind(order_id)
    .bind(now)
    .bind(code)
    .bind(org_id)
    .execute(&mut *conn)
    .await?;
    let sql = format!("SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE code = $1");
    let row = sqlx::query(&sql)
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(voucher) = row.as_ref().map(voucher_from_row).transpose()? else {
        return Ok(Redemption::UnknownCode);
    };
    if updated.rows_affected() == 1 || voucher.redeemed_order_id == Some(order_id) {
        return Ok(Redemption::Redeemed(voucher));
    }
    Ok(if voucher.org_id.is_some_and(|o| o != org_id) {
        Redemption::OtherOrganisation
    } else if voucher.redeemed_order_id.is_some() {
        Redemption::AlreadyUsed
    } else {
        Redemption::Expired
    })
}
