//! In-app messages (消息) and the expiry reminders that send them, once each.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// What a message says; the store addresses it.
pub struct NewMessage<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub link: &'a str,
}

/// A certificate the supplier holds (its order completed), not revoked, that expires within
/// the window asked for: the signing certificate of each key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringCertificate {
    pub certificate_id: i64,
    pub serial_hex: String,
    pub org_id: i64,
    pub org_name: String,
    pub not_after: i64,
    pub order_no: String,
}

/// The signing certificates of keys suppliers hold (their 新办 order completed, or renewed)
/// and not renewed since, as [`ExpiringCertificate`] rows; callers add their conditions after
/// it.
const HELD_SIGNING_CERTIFICATES: &str = concat!(
    "SELECT c.id, c.serial_hex, c.org_name, c.not_after, o.org_id, o.order_no FROM ",
    crate::key_pairs!(),
    " kp JOIN orders o ON o.id = kp.order_id \
     JOIN certificates c ON c.id = kp.signing_id \
     WHERE kp.status = 'completed' AND NOT EXISTS (SELECT 1 FROM renewal_items rr \
        WHERE rr.certificate_id = c.id AND rr.new_signing_certificate_id IS NOT NULL)"
);

fn expiring_from_row(row: &AnyRow) -> Result<ExpiringCertificate, StoreError> {
    Ok(ExpiringCertificate {
        certificate_id: row.try_get("id")?,
        serial_hex: row.try_get("serial_hex")?,
        org_id: row.try_get("org_id")?,
        org_name: row.try_get("org_name")?,
        not_after: row.try_get("not_after")?,
        order_no: row.try_get("order_no")?,
    })
}

fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    Ok(Message {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        kind: row.try_get("kind")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        link: row.try_get("link")?,
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
    })
}

impl Store {
    /// The certificates held by suppliers that expire after `now` and at or before `until`.
    pub async fn certificates_expiring(
        &self,
        now: i64,
        until: i64,
    ) -> Result<Vec<ExpiringCertificate>, StoreError> {
        let sql = format!(
            "{HELD_SIGNING_CERTIFICATES} AND c.revoked_at IS NULL \
             AND c.not_after > $1 AND c.not_after <= $2 ORDER BY c.not_after, c.id"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(until)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(expiring_from_row).collect()
    }

    /// The certificates held by suppliers that expired before `now` and whose lapse is not
    /// recorded yet: not revoked, or revoked as cessationOfOperation by a run that stopped
    /// before it recorded the lapse.
    pub async fn expired_held_certificates(
        &self,
        now: i64,
    ) -> Result<Vec<ExpiringCertificate>, StoreError> {
        let sql = format!(
            "{HELD_SIGNING_CERTIFICATES} AND c.not_after < $1 \
             AND (c.revoked_at IS NULL OR c.revocation_reason = 'cessationOfOperation') \
             AND NOT EXISTS (SELECT 1 FROM lapsed_certificates l WHERE l.certificate_id = c.id) \
             ORDER BY c.not_after, c.id"
        );
        let rows = sqlx::query(&sql).bind(now).fetch_all(self.pool()).await?;
        rows.iter().map(expiring_from_row).collect()
    }

    /// Sends the `days_before` reminder of a certificate to its organisation's admins and the
    /// accounts it is bound to (enabled ones), once: the reminder's row is the claim, written
    /// with the messages in one transaction. Answers how many were addressed, or `None` when
    /// the reminder was sent before (by this process or another).
    pub async fn send_expiry_reminder(
        &self,
        certificate: &ExpiringCertificate,
        days_before: i64,
        now: i64,
        message: &NewMessage<'_>,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO expiry_reminders (certificate_id, days_before, sent_at, recipients) \
             VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
        )
        .bind(certificate.certificate_id)
        .bind(days_before)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(None);
        }
        let recipients: Vec<i64> = sqlx::query(
            "SELECT id FROM accounts WHERE org_id = $1 AND role = 'org_admin' AND disabled = 0 \
             UNION \
             SELECT a.id FROM bindings b JOIN accounts a ON a.id = b.account_id \
             WHERE b.serial_hex = $2 AND a.disabled = 0 AND a.org_id = $1",
        )
        .bind(certificate.org_id)
        .bind(&certificate.serial_hex)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        for account_id in &recipients {
            sqlx::query(
                "INSERT INTO messages (account_id, kind, title, body, link, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(account_id)
            .bind(message.kind)
            .bind(message.title)
            .bind(message.body)
            .bind(message.link)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let count = recipients.len() as u64;
        sqlx::query(
            "UPDATE expiry_reminders SET recipients = $1 WHERE certificate_id = $2 AND days_before = $3",
        )
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .bind(certificate.certificate_id)
        .bind(days_before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(count))
    }

    /// How many reminders were ever sent.
    pub async fn count_expiry_reminders(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM expiry_reminders")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Records that a certificate past its renewal window was revoked: the organisation's
    /// admins told and the audit entry written, in one transaction, once (false when another
    /// run recorded it).
    pub async fn record_lapsed_certificate(
        &self,
        certificate: &ExpiringCertificate,
        message: &NewMessage<'_>,
        audit: &crate::AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO lapsed_certificates (certificate_id, recorded_at) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(certificate.certificate_id)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        message_org_admins_in(&mut tx, certificate.org_id, message, audit.at).await?;
        let object = format!("certificate:{}", certificate.serial_hex);
        crate::audit::append_audit_with_change(
            &mut tx,
            &crate::AuditNote {
                org_id: Some(certificate.org_id),
                ..*audit
            }
            .event(certdesk_domain::AuditAction::CertificateRevoked, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An account's messages, newest first.
    pub async fn messages_of(
        &self,
        account_id: i64,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, title, body, link, created_at, read_at FROM messages \
             WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// Marks every unread message of the account read; answers how many.
    pub async fn mark_messages_read(&self, account_id: i64, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE messages SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL",
        )
        .bind(now)
        .bind(account_id)
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}

/// Sends a message to every enabled admin of an organisation, inside the caller's transaction
/// (with the change it tells of); answers how many.
pub(crate) async fn message_org_admins_in(
    conn: &mut sqlx::AnyConnection,
    org_id: i64,
    message: &NewMessage<'_>,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO messages (account_id, kind, title, body, link, created_at) \
         SELECT id, $1, $2, $3, $4, $5 FROM accounts \
         WHERE org_id = $6 AND role = 'org_admin' AND disabled = 0",
    )
    .bind(message.kind)
    .bind(message.title)
    .bind(message.body)
    .bind(message.link)
    .bind(now)
    .bind(org_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
