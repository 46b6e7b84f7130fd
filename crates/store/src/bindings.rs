//! CA providers, the CA certificates we recognise for them, and certificates bound to
//! accounts (CA绑定与解绑).

use crate::audit::append_audit_with_change;
use crate::{AuditNote, Store, StoreError};
use certdesk_domain::AuditAction;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaProvider {
    pub id: i64,
    pub name: String,
    pub hotline: String,
    pub online_apply: bool,
    pub binding_needs_pin: bool,
    /// `ukey`, `mobile`.
    pub media: Vec<String>,
    pub operated_here: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCa {
    pub id: i64,
    pub provider_id: i64,
    pub subject: String,
    pub fingerprint: String,
    pub certificate_der: Vec<u8>,
    pub not_after: i64,
    pub created_at: i64,
}

/// A foreign CA's CRL as last fetched from `url` (its signature was checked before it was kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignCrl {
    pub url: String,
    pub provider_ca_id: i64,
    pub der: Vec<u8>,
    pub this_update: i64,
    pub next_update: i64,
    pub fetched_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewProviderCa<'a> {
    pub provider_id: i64,
    pub subject: &'a str,
    pub fingerprint: &'a str,
    pub certificate_der: &'a [u8],
    pub not_after: i64,
    pub created_at: i64,
}

/// A binding as the list shows it, with the account's and the binder's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub id: i64,
    pub account_id: i64,
    pub account_username: String,
    pub account_name: String,
    pub org_id: i64,
    pub provider_id: i64,
    pub provider_name: String,
    pub fingerprint: String,
    pub serial_hex: String,
    pub key_id: String,
    pub subject_name: String,
    pub not_after: i64,
    pub certificate_der: Vec<u8>,
    pub bound_by: i64,
    pub bound_by_name: String,
    pub bound_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewBinding<'a> {
    pub account_id: i64,
    pub org_id: i64,
    pub provider_id: i64,
    pub fingerprint: &'a str,
    pub serial_hex: &'a str,
    pub key_id: &'a str,
    pub subject_name: &'a str,
    pub not_after: i64,
    pub certificate_der: &'a [u8],
    pub bound_by: i64,
    pub bound_at: i64,
}

/// Which bindings to list.
#[derive(Debug, Clone, Default)]
pub struct BindingFilter<'a> {
    pub org_id: Option<i64>,
    pub account_id: Option<i64>,
    /// Part of the account's user name (账户).
    pub username_contains: Option<&'a str>,
    /// Part of the account holder's name (姓名).
    pub name_contains: Option<&'a str>,
}

const PROVIDER_COLUMNS: &str =
    "id, name, hotline, online_apply, binding_needs_pin, media, operated_here";
const BINDING_SELECT: &str = "SELECT b.id, b.account_id, a.username AS account_username, \
     a.display_name AS account_name, b.org_id, b.provider_id, p.name AS provider_name, \
     b.fingerprint, b.serial_hex, b.key_id, b.subject_name, b.not_after, b.certificate_der, \
     b.bound_by, binder.display_name AS bound_by_name, b.bound_at \
     FROM bindings b JOIN accounts a ON a.id = b.account_id \
     JOIN accounts binder ON binder.id = b.bound_by JOIN ca_providers p ON p.id = b.provider_id";

fn provider_from_row(row: &AnyRow) -> Result<CaProvider, StoreError> {
    let media: String = row.try_get("media")?;
    Ok(CaProvider {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        hotline: row.try_get("hotline")?,
        online_apply: row.try_get::<i64, _>("online_apply")? != 0,
        binding_needs_pin: row.try_get::<i64, _>("binding_needs_pin")? != 0,
        media: media
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        operated_here: row.try_get::<i64, _>("operated_here")? != 0,
    })
}

fn binding_from_row(row: &AnyRow) -> Result<Binding, StoreError> {
    Ok(Binding {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        account_username: row.try_get("account_username")?,
        account_name: row.try_get("account_name")?,
        org_id: row.try_get("org_id")?,
        provider_id: row.try_get("provider_id")?,
        provider_name: row.try_get("provider_name")?,
        fingerprint: row.try_get("fingerprint")?,
        serial_hex: row.try_get("serial_hex")?,
        key_id: row.try_get("key_id")?,
        subject_name: row.try_get("subject_name")?,
        not_after: row.try_get("not_after")?,
        certificate_der: row.try_get("certificate_der")?,
        bound_by: row.try_get("bound_by")?,
        bound_by_name: row.try_get("bound_by_name")?,
        bound_at: row.try_get("bound_at")?,
    })
}

/// `%text%` for LIKE, with LIKE's own wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// Every provider, in the order of guide 002 (this installation's own first).
    pub async fn ca_providers(&self) -> Result<Vec<CaProvider>, StoreError> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM ca_providers ORDER BY sort_order, id");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(provider_from_row).collect()
    }

    pub async fn ca_provider_by_name(&self, name: &str) -> Result<Option<CaProvider>, StoreError> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM ca_providers WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(provider_from_row).transpose()
    }

    /// Adds a recognised CA certificate, with its audit entry (`ca_provider_ca_imported` on
    /// `provider:<id>`, naming the subject) in the same transaction; the same certificate twice
    /// is `Conflict("fingerprint")`.
    pub async fn add_provider_ca(
        &self,
        new: &NewProviderCa<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<ProviderCa, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO provider_cas (provider_id, subject, fingerprint, certificate_der, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, provider_id, subject, fingerprint, certificate_der, not_after, created_at",
        )
        .bind(new.provider_id)
        .bind(new.subject)
        .bind(new.fingerprint)
        .bind(new.certificate_der)
        .bind(new.not_after)
        .bind(new.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "fingerprint"))?;
        let imported = provider_ca_from_row(&row)?;
        let object = format!("provider:{}", new.provider_id);
        let detail = format!("CA证书 {}", new.subject);
        append_audit_with_change(
            &mut tx,
            &AuditNote {
                detail: &detail,
                ..*audit
            }
            .event(AuditAction::CaProviderCaImported, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(imported)
    }

    /// Every imported CA certificate.
    pub async fn provider_cas(&self) -> Result<Vec<ProviderCa>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, provider_id, subject, fingerprint, certificate_der, not_after, created_at \
             FROM provider_cas ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(provider_ca_from_row).collect()
    }

    /// The CRL last kept for a distribution point.
    pub async fn foreign_crl(&self, url: &str) -> Result<Option<ForeignCrl>, StoreError> {
        let row = sqlx::query(
            "SELECT url, provider_ca_id, der, this_update, next_update, fetched_at \
             FROM foreign_crls WHERE url = $1",
        )
        .bind(url)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(ForeignCrl {
                url: r.try_get("url")?,
                provider_ca_id: r.try_get("provider_ca_id")?,
                der: r.try_get("der")?,
                this_update: r.try_get("this_update")?,
                next_update: r.try_get("next_update")?,
                fetched_at: r.try_get("fetched_at")?,
            })
        })
        .transpose()
    }

    /// Keeps a fetched CRL for its distribution point. An older CRL than the one kept (an
    /// earlier thisUpdate: a replay, or a lagging mirror) does not replace it, so a revocation
    /// once seen stays seen; answers whether `crl` is now the one kept.
    pub async fn keep_foreign_crl(&self, crl: &ForeignCrl) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO foreign_crls (url, provider_ca_id, der, this_update, next_update, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (url) DO UPDATE SET provider_ca_id = excluded.provider_ca_id, \
             der = excluded.der, this_update = excluded.this_update, \
             next_update = excluded.next_update, fetched_at = excluded.fetched_at \
             WHERE excluded.this_update >= foreign_crls.this_update",
        )
        .bind(&crl.url)
        .bind(crl.provider_ca_id)
        .bind(&crl.der)
        .bind(crl.this_update)
        .bind(crl.next_update)
        .bind(crl.fetched_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Binds a certificate; a certificate bound already is `Conflict("certificate")`.
    /// Binds a certificate, with its `certificate_bound` audit entry in the same transaction.
    pub async fn create_binding(
        &self,
        new: &NewBinding<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<Binding, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO bindings (account_id, org_id, provider_id, fingerprint, serial_hex, key_id, \
             subject_name, not_after, certificate_der, bound_by, bound_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(new.account_id)
        .bind(new.org_id)
        .bind(new.provider_id)
        .bind(new.fingerprint)
        .bind(new.serial_hex)
        .bind(new.key_id)
        .bind(new.subject_name)
        .bind(new.not_after)
        .bind(new.certificate_der)
        .bind(new.bound_by)
        .bind(new.bound_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "certificate"))?;
        let id: i64 = row.try_get("id")?;
        let object = format!("binding:{id}");
        append_audit_with_change(
            &mut tx,
            &audit.event(AuditAction::CertificateBound, &object),
        )
        .await?;
        tx.commit().await?;
        self.binding_by_id(id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("binding vanished after insert".into()))
    }

    pub async fn binding_by_id(&self, id: i64) -> Result<Option<Binding>, StoreError> {
        let sql = format!("{BINDING_SELECT} WHERE b.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(binding_from_row).transpose()
    }

    pub async fn binding_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<Binding>, StoreError> {
        let sql = format!("{BINDING_SELECT} WHERE b.fingerprint = $1");
        let row = sqlx::query(&sql)
            .bind(fingerprint)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(binding_from_row).transpose()
    }

    /// Bindings matching a filter, newest first.
    pub async fn bindings(&self, filter: &BindingFilter<'_>) -> Result<Vec<Binding>, StoreError> {
        let mut sql = format!("{BINDING_SELECT} WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.org_id.is_some() {
            sql.push_str(&format!(" AND b.org_id = ${}", next()));
        }
        if filter.account_id.is_some() {
            sql.push_str(&format!(" AND b.account_id = ${}", next()));
        }
        if filter.username_contains.is_some() {
            sql.push_str(&format!(" AND a.username LIKE ${} ESCAPE '\\'", next()));
        }
        if filter.name_contains.is_some() {
            sql.push_str(&format!(" AND a.display_name LIKE ${} ESCAPE '\\'", next()));
        }
        sql.push_str(" ORDER BY b.id DESC");
        let mut query = sqlx::query(&sql);
        if let Some(org_id) = filter.org_id {
            query = query.bind(org_id);
        }
        if let Some(account_id) = filter.account_id {
            query = query.bind(account_id);
        }
        if let Some(text) = filter.username_contains {
            query = query.bind(contains_pattern(text));
        }
        if let Some(text) = filter.name_contains {
            query = query.bind(contains_pattern(text));
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(binding_from_row).collect()
    }

    /// Removes a binding; answers whether it existed.
    /// Unbinds a certificate, with its `certificate_unbound` audit entry in the same
    /// transaction; answers whether it was bound.
    pub async fn delete_binding(&self, id: i64, audit: &AuditNote<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM bindings WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let object = format!("binding:{id}");
        append_audit_with_change(
            &mut tx,
            &audit.event(AuditAction::CertificateUnbound, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn provider_ca_from_row(row: &AnyRow) -> Result<ProviderCa, StoreError> {
    Ok(ProviderCa {
        id: row.try_get("id")?,
        provider_id: row.try_get("provider_id")?,
        subject: row.try_get("subject")?,
        fingerprint: row.try_get("fingerprint")?,
        certificate_der: row.try_get("certificate_der")?,
        not_after: row.try_get("not_after")?,
        created_at: row.try_get("created_at")?,
    })
}
