//! 续费/延期 and 批量续费: the renewal behind an order and its certificates, each renewed when
//! its key holder connects the key (claimed with its serials first, then recorded with the
//! certificates in one transaction; the order completes with the last key).

use crate::applications::{
    audit_issued_in, insert_issued_in, insert_unlinked_in, linked_records, IssuanceRecorded,
    IssuedForOrder,
};
use crate::audit::AuditNote;
use crate::orders::{apply_step_in, audit_created_in, insert_draft_order_in, Order};
use crate::{NewOrder, StepRecord, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// What a renewal order is for.
pub struct NewRenewal<'a> {
    pub product_id: i64,
    pub years: i64,
    pub voucher_code: Option<&'a str>,
    /// A certificate had expired: the identity check and the licence are required.
    pub lapsed: bool,
    pub bids_confirmed: bool,
}

/// A signing certificate to renew, and the 新办 order its key pair was first issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalTarget {
    pub certificate_id: i64,
    pub source_order_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub order_id: i64,
    pub product_id: i64,
    pub years: i64,
    pub voucher_code: Option<String>,
    pub lapsed: bool,
    pub bids_confirmed: bool,
}

/// One certificate of a renewal order, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalItem {
    pub order_id: i64,
    pub certificate_id: i64,
    pub source_order_id: i64,
    pub serial_hex: String,
    pub org_name: String,
    pub not_after: i64,
    pub algorithm: String,
    pub new_signing_certificate_id: Option<i64>,
    pub new_encryption_certificate_id: Option<i64>,
    pub new_serial_hex: Option<String>,
    pub new_not_after: Option<i64>,
    pub renewed_at: Option<i64>,
    pub superseded_at: Option<i64>,
}

/// A renewed key whose old certificates are due to be revoked (superseded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupersededKey {
    pub order_id: i64,
    pub org_id: i64,
    pub order_no: String,
    pub certificate_id: i64,
    /// The old signing certificate's serial.
    pub serial_hex: String,
}

/// Order statuses in which a renewal no longer holds its certificates.
const ENDED: &str = "('closed', 'withdrawn', 'refunding', 'refunded')";

const ITEM_COLUMNS: &str = "r.order_id, r.certificate_id, r.source_order_id, c.serial_hex, \
     c.org_name, c.not_after, c.algorithm, r.new_signing_certificate_id, \
     r.new_encryption_certificate_id, n.serial_hex AS new_serial_hex, \
     n.not_after AS new_not_after, r.renewed_at, r.superseded_at";

fn item_from_row(row: &AnyRow) -> Result<RenewalItem, StoreError> {
    Ok(RenewalItem {
        order_id: row.try_get("order_id")?,
        certificate_id: row.try_get("certificate_id")?,
        source_order_id: row.try_get("source_order_id")?,
        serial_hex: row.try_get("serial_hex")?,
        org_name: row.try_get("org_name")?,
        not_after: row.try_get("not_after")?,
        algorithm: row.try_get("algorithm")?,
        new_signing_certificate_id: row.try_get("new_signing_certificate_id")?,
        new_encryption_certificate_id: row.try_get("new_encryption_certificate_id")?,
        new_serial_hex: row.try_get("new_serial_hex")?,
        new_not_after: row.try_get("new_not_after")?,
        renewed_at: row.try_get("renewed_at")?,
        superseded_at: row.try_get("superseded_at")?,
    })
}

/// A key pair this CA issued outside an order, recorded as an organisation's.
pub struct AdoptedKey<'a> {
    pub order_no: &'a str,
    pub org_id: i64,
    /// The organisation's admin, in whose name the order stands (made by an operator: 代办).
    pub created_by: i64,
    pub provider_id: i64,
    pub product_id: i64,
    pub signing_certificate_id: i64,
    pub encryption_certificate_id: Option<i64>,
    pub serial_hex: &'a str,
    /// The application form kept with the order (the organisation as registered).
    pub form_json: &'a str,
    pub at: i64,
}

impl Store {
    /// Records a key pair the CA issued outside an order (at the counter with `certdesk ca
    /// issue`, or before certdesk handled the organisation's orders) as the organisation's: a
    /// completed 新办 order made by an operator (代办) with its application and the link, in one
    /// transaction. A certificate already linked to a key pair is
    /// [`StoreError::Conflict`]`("certificate")`.
    pub async fn adopt_key_pair(
        &self,
        key: &AdoptedKey<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        let linked = sqlx::query(concat!(
            "SELECT 1 FROM ",
            crate::key_pairs!(),
            " kp WHERE kp.signing_id IN ($1, $2) OR kp.encryption_id IN ($1, $2)"
        ))
        .bind(key.signing_certificate_id)
        .bind(
            key.encryption_certificate_id
                .unwrap_or(key.signing_certificate_id),
        )
        .fetch_optional(&mut *tx)
        .await?;
        if linked.is_some() {
            return Err(StoreError::Conflict("certificate"));
        }
        let created = crate::orders::insert_completed_record_in(
            &mut tx,
            &NewOrder {
                order_no: key.order_no,
                org_id: key.org_id,
                kind: certdesk_domain::BusinessType::NewCertificate,
                amount_fen: 0,
                created_by: key.created_by,
                on_behalf: true,
                created_at: key.at,
            },
        )
        .await?;
        crate::applications::insert_application_in(
            &mut tx,
            created.id,
            &crate::NewApplication {
                provider_id: key.provider_id,
                product_id: key.product_id,
                years: 1,
                voucher_code: None,
                delivery_method: "pickup",
                form_json: key.form_json,
            },
            key.at,
        )
        .await?;
        sqlx::query(
            "INSERT INTO order_issuance (order_id, claimed_at, serial_hex, signing_certificate_id, \
             encryption_certificate_id, issued_at) VALUES ($1, $2, $3, $4, $5, $2)",
        )
        .bind(created.id)
        .bind(key.at)
        .bind(key.serial_hex)
        .bind(key.signing_certificate_id)
        .bind(key.encryption_certificate_id)
        .execute(&mut *tx)
        .await?;
        audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Creates a renewal order (草稿) for `targets`, all or nothing. Under the organisation's
    /// lock, a certificate already in a renewal that has not ended (or renewed before) is
    /// [`StoreError::Conflict`]`("renewal")`: two orders made at the same instant for one
    /// certificate cannot both stand.
    pub async fn create_renewal_order(
        &self,
        order: &NewOrder<'_>,
        renewal: &NewRenewal<'_>,
        targets: &[RenewalTarget],
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE organisations SET name = name WHERE id = $1")
            .bind(order.org_id)
            .execute(&mut *tx)
            .await?;
        for target in targets {
            let taken = sqlx::query(&format!(
                "SELECT 1 FROM renewal_items r JOIN orders o ON o.id = r.order_id \
                 WHERE r.certificate_id = $1 AND o.status NOT IN {ENDED}"
            ))
            .bind(target.certificate_id)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict("renewal"));
            }
        }
        let created = insert_draft_order_in(&mut tx, order).await?;
        sqlx::query(
            "INSERT INTO renewal_orders (order_id, product_id, years, voucher_code, lapsed, \
             bids_confirmed) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(created.id)
        .bind(renewal.product_id)
        .bind(renewal.years)
        .bind(renewal.voucher_code)
        .bind(i64::from(renewal.lapsed))
        .bind(i64::from(renewal.bids_confirmed))
        .execute(&mut *tx)
        .await?;
        for target in targets {
            sqlx::query(
                "INSERT INTO renewal_items (order_id, certificate_id, source_order_id) \
                 VALUES ($1, $2, $3)",
            )
            .bind(created.id)
            .bind(target.certificate_id)
            .bind(target.source_order_id)
            .execute(&mut *tx)
            .await?;
        }
        audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn renewal(&self, order_id: i64) -> Result<Option<Renewal>, StoreError> {
        let row = sqlx::query(
            "SELECT order_id, product_id, years, voucher_code, lapsed, bids_confirmed \
             FROM renewal_orders WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(Renewal {
                order_id: row.try_get("order_id")?,
                product_id: row.try_get("product_id")?,
                years: row.try_get("years")?,
                voucher_code: row.try_get("voucher_code")?,
                lapsed: row.try_get::<i64, _>("lapsed")? != 0,
                bids_confirmed: row.try_get::<i64, _>("bids_confirmed")? != 0,
            })
        })
        .transpose()
    }

    /// The certificates of a renewal order, in the order they were listed.
    pub async fn renewal_items(&self, order_id: i64) -> Result<Vec<RenewalItem>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM renewal_items r \
             JOIN certificates c ON c.id = r.certificate_id \
             LEFT JOIN certificates n ON n.id = r.new_signing_certificate_id \
             WHERE r.order_id = $1 ORDER BY c.id"
        );
        let rows = sqlx::query(&sql)
            .bind(order_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Claims the renewal of one certificate of an order with the serials to be signed;
    /// false when it is renewed already or another request holds a claim made after
    /// `stale_before` (a claim older than that died with its request and is taken over).
    pub async fn claim_renewal_item(
        &self,
        order_id: i64,
        certificate_id: i64,
        serial_hex: &str,
        encryption_serial_hex: Option<&str>,
        now: i64,
        stale_before: i64,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "UPDATE renewal_items SET claim_serial_hex = $1, claim_encryption_serial_hex = $2, \
             claimed_at = $3 WHERE order_id = $4 AND certificate_id = $5 \
             AND new_signing_certificate_id IS NULL \
             AND (claimed_at IS NULL OR claimed_at < $6)",
        )
        .bind(serial_hex)
        .bind(encryption_serial_hex)
        .bind(now)
        .bind(order_id)
        .bind(certificate_id)
        .bind(stale_before)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Gives a claim back when signing failed, so the key holder can try again.
    pub async fn release_renewal_item(
        &self,
        order_id: i64,
        certificate_id: i64,
        serial_hex: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE renewal_items SET claim_serial_hex = NULL, \
             claim_encryption_serial_hex = NULL, claimed_at = NULL \
             WHERE order_id = $1 AND certificate_id = $2 AND claim_serial_hex = $3 \
             AND new_signing_certificate_id IS NULL",
        )
        .bind(order_id)
        .bind(certificate_id)
        .bind(serial_hex)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the certificates signed for one key of a renewal order in one transaction: the
    /// certificates, their kept keys, the link to the item and their audit entries; and, when
    /// this was the order's last key, `complete` (制证中 → 已完成). If the claim no longer holds
    /// this serial, or the order left 制证中, the certificates are recorded revoked with
    /// `unlinked_reason` instead and nothing else is written.
    pub async fn complete_renewal_item(
        &self,
        certificate_id: i64,
        issued: &IssuedForOrder<'_>,
        complete: &StepRecord<'_>,
        unlinked_reason: &str,
    ) -> Result<IssuanceRecorded, StoreError> {
        let order = complete.order;
        let intent_serial = issued.signing.certificate.serial_hex;
        let mut tx = self.pool().begin().await?;
        // The order's row first: keys of one order completing at once take turns, so exactly
        // one of them sees that no key is left.
        let issuing = sqlx::query(
            "UPDATE orders SET updated_at = updated_at WHERE id = $1 AND status = 'issuing'",
        )
        .bind(order.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let records = insert_issued_in(&mut tx, issued).await?;
        let linked = issuing
            && sqlx::query(
                "UPDATE renewal_items SET new_signing_certificate_id = $1, \
                 new_encryption_certificate_id = $2, envelope_gmt0009 = $3, envelope_skf = $4, \
                 renewed_at = $5 WHERE order_id = $6 AND certificate_id = $7 \
                 AND claim_serial_hex = $8 AND new_signing_certificate_id IS NULL",
            )
            .bind(records[0].id)
            .bind(records.get(1).map(|r| r.id))
            .bind(issued.envelope_gmt0009)
            .bind(issued.envelope_skf)
            .bind(complete.at)
            .bind(order.id)
            .bind(certificate_id)
            .bind(intent_serial)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        if linked {
            audit_issued_in(&mut tx, complete, &records).await?;
            let left: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM renewal_items \
                 WHERE order_id = $1 AND new_signing_certificate_id IS NULL",
            )
            .bind(order.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if left == 0 && !apply_step_in(&mut tx, complete).await? {
                return Err(StoreError::Corrupt(format!(
                    "renewal order {} left 制证中 under its lock",
                    order.order_no
                )));
            }
            crate::failpoint("renewal-before-commit");
            tx.commit().await?;
            return linked_records(records);
        }
        tx.rollback().await?;
        let mut tx = self.pool().begin().await?;
        let revoked = insert_unlinked_in(&mut tx, issued, complete.at, unlinked_reason).await?;
        tx.commit().await?;
        Ok(IssuanceRecorded::Revoked(revoked))
    }

    /// The envelopes of a renewed key's encryption key for its UKey: GM/T 0009 DER and the
    /// GM/T 0016 blob (none for a single certificate, or before the key is renewed).
    pub async fn renewal_envelopes(
        &self,
        order_id: i64,
        certificate_id: i64,
    ) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), StoreError> {
        let row = sqlx::query(
            "SELECT envelope_gmt0009, envelope_skf FROM renewal_items \
             WHERE order_id = $1 AND certificate_id = $2",
        )
        .bind(order_id)
        .bind(certificate_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            None => Ok((None, None)),
            Some(row) => Ok((
                row.try_get("envelope_gmt0009")?,
                row.try_get("envelope_skf")?,
            )),
        }
    }

    /// Renewed keys whose old certificates are not yet marked superseded, renewed at or before
    /// `renewed_before` (the grace is over), oldest first.
    pub async fn superseded_due(
        &self,
        renewed_before: i64,
        limit: i64,
    ) -> Result<Vec<SupersededKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.order_id, o.org_id, o.order_no, r.certificate_id, c.serial_hex \
             FROM renewal_items r JOIN orders o ON o.id = r.order_id \
             JOIN certificates c ON c.id = r.certificate_id \
             WHERE r.superseded_at IS NULL AND r.renewed_at IS NOT NULL \
             AND r.renewed_at <= $1 ORDER BY r.renewed_at LIMIT $2",
        )
        .bind(renewed_before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SupersededKey {
                    order_id: row.try_get("order_id")?,
                    org_id: row.try_get("org_id")?,
                    order_no: row.try_get("order_no")?,
                    certificate_id: row.try_get("certificate_id")?,
                    serial_hex: row.try_get("serial_hex")?,
                })
            })
            .collect()
    }

    /// Marks the old certificates of a renewed key superseded (the CA revoked them first).
    pub async fn mark_superseded(
        &self,
        order_id: i64,
        certificate_id: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE renewal_items SET superseded_at = $1 WHERE order_id = $2 \
             AND certificate_id = $3 AND superseded_at IS NULL",
        )
        .bind(at)
        .bind(order_id)
        .bind(certificate_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
