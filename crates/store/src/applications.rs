//! The application behind a new-certificate order (新办): the form, its documents, the
//! certificates issued for it and the key's delivery. Every change that goes with a status
//! change is written in the same transaction as the compare-and-set on the order's status.

use crate::audit::append_audit_with_change;
use crate::ca::{
    certificate_from_row, insert_certificate_in, insert_key_archive_in, revoke_in,
    CERTIFICATE_COLUMNS,
};
use crate::orders::{apply_step_in, insert_draft_order_in, order_from_row, ORDER_COLUMNS};
use crate::{
    AuditNote, CertificateRecord, NewAuditEvent, NewCertificate, NewOrder, Order, StepRecord,
    Store, StoreError,
};
use certdesk_domain::{AuditAction, OrderStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub order_id: i64,
    pub provider_id: i64,
    pub product_id: i64,
    pub years: i64,
    pub voucher_code: Option<String>,
    pub delivery_method: String,
    /// JSON of `certdesk_domain::ApplicationForm`.
    pub form_json: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewApplication<'a> {
    pub provider_id: i64,
    pub product_id: i64,
    pub years: i64,
    pub voucher_code: Option<&'a str>,
    pub delivery_method: &'a str,
    pub form_json: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpload {
    pub kind: String,
    pub blob_id: String,
    pub file_name: String,
    pub format: String,
    pub size_bytes: i64,
    pub uploaded_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    pub order_id: i64,
    pub claimed_at: i64,
    pub signing_certificate_id: Option<i64>,
    pub encryption_certificate_id: Option<i64>,
    pub envelope_gmt0009: Option<Vec<u8>>,
    pub envelope_skf: Option<Vec<u8>>,
    pub issued_at: Option<i64>,
}

/// What is recorded before the CA signs (the intent): the serial numbers the certificates will
/// carry and, for a key holder's CSR, the SHA-256 (hex) of the public key to certify. A crash
/// after signing leaves the serials to find the certificates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuanceIntent<'a> {
    pub serial_hex: &'a str,
    pub encryption_serial_hex: Option<&'a str>,
    pub public_key_sha256: Option<&'a str>,
}

/// An unfinished claim, as recovery sees it. Claims made before intents were recorded have no
/// serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceClaim {
    pub order_id: i64,
    pub claimed_at: i64,
    pub serial_hex: Option<String>,
    pub encryption_serial_hex: Option<String>,
    pub public_key_sha256: Option<String>,
}

/// A private key the CA keeps for a certificate, already sealed under a key-management key
/// (a held key's, or an SM2 encryption key). The store never sees a key in the clear.
#[derive(Debug, Clone, Copy)]
pub struct SealedKeyArchive<'a> {
    pub kmk_id: &'a str,
    pub archive_der: &'a [u8],
}

/// A certificate signed for an order and not yet recorded, with the key kept for it, if any.
#[derive(Debug, Clone)]
pub struct SignedForOrder<'a> {
    pub certificate: NewCertificate<'a>,
    pub key_archive: Option<SealedKeyArchive<'a>>,
}

/// What issuance made, recorded with the step to 已发证. The signing certificate's serial is the
/// intent's: the claim is completed only if it still holds that serial.
#[derive(Debug, Clone)]
pub struct IssuedForOrder<'a> {
    pub signing: SignedForOrder<'a>,
    pub encryption: Option<SignedForOrder<'a>>,
    pub envelope_gmt0009: Option<&'a [u8]>,
    pub envelope_skf: Option<&'a [u8]>,
}

/// How [`Store::complete_issuance`] recorded what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuanceRecorded {
    /// Recorded, linked to the order, and the order moved to 已发证.
    Linked {
        signing: Box<CertificateRecord>,
        encryption: Option<Box<CertificateRecord>>,
    },
    /// The order was no longer this intent's to issue (its claim was released, or the order
    /// moved on): the certificates are recorded revoked, so that OCSP and the CRL say so,
    /// and nothing else changed. The CA publishes a new CRL.
    Revoked(Vec<CertificateRecord>),
}

/// What [`Store::recover_issuance_claims`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveredClaims {
    /// Orders whose claim was released: issuance may run again.
    pub released: Vec<i64>,
    /// Certificates of a claim's serials found valid and linked to no order, revoked now.
    pub revoked: Vec<CertificateRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    pub courier: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped_at: Option<i64>,
    pub received_at: Option<i64>,
}

/// A certificate issued for one of an organisation's orders, with the order's status (the
/// certificate counts as in force once the supplier has it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgCertificate {
    pub certificate_id: i64,
    pub serial_hex: String,
    pub algorithm: String,
    pub profile: String,
    pub org_name: String,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
    /// The CRL reason, once revoked (`superseded`, `keyCompromise`, …).
    pub revocation_reason: Option<String>,
    pub order_no: String,
    pub order_status: String,
    pub provider_name: String,
    /// The 新办 order the key pair was first issued for (its product and provider).
    pub source_order_id: i64,
    /// A renewal gave the key new certificates: these are on their way out (superseded after
    /// the grace).
    pub renewed: bool,
}

const APPLICATION_COLUMNS: &str =
    "order_id, provider_id, product_id, years, voucher_code, delivery_method, form_json, updated_at";

fn application_from_row(row: &AnyRow) -> Result<Application, StoreError> {
    Ok(Application {
        order_id: row.try_get("order_id")?,
        provider_id: row.try_get("provider_id")?,
        product_id: row.try_get("product_id")?,
        years: row.try_get("years")?,
        voucher_code: row.try_get("voucher_code")?,
        delivery_method: row.try_get("delivery_method")?,
        form_json: row.try_get("form_json")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates an order and its application together, with the audit entry
    /// (`order_transition` on `order:<number>`, on the order's organisation); a number already
    /// used is `Conflict("order_no")` and nothing is written.
    pub async fn create_application_order(
        &self,
        order: &NewOrder<'_>,
        application: &NewApplication<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Order, StoreError> {
        let mut tx = self.pool().begin().await?;
        let created = insert_draft_order_in(&mut tx, order).await?;
        insert_application_in(&mut tx, created.id, application, order.created_at).await?;
        crate::orders::audit_created_in(&mut tx, &created, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn application(&self, order_id: i64) -> Result<Option<Application>, StoreError> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE order_id = $1");
        let row = sqlx::query(&sql)
            .bind(order_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    /// Replaces the application and the order's amount, only while the order is one the
    /// supplier may edit ([`OrderStatus::EDITABLE`]); answers whether it was changed.
    pub async fn update_application(
        &self,
        order_id: i64,
        amount_fen: i64,
        application: &NewApplication<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        // The status check and the change happen under the order row's write lock.
        let sql = format!(
            "UPDATE orders SET amount_fen = $1 WHERE id = $2 AND status IN ({})",
            crate::placeholders(3, OrderStatus::EDITABLE.len())
        );
        let mut query = sqlx::query(&sql).bind(amount_fen).bind(order_id);
        for status in OrderStatus::EDITABLE {
            query = query.bind(status.as_str());
        }
        if query.execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE applications SET provider_id = $1, product_id = $2, years = $3, voucher_code = $4, \
             delivery_method = $5, form_json = $6, updated_at = $7 WHERE order_id = $8",
        )
        .bind(application.provider_id)
        .bind(application.product_id)
        .bind(application.years)
        .bind(application.voucher_code)
        .bind(application.delivery_method)
        .bind(application.form_json)
        .bind(now)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The application is priced without 首张免费 (`Store::submit_order` takes it).
    pub async fn clear_first_free(&self, order_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET first_free = 0 WHERE order_id = $1")
            .bind(order_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records (or replaces) the document of one kind for an order.
    /// Puts `upload` in its kind's place on the order; answers the blob it replaced (to be
    /// removed once nothing refers to it). Uploads of one kind arriving together are put one
    /// after the other, each learning what it replaced, so that no file is left behind unseen.
    pub async fn put_order_upload(
        &self,
        order_id: i64,
        upload: &OrderUpload,
    ) -> Result<Option<String>, StoreError> {
        for _ in 0..3 {
            let mut tx = self.pool().begin().await?;
            // A write first: it takes the row (PostgreSQL) or the write lock (SQLite), so the
            // blob read next is the one this call replaces.
            sqlx::query(
                "UPDATE order_uploads SET blob_id = blob_id WHERE order_id = $1 AND kind = $2",
            )
            .bind(order_id)
            .bind(&upload.kind)
            .execute(&mut *tx)
            .await?;
            let previous: Option<String> =
                sqlx::query("SELECT blob_id FROM order_uploads WHERE order_id = $1 AND kind = $2")
                    .bind(order_id)
                    .bind(&upload.kind)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| row.try_get("blob_id"))
                    .transpose()?;
            sqlx::query("DELETE FROM order_uploads WHERE order_id = $1 AND kind = $2")
                .bind(order_id)
                .bind(&upload.kind)
                .execute(&mut *tx)
                .await?;
            let inserted = sqlx::query(
                "INSERT INTO order_uploads (order_id, kind, blob_id, file_name, format, size_bytes, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(order_id)
            .bind(&upload.kind)
            .bind(&upload.blob_id)
            .bind(&upload.file_name)
            .bind(&upload.format)
            .bind(upload.size_bytes)
            .bind(upload.uploaded_at)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(previous);
                }
                // The first upload of this kind came in at the same instant: the row exists
                // now, and the next try locks it.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(StoreError::Conflict("order_upload"))
    }

    pub async fn order_uploads(&self, order_id: i64) -> Result<Vec<OrderUpload>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, blob_id, file_name, format, size_bytes, uploaded_at FROM order_uploads \
             WHERE order_id = $1 ORDER BY kind",
        )
        .bind(order_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OrderUpload {
                    kind: row.try_get("kind")?,
                    blob_id: row.try_get("blob_id")?,
                    file_name: row.try_get("file_name")?,
                    format: row.try_get("format")?,
                    size_bytes: row.try_get("size_bytes")?,
                    uploaded_at: row.try_get("uploaded_at")?,
                })
            })
            .collect()
    }

    /// Whether anything still refers to a blob (before deleting it): an application's
    /// documents, or a bank-transfer receipt — blobs are shared by content, so the same
    /// scan may be both.
    pub async fn blob_is_referenced(&self, blob_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM order_uploads WHERE blob_id = $1) \
             + (SELECT COUNT(*) FROM offline_transfers WHERE receipt_blob = $1) \
             + (SELECT COUNT(*) FROM organisation_claims \
                WHERE licence_blob = $1 OR letter_blob = $1) AS n",
        )
        .bind(blob_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Claims the issuance of an order and records its intent; answers false when it was
    /// claimed before (issued, or being issued by another request). A serial of another intent
    /// is [`StoreError::Conflict`]`("serial")`.
    pub async fn claim_issuance(
        &self,
        order_id: i64,
        intent: &IssuanceIntent<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO order_issuance (order_id, claimed_at, serial_hex, encryption_serial_hex, \
             public_key_sha256) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(order_id)
        .bind(now)
        .bind(intent.serial_hex)
        .bind(intent.encryption_serial_hex)
        .bind(intent.public_key_sha256)
        .execute(self.pool())
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                // The order's claim, or (2^-127) another intent's serial.
                let claimed = sqlx::query("SELECT 1 FROM order_issuance WHERE order_id = $1")
                    .bind(order_id)
                    .fetch_optional(self.pool())
                    .await?;
                match claimed {
                    Some(_) => Ok(false),
                    None => Err(StoreError::Conflict("serial")),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Gives a claim back when issuance failed before anything was recorded (e.g. a bad CSR),
    /// so the key holder can try again. Only this intent's unfinished claim is released.
    pub async fn release_issuance(
        &self,
        order_id: i64,
        serial_hex: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM order_issuance WHERE order_id = $1 AND serial_hex = $2 \
             AND signing_certificate_id IS NULL",
        )
        .bind(order_id)
        .bind(serial_hex)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the certificates signed for a claimed order, their key archives, the link to the
    /// order and `step` (制证中 → 已发证), all in one transaction. If the claim no longer holds
    /// this intent's serial or the order has moved, none of that is written: the certificates
    /// are recorded revoked with `unlinked_reason` instead (see [`IssuanceRecorded::Revoked`]).
    /// A serial already used is [`StoreError::Conflict`]`("serial")`, and nothing is written.
    pub async fn complete_issuance(
        &self,
        order_id: i64,
        issued: &IssuedForOrder<'_>,
        record: &StepRecord<'_>,
        unlinked_reason: &str,
    ) -> Result<IssuanceRecorded, StoreError> {
        let intent_serial = issued.signing.certificate.serial_hex;
        let mut tx = self.pool().begin().await?;
        let records = insert_issued_in(&mut tx, issued).await?;
        let signing_id = records[0].id;
        let encryption_id = records.get(1).map(|r| r.id);
        let linked = sqlx::query(
            "UPDATE order_issuance SET signing_certificate_id = $1, encryption_certificate_id = $2, \
             envelope_gmt0009 = $3, envelope_skf = $4, issued_at = $5 \
             WHERE order_id = $6 AND serial_hex = $7 AND signing_certificate_id IS NULL",
        )
        .bind(signing_id)
        .bind(encryption_id)
        .bind(issued.envelope_gmt0009)
        .bind(issued.envelope_skf)
        .bind(record.at)
        .bind(order_id)
        .bind(intent_serial)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if linked && apply_step_in(&mut tx, record).await? {
            audit_issued_in(&mut tx, record, &records).await?;
            crate::failpoint("issuance-before-commit");
            tx.commit().await?;
            return linked_records(records);
        }
        tx.rollback().await?;
        let at = record.at;
        let mut tx = self.pool().begin().await?;
        let revoked = insert_unlinked_in(&mut tx, issued, at, unlinked_reason).await?;
        // The order moved on under our claim: the claim is of no use any more.
        sqlx::query(
            "DELETE FROM order_issuance WHERE order_id = $1 AND serial_hex = $2 \
             AND signing_certificate_id IS NULL",
        )
        .bind(order_id)
        .bind(intent_serial)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(IssuanceRecorded::Revoked(revoked))
    }

    /// Unfinished claims made at or before `claimed_before`, oldest first.
    pub async fn stale_issuance_claims(
        &self,
        claimed_before: i64,
    ) -> Result<Vec<IssuanceClaim>, StoreError> {
        let rows = sqlx::query(
            "SELECT order_id, claimed_at, serial_hex, encryption_serial_hex, public_key_sha256 \
             FROM order_issuance WHERE signing_certificate_id IS NULL AND claimed_at <= $1 \
             ORDER BY claimed_at, order_id",
        )
        .bind(claimed_before)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IssuanceClaim {
                    order_id: row.try_get("order_id")?,
                    claimed_at: row.try_get("claimed_at")?,
                    serial_hex: row.try_get("serial_hex")?,
                    encryption_serial_hex: row.try_get("encryption_serial_hex")?,
                    public_key_sha256: row.try_get("public_key_sha256")?,
                })
            })
            .collect()
    }

    /// Recovers the claims left unfinished since `claimed_before` (a crash, or a request that
    /// died): a certificate carrying one of a claim's serials that is valid and linked to no
    /// order is revoked with `reason`, and the claim is released, each claim in one
    /// transaction. A claim finished or taken again meanwhile is left alone. The caller has the
    /// CA publish a new CRL when something was revoked.
    pub async fn recover_issuance_claims(
        &self,
        claimed_before: i64,
        now: i64,
        reason: &str,
    ) -> Result<RecoveredClaims, StoreError> {
        let mut recovered = RecoveredClaims::default();
        for claim in self.stale_issuance_claims(claimed_before).await? {
            let mut tx = self.pool().begin().await?;
            let mut revoked = Vec::new();
            let serials = [&claim.serial_hex, &claim.encryption_serial_hex];
            for serial in serials.into_iter().flatten() {
                let sql = format!(
                    "SELECT {CERTIFICATE_COLUMNS} FROM certificates c WHERE serial_hex = $1 \
                     AND revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM order_issuance i \
                     WHERE i.signing_certificate_id = c.id OR i.encryption_certificate_id = c.id)"
                );
                let row = sqlx::query(&sql)
                    .bind(serial)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = row {
                    let mut record = certificate_from_row(&row)?;
                    if revoke_in(&mut tx, serial, now, reason).await? {
                        record.revoked_at = Some(now);
                        record.revocation_reason = Some(reason.to_string());
                        revoked.push(record);
                    }
                }
            }
            let released = sqlx::query(
                "DELETE FROM order_issuance WHERE order_id = $1 AND claimed_at = $2 \
                 AND COALESCE(serial_hex, '') = $3 AND signing_certificate_id IS NULL",
            )
            .bind(claim.order_id)
            .bind(claim.claimed_at)
            .bind(claim.serial_hex.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !released {
                tx.rollback().await?;
                continue;
            }
            tx.commit().await?;
            tracing::warn!(
                order_id = claim.order_id,
                serial = claim.serial_hex.as_deref().unwrap_or("-"),
                revoked = revoked.len(),
                "an unfinished issuance claim was released"
            );
            recovered.released.push(claim.order_id);
            recovered.revoked.extend(revoked);
        }
        Ok(recovered)
    }

    /// Orders in `status` with no issuance claim, last changed at or before `updated_before`
    /// (for recovery: held-key orders in 制证中 whose issuance never finished).
    pub async fn unclaimed_orders(
        &self,
        status: OrderStatus,
        updated_before: i64,
    ) -> Result<Vec<Order>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1 AND updated_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM order_issuance i WHERE i.order_id = orders.id) \
             ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(updated_before)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    pub async fn issuance(&self, order_id: i64) -> Result<Option<Issuance>, StoreError> {
        let row = sqlx::query(
            "SELECT order_id, claimed_at, signing_certificate_id, encryption_certificate_id, \
             envelope_gmt0009, envelope_skf, issued_at FROM order_issuance WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(Issuance {
                order_id: row.try_get("order_id")?,
                claimed_at: row.try_get("claimed_at")?,
                signing_certificate_id: row.try_get("signing_certificate_id")?,
                encryption_certificate_id: row.try_get("encryption_certificate_id")?,
                envelope_gmt0009: row.try_get("envelope_gmt0009")?,
                envelope_skf: row.try_get("envelope_skf")?,
                issued_at: row.try_get("issued_at")?,
            })
        })
        .transpose()
    }

    /// Records the courier and tracking number and applies `step` (已发证 → 配送中).
    pub async fn ship_order(
        &self,
        order_id: i64,
        courier: &str,
        tracking_no: &str,
        record: &StepRecord<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO order_deliveries (order_id, courier, tracking_no, shipped_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(order_id)
        .bind(courier)
        .bind(tracking_no)
        .bind(record.at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the supplier's receipt and applies `step` (→ 已完成).
    pub async fn confirm_receipt(
        &self,
        order_id: i64,
        record: &StepRecord<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !apply_step_in(&mut tx, record).await? {
            return Ok(false);
        }
        let updated =
            sqlx::query("UPDATE order_deliveries SET received_at = $1 WHERE order_id = $2")
                .bind(record.at)
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 0 {
            sqlx::query("INSERT INTO order_deliveries (order_id, received_at) VALUES ($1, $2)")
                .bind(order_id)
                .bind(record.at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn delivery(&self, order_id: i64) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(
            "SELECT courier, tracking_no, shipped_at, received_at FROM order_deliveries WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(Delivery {
                courier: row.try_get("courier")?,
                tracking_no: row.try_get("tracking_no")?,
                shipped_at: row.try_get("shipped_at")?,
                received_at: row.try_get("received_at")?,
            })
        })
        .transpose()
    }

    /// Every certificate issued for an organisation's orders (新办 and renewals), newest first
    /// (the CA provider is that of the key's 新办 application, '' for an order without one).
    pub async fn org_certificates(&self, org_id: i64) -> Result<Vec<OrgCertificate>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT c.id, c.serial_hex, c.algorithm, c.profile, c.org_name, c.not_before, c.not_after, \
                    c.revoked_at, c.revocation_reason, o.order_no, kp.status, kp.source_order_id, \
                    CASE WHEN EXISTS (SELECT 1 FROM renewal_items rr WHERE rr.certificate_id = kp.signing_id \
                        AND rr.new_signing_certificate_id IS NOT NULL) THEN 1 ELSE 0 END AS renewed, \
                    COALESCE(p.name, '') AS provider_name FROM ",
            crate::key_pairs!(),
            " kp JOIN orders o ON o.id = kp.order_id \
             LEFT JOIN applications a ON a.order_id = kp.source_order_id \
             LEFT JOIN ca_providers p ON p.id = a.provider_id \
             JOIN certificates c ON c.id = kp.signing_id OR c.id = kp.encryption_id \
             WHERE o.org_id = $1 \
             ORDER BY c.issued_at DESC, c.id DESC",
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OrgCertificate {
                    certificate_id: row.try_get("id")?,
                    serial_hex: row.try_get("serial_hex")?,
                    algorithm: row.try_get("algorithm")?,
                    profile: row.try_get("profile")?,
                    org_name: row.try_get("org_name")?,
                    not_before: row.try_get("not_before")?,
                    not_after: row.try_get("not_after")?,
                    revoked_at: row.try_get("revoked_at")?,
                    revocation_reason: row.try_get("revocation_reason")?,
                    order_no: row.try_get("order_no")?,
                    order_status: row.try_get("status")?,
                    provider_name: row.try_get("provider_name")?,
                    source_order_id: row.try_get("source_order_id")?,
                    renewed: row.try_get::<i64, _>("renewed")? != 0,
                })
            })
            .collect()
    }
}

/// Records what one issuance signed: the certificates and their kept keys.
pub(crate) async fn insert_issued_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    issued: &IssuedForOrder<'_>,
) -> Result<Vec<CertificateRecord>, StoreError> {
    let mut records = Vec::with_capacity(2);
    for signed in std::iter::once(&issued.signing).chain(issued.encryption.as_ref()) {
        let record = insert_certificate_in(tx, &signed.certificate).await?;
        if let Some(archive) = signed.key_archive {
            insert_key_archive_in(
                tx,
                record.id,
                archive.kmk_id,
                archive.archive_der,
                record.issued_at,
            )
            .await?;
        }
        records.push(record);
    }
    Ok(records)
}

/// Every certificate signed for an order is on the audit chain with the order, in the
/// transaction that records it.
pub(crate) async fn audit_issued_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    record: &StepRecord<'_>,
    issued: &[CertificateRecord],
) -> Result<(), StoreError> {
    for certificate in issued {
        append_audit_with_change(
            tx,
            &NewAuditEvent {
                at: record.at,
                actor_account_id: record.actor_account_id,
                actor_label: record.audit_actor,
                org_id: Some(record.order.org_id),
                action: AuditAction::CertificateIssued,
                object: &format!("certificate:{}", certificate.serial_hex),
                detail: &format!(
                    "order={} algorithm={} profile={} credit_code={}",
                    record.order.order_no,
                    certificate.algorithm,
                    certificate.profile,
                    certdesk_domain::mask_credit_code(&certificate.credit_code)
                ),
            },
        )
        .await?;
    }
    Ok(())
}

pub(crate) fn linked_records(
    records: Vec<CertificateRecord>,
) -> Result<IssuanceRecorded, StoreError> {
    let mut records = records.into_iter();
    let signing = records
        .next()
        .ok_or_else(|| StoreError::Corrupt("no signing certificate".into()))?;
    Ok(IssuanceRecorded::Linked {
        signing: Box::new(signing),
        encryption: records.next().map(Box::new),
    })
}

/// Signed but not to be linked: the certificates are kept, revoked, so that every signature
/// the CA made is on record and OCSP and the CRL answer "revoked" for them.
pub(crate) async fn insert_unlinked_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    issued: &IssuedForOrder<'_>,
    at: i64,
    reason: &str,
) -> Result<Vec<CertificateRecord>, StoreError> {
    let mut revoked = Vec::with_capacity(2);
    for signed in std::iter::once(&issued.signing).chain(issued.encryption.as_ref()) {
        let mut record = insert_certificate_in(tx, &signed.certificate).await?;
        revoke_in(tx, &record.serial_hex, at, reason).await?;
        record.revoked_at = Some(at);
        record.revocation_reason = Some(reason.to_string());
        revoked.push(record);
    }
    Ok(revoked)
}

/// The application row of an order just created, inside the caller's transaction.
pub(crate) async fn insert_application_in(
    conn: &mut sqlx::AnyConnection,
    order_id: i64,
    application: &NewApplication<'_>,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO applications (order_id, provider_id, product_id, years, voucher_code, delivery_method, form_json, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(order_id)
    .bind(application.provider_id)
    .bind(application.product_id)
    .bind(application.years)
    .bind(application.voucher_code)
    .bind(application.delivery_method)
    .bind(application.form_json)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
