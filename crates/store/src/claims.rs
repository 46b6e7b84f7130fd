//! 单位认领: claims to a registered credit code, and their decision (see
//! `certdesk_domain::claim`). Approval hands the organisation over in one transaction.

use crate::accounts::{account_from_row, Account, ACCOUNT_COLUMNS};
use crate::audit::{append_audit_with_change, AuditNote};
use crate::{Store, StoreError};
use certdesk_domain::{AuditAction, ClaimStatus, Role};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A claim as stored. `claimant_mobile` is sealed; the server opens it for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationClaim {
    pub id: i64,
    pub org_id: i64,
    pub organisation_name: String,
    pub claimant_name: String,
    pub claimant_mobile: String,
    pub statement: String,
    pub username: String,
    pub licence_blob: String,
    pub letter_blob: String,
    pub status: ClaimStatus,
    pub reject_reason: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub new_account_id: Option<i64>,
    pub created_at: i64,
}

/// What a claimant files.
pub struct NewOrganisationClaim<'a> {
    pub org_id: i64,
    pub organisation_name: &'a str,
    pub claimant_name: &'a str,
    pub claimant_mobile_sealed: &'a str,
    pub statement: &'a str,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub licence_blob: &'a str,
    pub letter_blob: &'a str,
    pub query_code_hash: &'a str,
    pub created_at: i64,
}

/// What an approval did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHandover {
    pub claim: OrganisationClaim,
    pub new_admin: Account,
    /// The earlier accounts of the organisation, now disabled.
    pub disabled_accounts: u64,
}

const CLAIM_COLUMNS: &str = "id, org_id, organisation_name, claimant_name, claimant_mobile, \
     statement, username, licence_blob, letter_blob, status, reject_reason, decided_by, \
     decided_at, new_account_id, created_at";

fn claim_from_row(row: &AnyRow) -> Result<OrganisationClaim, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(OrganisationClaim {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        organisation_name: row.try_get("organisation_name")?,
        claimant_name: row.try_get("claimant_name")?,
        claimant_mobile: row.try_get("claimant_mobile")?,
        statement: row.try_get("statement")?,
        username: row.try_get("username")?,
        licence_blob: row.try_get("licence_blob")?,
        letter_blob: row.try_get("letter_blob")?,
        status: ClaimStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("claim status {status}")))?,
        reject_reason: row.try_get("reject_reason")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        new_account_id: row.try_get("new_account_id")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A unique index refused a claim: the user name asked for, or the organisation's open claim.
fn claim_conflict(err: sqlx::Error) -> StoreError {
    let username = matches!(&err, sqlx::Error::Database(db)
        if db.is_unique_violation() && db.message().contains("username"));
    if username {
        return StoreError::Conflict("username");
    }
    StoreError::conflict_on_unique(err, "pending_claim")
}

impl Store {
    /// Files a claim with its audit entry (`organisation_claim_filed` on `organisation:<id>`).
    /// A user name taken by an account or by another open claim is `Conflict("username")`; an
    /// organisation with an open claim is `Conflict("pending_claim")`.
    pub async fn file_organisation_claim(
        &self,
        claim: &NewOrganisationClaim<'_>,
        audit: &AuditNote<'_>,
    ) -> Result<OrganisationClaim, StoreError> {
        // Read before the transaction: a transaction that reads and then writes cannot take
        // SQLite's write lock when another writer went first. A name taken after this check
        // is caught by the approval, whose account insert meets the unique index.
        let taken = sqlx::query("SELECT id FROM accounts WHERE username = $1")
            .bind(claim.username)
            .fetch_optional(self.pool())
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict("username"));
        }
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "INSERT INTO organisation_claims (org_id, organisation_name, claimant_name, \
             claimant_mobile, statement, username, password_hash, licence_blob, letter_blob, \
             query_code_hash, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) \
             RETURNING {CLAIM_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(claim.org_id)
            .bind(claim.organisation_name)
            .bind(claim.claimant_name)
            .bind(claim.claimant_mobile_sealed)
            .bind(claim.statement)
            .bind(claim.username)
            .bind(claim.password_hash)
            .bind(claim.licence_blob)
            .bind(claim.letter_blob)
            .bind(claim.query_code_hash)
            .bind(claim.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(claim_conflict)?;
        let filed = claim_from_row(&row)?;
        let object = format!("organisation:{}", claim.org_id);
        append_audit_with_change(
            &mut tx,
            &AuditNote {
                org_id: Some(claim.org_id),
                ..*audit
            }
            .event(AuditAction::OrganisationClaimFiled, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(filed)
    }

    pub async fn organisation_claim(
        &self,
        id: i64,
    ) -> Result<Option<OrganisationClaim>, StoreError> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM organisation_claims WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(claim_from_row).transpose()
    }

    /// The claim a query code was given for (by the code's hash).
    pub async fn organisation_claim_by_query_code(
        &self,
        query_code_hash: &str,
    ) -> Result<Option<OrganisationClaim>, StoreError> {
        let sql =
            format!("SELECT {CLAIM_COLUMNS} FROM organisation_claims WHERE query_code_hash = $1");
        let row = sqlx::query(&sql)
            .bind(query_code_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(claim_from_row).transpose()
    }

    /// Claims, open ones first (oldest first: they have waited longest), then the decided ones
    /// newest first; at most `limit`.
    pub async fn organisation_claims(
        &self,
        limit: i64,
    ) -> Result<Vec<OrganisationClaim>, StoreError> {
        let sql = format!(
            "SELECT {CLAIM_COLUMNS} FROM organisation_claims \
             ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, \
             CASE WHEN status = 'pending' THEN created_at ELSE -created_at END, id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(claim_from_row).collect()
    }

    /// Approves an open claim, all or nothing: the claim decided, an admin account for the
    /// claimant, every earlier account of the organisation disabled with its sessions ended
    /// and API tokens revoked, the organisation renamed as on its licence, and the audit
    /// entry. `None` when the claim was no longer open (decided by someone else meanwhile); a
    /// user name taken since filing is `Conflict("username")` and changes nothing.
    pub async fn approve_organisation_claim(
        &self,
        id: i64,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<Option<ClaimHandover>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let decided = sqlx::query(
            "UPDATE organisation_claims SET status = 'approved', decided_by = $1, \
             decided_at = $2 WHERE id = $3 AND status = 'pending'",
        )
        .bind(audit.actor_account_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if decided.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT org_id, organisation_name, claimant_name, username, password_hash \
             FROM organisation_claims WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let org_id: i64 = row.try_get("org_id")?;
        let username: String = row.try_get("username")?;
        let earlier: Vec<i64> = sqlx::query("SELECT id FROM accounts WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let sql = format!(
            "INSERT INTO accounts (username, display_name, role, org_id, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ACCOUNT_COLUMNS}"
        );
        let new_admin = sqlx::query(&sql)
            .bind(&username)
            .bind(row.try_get::<String, _>("claimant_name")?)
            .bind(Role::OrgAdmin.as_str())
            .bind(org_id)
            .bind(row.try_get::<String, _>("password_hash")?)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_on_unique(e, "username"))?;
        let new_admin = account_from_row(&new_admin)?;
        let mut disabled_accounts = 0;
        for account_id in &earlier {
            disabled_accounts += sqlx::query("UPDATE accounts SET disabled = 1 WHERE id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            crate::accounts::end_sessions_and_tokens(&mut tx, *account_id, None, now).await?;
        }
        sqlx::query("UPDATE organisations SET name = $1 WHERE id = $2")
            .bind(row.try_get::<String, _>("organisation_name")?)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE organisation_claims SET new_account_id = $1 WHERE id = $2")
            .bind(new_admin.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let object = format!("organisation:{org_id}");
        let detail = format!(
            "{} 新管理员 {username}，停用原有账户 {disabled_accounts} 个",
            certdesk_domain::claim::claim_number(id)
        );
        append_audit_with_change(
            &mut tx,
            &AuditNote {
                org_id: Some(org_id),
                detail: &detail,
                ..*audit
            }
            .event(AuditAction::OrganisationClaimApproved, &object),
        )
        .await?;
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM organisation_claims WHERE id = $1");
        let claim = claim_from_row(&sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await?)?;
        tx.commit().await?;
        Ok(Some(ClaimHandover {
            claim,
            new_admin,
            disabled_accounts,
        }))
    }

    /// Rejects an open claim with the reason the claimant will read; answers false when it
    /// was no longer open.
    pub async fn reject_organisation_claim(
        &self,
        id: i64,
        reason: &str,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE organisation_claims SET status = 'rejected', reject_reason = $1, \
             decided_by = $2, decided_at = $3 WHERE id = $4 AND status = 'pending' \
             RETURNING org_id",
        )
        .bind(reason)
        .bind(audit.actor_account_id)
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let org_id: i64 = row.try_get("org_id")?;
        let object = format!("organisation:{org_id}");
        let detail = format!("{} {reason}", certdesk_domain::claim::claim_number(id));
        append_audit_with_change(
            &mut tx,
            &AuditNote {
                org_id: Some(org_id),
                detail: &detail,
                ..*audit
            }
            .event(AuditAction::OrganisationClaimRejected, &object),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
