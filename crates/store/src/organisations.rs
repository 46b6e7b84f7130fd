//! Organisations (suppliers) and the accounts that belong to them.

use crate::accounts::{account_from_row, Account, NewAccount, ACCOUNT_COLUMNS};
use crate::audit::{append_audit_with_change, NewAuditEvent};
use crate::{Store, StoreError};
use certdesk_domain::AuditAction;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    pub credit_code: String,
    pub created_at: i64,
}

fn organisation_from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        credit_code: row.try_get("credit_code")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Registers an organisation with its first admin and the audit entry
    /// (`organisation_registered` on `organisation:<id>`, by the new admin, with `audit_detail`),
    /// all or nothing. A credit code already registered is `Conflict("credit_code")`, a taken
    /// user name `Conflict("username")`.
    pub async fn register_organisation(
        &self,
        name: &str,
        credit_code: &str,
        admin: &NewAccount<'_>,
        audit_detail: &str,
    ) -> Result<(Organisation, Account), StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO organisations (name, credit_code, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, credit_code, created_at",
        )
        .bind(name)
        .bind(credit_code)
        .bind(admin.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "credit_code"))?;
        let organisation = organisation_from_row(&row)?;
        let sql = format!(
            "INSERT INTO accounts (username, display_name, role, org_id, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ACCOUNT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(admin.username)
            .bind(admin.display_name)
            .bind(admin.role.as_str())
            .bind(organisation.id)
            .bind(admin.password_hash)
            .bind(admin.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "username"))?;
        let account = account_from_row(&row)?;
        let object = format!("organisation:{}", organisation.id);
        append_audit_with_change(
            &mut tx,
            &NewAuditEvent {
                at: admin.created_at,
                actor_account_id: Some(account.id),
                actor_label: &account.username,
                org_id: Some(organisation.id),
                action: AuditAction::OrganisationRegistered,
                object: &object,
                detail: audit_detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((organisation, account))
    }

    pub async fn organisation_by_credit_code(
        &self,
        credit_code: &str,
    ) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, credit_code, created_at FROM organisations WHERE credit_code = $1",
        )
        .bind(credit_code.trim().to_ascii_uppercase())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    pub async fn organisation_by_id(&self, id: i64) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, credit_code, created_at FROM organisations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(organisation_from_row).transpose()
    }

    /// The names of the organisations `ids` (each once), in one query: for staff lists that
    /// name every row's applicant (申请单位).
    pub async fn organisation_names(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<std::collections::HashMap<i64, String>, StoreError> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id, name FROM organisations WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("name")?)))
            .collect()
    }

    /// Accounts of one organisation, or the platform's staff (`None`), oldest first.
    pub async fn accounts_of(&self, org_id: Option<i64>) -> Result<Vec<Account>, StoreError> {
        let sql = match org_id {
            Some(_) => {
                format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE org_id = $1 ORDER BY id")
            }
            None => {
                format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE org_id IS NULL ORDER BY id")
            }
        };
        let mut query = sqlx::query(&sql);
        if let Some(org_id) = org_id {
            query = query.bind(org_id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(account_from_row).collect()
    }
}
