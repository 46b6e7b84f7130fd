//! What the certificate authority keeps: its keys (encrypted) and certificates, every
//! certificate it issued, its CRLs, and a counter that moves with every revocation.
//!
//! This module stores bytes and facts; it knows nothing of X.509. `certdesk-ca` decides what
//! the bytes are.

use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// One CA key pair and its certificate.
#[derive(Debug, Clone)]
pub struct CaKeyRecord {
    pub id: i64,
    /// `sm2` or `p256`.
    pub algorithm: String,
    /// `root` or `issuing`.
    pub role: String,
    pub certificate_der: Vec<u8>,
    pub private_key_pem: String,
    pub created_at: i64,
    /// When a newer issuing CA replaced this one (Unix seconds); its role is then
    /// `issuing-<id>`.
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewCaKey<'a> {
    pub algorithm: &'a str,
    pub role: &'a str,
    pub certificate_der: &'a [u8],
    pub private_key_pem: &'a str,
    pub created_at: i64,
}

/// A certificate we issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub id: i64,
    pub serial_hex: String,
    pub issuer_ca_id: i64,
    pub algorithm: String,
    pub profile: String,
    pub org_name: String,
    pub credit_code: String,
    pub not_before: i64,
    pub not_after: i64,
    pub der: Vec<u8>,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub serial_hex: &'a str,
    pub issuer_ca_id: i64,
    pub algorithm: &'a str,
    pub profile: &'a str,
    pub org_name: &'a str,
    pub credit_code: &'a str,
    pub not_before: i64,
    pub not_after: i64,
    pub der: &'a [u8],
    pub issued_at: i64,
}

#[derive(Debug, Clone)]
pub struct CrlRecord {
    /// The issuing CA's publication name (`sm2`, `p256`, `p256-7` for one that replaced
    /// another): CRLs are numbered per issuing CA.
    pub algorithm: String,
    pub crl_number: i64,
    pub this_update: i64,
    pub next_update: i64,
    pub der: Vec<u8>,
}

/// What a revocation request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked(CertificateRecord),
    /// Revoked before; the first revocation stands.
    AlreadyRevoked(CertificateRecord),
    NotFound,
}

const CA_KEY_COLUMNS: &str =
    "id, algorithm, role, certificate_der, private_key_pem, created_at, retired_at";
pub(crate) const CERTIFICATE_COLUMNS: &str =
    "id, serial_hex, issuer_ca_id, algorithm, profile, org_name, \
     credit_code, not_before, not_after, der, issued_at, revoked_at, revocation_reason";

fn ca_key_from_row(row: &AnyRow) -> Result<CaKeyRecord, StoreError> {
    Ok(CaKeyRecord {
        id: row.try_get("id")?,
        algorithm: row.try_get("algorithm")?,
        role: row.try_get("role")?,
        certificate_der: row.try_get("certificate_der")?,
        private_key_pem: row.try_get("private_key_pem")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

pub(crate) fn certificate_from_row(row: &AnyRow) -> Result<CertificateRecord, StoreError> {
    Ok(CertificateRecord {
        id: row.try_get("id")?,
        serial_hex: row.try_get("serial_hex")?,
        issuer_ca_id: row.try_get("issuer_ca_id")?,
        algorithm: row.try_get("algorithm")?,
        profile: row.try_get("profile")?,
        org_name: row.try_get("org_name")?,
        credit_code: row.try_get("credit_code")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        der: row.try_get("der")?,
        issued_at: row.try_get("issued_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revocation_reason: row.try_get("revocation_reason")?,
    })
}

/// An encryption key sealed under a key-management key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyArchiveRecord {
    pub certificate_id: i64,
    pub kmk_id: String,
    pub archive_der: Vec<u8>,
    pub created_at: i64,
}

const INSERT_CERTIFICATE: &str = "INSERT INTO certificates (serial_hex, issuer_ca_id, algorithm, \
     profile, org_name, credit_code, not_before, not_after, der, issued_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ";

fn bind_certificate<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    new: &NewCertificate<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(new.serial_hex)
        .bind(new.issuer_ca_id)
        .bind(new.algorithm)
        .bind(new.profile)
        .bind(new.org_name)
        .bind(new.credit_code)
        .bind(new.not_before)
        .bind(new.not_after)
        .bind(new.der)
        .bind(new.issued_at)
}

/// Inserts a certificate record on `conn` (a transaction's, usually). A serial already used is
/// [`StoreError::Conflict`]`("serial")`.
pub(crate) async fn insert_certificate_in(
    conn: &mut sqlx::AnyConnection,
    new: &NewCertificate<'_>,
) -> Result<CertificateRecord, StoreError> {
    let sql = format!("{INSERT_CERTIFICATE}{CERTIFICATE_COLUMNS}");
    let row = bind_certificate(sqlx::query(&sql), new)
        .fetch_one(conn)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "serial"))?;
    certificate_from_row(&row)
}

/// Keeps a sealed private key with its certificate on `conn`. A certificate has one archive at
/// most: a second is [`StoreError::Conflict`]`("key_archive")`.
pub(crate) async fn insert_key_archive_in(
    conn: &mut sqlx::AnyConnection,
    certificate_id: i64,
    kmk_id: &str,
    archive_der: &[u8],
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO key_archives (certificate_id, kmk_id, archive_der, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(certificate_id)
    .bind(kmk_id)
    .bind(archive_der)
    .bind(at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::conflict_on_unique(e, "key_archive"))?;
    Ok(())
}

/// Marks a certificate revoked on `conn` and moves the revocation counter with it (every
/// process's OCSP cache watches the counter); answers false when it was revoked before or
/// does not exist.
pub(crate) async fn revoke_in(
    conn: &mut sqlx::AnyConnection,
    serial_hex: &str,
    revoked_at: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE certificates SET revoked_at = $1, revocation_reason = $2 \
         WHERE serial_hex = $3 AND revoked_at IS NULL",
    )
    .bind(revoked_at)
    .bind(reason)
    .bind(serial_hex)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE ca_state SET revocation_counter = revocation_counter + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(true)
}

impl Store {
    /// Stores a root and its issuing CA together, or neither. When another process stored a
    /// hierarchy for the algorithm first, answers [`StoreError::Conflict`]`("ca_key")`.
    pub async fn insert_ca_hierarchy(
        &self,
        root: &NewCaKey<'_>,
        issuing: &NewCaKey<'_>,
    ) -> Result<(CaKeyRecord, CaKeyRecord), StoreError> {
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "INSERT INTO ca_keys (algorithm, role, certificate_der, private_key_pem, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {CA_KEY_COLUMNS}"
        );
        let mut stored = Vec::with_capacity(2);
        for key in [root, issuing] {
            let row = sqlx::query(&sql)
                .bind(key.algorithm)
                .bind(key.role)
                .bind(key.certificate_der)
                .bind(key.private_key_pem)
                .bind(key.created_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| StoreError::conflict_on_unique(e, "ca_key"))?;
            stored.push(ca_key_from_row(&row)?);
        }
        tx.commit().await?;
        let issuing = stored
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no issuing CA".into()))?;
        let root = stored
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no root CA".into()))?;
        Ok((root, issuing))
    }

    /// Puts `issuing` in service for its algorithm and retires the issuing CA it replaces, in
    /// one transaction. [`StoreError::Conflict`]`("issuing_ca")` when the algorithm has no
    /// issuing CA in service (the caller looked, and another process changed it since).
    /// The audit entry (`ca_issuing_replaced` on `ca:<algorithm>`) is written with the change.
    pub async fn replace_issuing_ca(
        &self,
        issuing: &NewCaKey<'_>,
        retired_at: i64,
        note: &crate::AuditNote<'_>,
    ) -> Result<CaKeyRecord, StoreError> {
        let mut tx = self.pool().begin().await?;
        let retired = sqlx::query(
            "UPDATE ca_keys SET retired_at = $1, role = 'issuing-' || CAST(id AS TEXT) \
             WHERE algorithm = $2 AND role = 'issuing' AND retired_at IS NULL",
        )
        .bind(retired_at)
        .bind(issuing.algorithm)
        .execute(&mut *tx)
        .await?;
        if retired.rows_affected() != 1 {
            return Err(StoreError::Conflict("issuing_ca"));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO ca_keys (algorithm, role, certificate_der, private_key_pem, created_at) \
             VALUES ($1, 'issuing', $2, $3, $4) RETURNING {CA_KEY_COLUMNS}"
        ))
        .bind(issuing.algorithm)
        .bind(issuing.certificate_der)
        .bind(issuing.private_key_pem)
        .bind(issuing.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "ca_key"))?;
        let record = ca_key_from_row(&row)?;
        let object = format!("ca:{}", issuing.algorithm);
        crate::audit::append_audit_with_change(
            &mut tx,
            &note.event(certdesk_domain::AuditAction::CaIssuingReplaced, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Every CA key, oldest first.
    pub async fn ca_keys(&self) -> Result<Vec<CaKeyRecord>, StoreError> {
        let sql = format!("SELECT {CA_KEY_COLUMNS} FROM ca_keys ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(ca_key_from_row).collect()
    }

    /// Records an issued certificate. A serial already used is
    /// [`StoreError::Conflict`]`("serial")`, and nothing is stored.
    pub async fn insert_certificate(
        &self,
        new: &NewCertificate<'_>,
    ) -> Result<CertificateRecord, StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_certificate_in(&mut conn, new).await
    }

    /// Records the two certificates of a dual pair and the archive of the encryption key, all
    /// or nothing. A serial already used is [`StoreError::Conflict`]`("serial")`.
    pub async fn insert_dual_certificates(
        &self,
        signing: &NewCertificate<'_>,
        encryption: &NewCertificate<'_>,
        kmk_id: &str,
        archive_der: &[u8],
    ) -> Result<(CertificateRecord, CertificateRecord), StoreError> {
        let mut tx = self.pool().begin().await?;
        let signing_record = insert_certificate_in(&mut tx, signing).await?;
        let encryption_record = insert_certificate_in(&mut tx, encryption).await?;
        insert_key_archive_in(
            &mut tx,
            encryption_record.id,
            kmk_id,
            archive_der,
            encryption.issued_at,
        )
        .await?;
        tx.commit().await?;
        Ok((signing_record, encryption_record))
    }

    /// Keeps the sealed private key of a certificate whose key pair the CA holds (mobile
    /// products; dual encryption keys are kept with their certificates by
    /// [`Store::insert_dual_certificates`]).
    pub async fn archive_key(
        &self,
        certificate_id: i64,
        kmk_id: &str,
        archive_der: &[u8],
        at: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_key_archive_in(&mut conn, certificate_id, kmk_id, archive_der, at).await
    }

    /// The archived encryption key of a certificate, if it has one.
    pub async fn key_archive(
        &self,
        certificate_id: i64,
    ) -> Result<Option<KeyArchiveRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT certificate_id, kmk_id, archive_der, created_at FROM key_archives \
             WHERE certificate_id = $1",
        )
        .bind(certificate_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(KeyArchiveRecord {
                certificate_id: row.try_get("certificate_id")?,
                kmk_id: row.try_get("kmk_id")?,
                archive_der: row.try_get("archive_der")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("value").map_err(StoreError::from))
            .transpose()
    }

    /// Removes a setting if it holds `value`; answers whether it did.
    pub async fn clear_setting_if(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM settings WHERE name = $1 AND value = $2")
            .bind(name)
            .bind(value)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a root CA's private key from the database (it has been written out to be kept
    /// offline); the certificate stays. Answers whether a key was there.
    pub async fn take_root_key_offline(&self, ca_key_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE ca_keys SET private_key_pem = '' WHERE id = $1 AND role = 'root' \
             AND private_key_pem <> ''",
        )
        .bind(ca_key_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn certificate_by_serial(
        &self,
        serial_hex: &str,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let sql = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE serial_hex = $1");
        let row = sqlx::query(&sql)
            .bind(serial_hex)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    /// The newest certificates first, at most `limit`.
    /// The DER of a certificate we issued.
    pub async fn certificate_der_by_id(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT der FROM certificates WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("der").map_err(StoreError::from))
            .transpose()
    }

    pub async fn certificate_serial_by_id(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT serial_hex FROM certificates WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("serial_hex").map_err(StoreError::from))
            .transpose()
    }

    pub async fn recent_certificates(
        &self,
        limit: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let sql =
            format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates ORDER BY id DESC LIMIT $1");
        let rows = sqlx::query(&sql).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(certificate_from_row).collect()
    }

    pub async fn count_certificates(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM certificates")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Marks a certificate revoked and moves the revocation counter, in one transaction.
    pub async fn revoke_certificate(
        &self,
        serial_hex: &str,
        revoked_at: i64,
        reason: &str,
    ) -> Result<RevokeOutcome, StoreError> {
        let mut tx = self.pool().begin().await?;
        let revoked = revoke_in(&mut tx, serial_hex, revoked_at, reason).await?;
        let sql = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE serial_hex = $1");
        let row = sqlx::query(&sql)
            .bind(serial_hex)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(RevokeOutcome::NotFound);
        };
        let record = certificate_from_row(&row)?;
        Ok(if revoked {
            RevokeOutcome::Revoked(record)
        } else {
            RevokeOutcome::AlreadyRevoked(record)
        })
    }

    /// Every revoked certificate of one issuing CA (for its CRL).
    pub async fn revoked_certificates(
        &self,
        issuer_ca_id: i64,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let sql = format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates \
             WHERE issuer_ca_id = $1 AND revoked_at IS NOT NULL ORDER BY revoked_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(issuer_ca_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(certificate_from_row).collect()
    }

    /// How many revocations have happened, ever. Cheap: one row.
    pub async fn revocation_counter(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT revocation_counter FROM ca_state WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("revocation_counter")?)
    }

    /// The CRL number the next CRL of `algorithm` takes: one more than the highest stored.
    pub async fn next_crl_number(&self, algorithm: &str) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COALESCE(MAX(crl_number), 0) AS n FROM crls WHERE algorithm = $1")
                .bind(algorithm)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get::<i64, _>("n")? + 1)
    }

    /// Stores a CRL. A number already taken (another process signed one at the same moment)
    /// is [`StoreError::Conflict`]`("crl_number")`: the caller takes the next number and signs
    /// again, so numbers stay strictly increasing.
    pub async fn insert_crl(&self, crl: &CrlRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO crls (algorithm, crl_number, this_update, next_update, der) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&crl.algorithm)
        .bind(crl.crl_number)
        .bind(crl.this_update)
        .bind(crl.next_update)
        .bind(&crl.der)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "crl_number"))?;
        Ok(())
    }

    /// The CRL of `algorithm` with the highest number.
    pub async fn latest_crl(&self, algorithm: &str) -> Result<Option<CrlRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT algorithm, crl_number, this_update, next_update, der FROM crls \
             WHERE algorithm = $1 ORDER BY crl_number DESC LIMIT 1",
        )
        .bind(algorithm)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(CrlRecord {
                algorithm: row.try_get("algorithm")?,
                crl_number: row.try_get("crl_number")?,
                this_update: row.try_get("this_update")?,
                next_update: row.try_get("next_update")?,
                der: row.try_get("der")?,
            })
        })
        .transpose()
    }
}
