//! The audit log: appending chained entries, the staff search, and reading the whole chain for
//! verification. The hashing rules are `certdesk_domain::audit`'s; this module only stores.

use crate::{Store, StoreError};
use certdesk_domain::{entry_hash, AuditAction, AuditFields, GENESIS_PREV_HASH};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An entry as stored. The action stays the stored text so that a tampered row is still read
/// (and then named by verification) instead of failing to load.
pub use certdesk_domain::AuditEntry as AuditEvent;

/// Who made a change and when, for the audit entry a store call writes in the change's own
/// transaction (the call names the action and the object).
#[derive(Debug, Clone, Copy)]
pub struct AuditNote<'a> {
    pub at: i64,
    pub actor_account_id: Option<i64>,
    pub actor_label: &'a str,
    pub org_id: Option<i64>,
    pub detail: &'a str,
}

impl<'a> AuditNote<'a> {
    /// A change the system makes of itself (first start, scheduled jobs), at `at`.
    pub fn system(at: i64, detail: &'a str) -> Self {
        AuditNote {
            at,
            actor_account_id: None,
            actor_label: "system",
            org_id: None,
            detail,
        }
    }

    /// The entry for `action` on `object`.
    pub fn event(&self, action: AuditAction, object: &'a str) -> NewAuditEvent<'a> {
        NewAuditEvent {
            at: self.at,
            actor_account_id: self.actor_account_id,
            actor_label: self.actor_label,
            org_id: self.org_id,
            action,
            object,
            detail: self.detail,
        }
    }
}

/// A seal of the chain's head: entry `sequence` had `hash` at `sealed_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSeal {
    pub sealed_at: i64,
    pub sequence: i64,
    pub hash: String,
    pub seal: String,
}

/// What a caller records; the store adds the sequence number and the hashes.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    /// Unix seconds.
    pub at: i64,
    pub actor_account_id: Option<i64>,
    /// A user name, or e.g. `cli` for operator commands.
    pub actor_label: &'a str,
    pub org_id: Option<i64>,
    pub action: AuditAction,
    /// What was acted on, e.g. `certificate:5a3f…`.
    pub object: &'a str,
    /// Usually JSON. Personal data must already be masked (`certdesk_domain::mask_*`).
    pub detail: &'a str,
}

/// The staff search: every filter is optional; results come newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action: Option<AuditAction>,
    /// The acting account's id.
    pub actor: Option<i64>,
    pub org_id: Option<i64>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Page size, clamped to 1..=[`MAX_AUDIT_PAGE`].
    pub limit: i64,
    /// Only entries older than this sequence number: the next page after the last one shown.
    pub before_sequence: Option<i64>,
}

/// The most entries one query answers.
pub const MAX_AUDIT_PAGE: i64 = 1000;

/// Appends retry this often when another writer chained to the same entry first.
const APPEND_ATTEMPTS: u32 = 8;

const AUDIT_COLUMNS: &str = "sequence, at, actor_account_id, actor_label, org_id, action, \
     object, detail, prev_hash, hash";

fn audit_event_from_row(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        sequence: row.try_get("sequence")?,
        at: row.try_get("at")?,
        actor_account_id: row.try_get("actor_account_id")?,
        actor_label: row.try_get("actor_label")?,
        org_id: row.try_get("org_id")?,
        action: row.try_get("action")?,
        object: row.try_get("object")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Whether an append lost a race for the same sequence number or previous hash.
pub(crate) enum AppendError {
    Raced,
    Failed(StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => AppendError::Raced,
            _ => AppendError::Failed(StoreError::Database(err)),
        }
    }
}

impl From<StoreError> for AppendError {
    fn from(err: StoreError) -> Self {
        AppendError::Failed(err)
    }
}

impl Store {
    /// Appends an entry chained to the last one, in one transaction. Concurrent appends are
    /// serialised by a lock row; should one still find its place taken (the unique
    /// sequence/previous hash), it reads the new last entry and tries again.
    pub async fn append_audit(&self, new: &NewAuditEvent<'_>) -> Result<AuditEvent, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_append_audit(new).await {
                Ok(event) => return Ok(event),
                // No pause needed: the loser's insert waited for the winner's commit, so the
                // next attempt reads the new last entry.
                Err(AppendError::Raced) if attempt < APPEND_ATTEMPTS => {
                    tracing::debug!(attempt, "audit append raced; retrying");
                }
                Err(AppendError::Raced) => return Err(StoreError::Conflict("audit entry")),
                Err(AppendError::Failed(err)) => return Err(err),
            }
        }
    }

    async fn try_append_audit(&self, new: &NewAuditEvent<'_>) -> Result<AuditEvent, AppendError> {
        let mut tx = self.pool().begin().await?;
        let event = append_audit_in(&mut tx, new).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// The staff search, newest first.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        enum Param {
            Int(i64),
            Text(&'static str),
        }
        let mut tests: Vec<(&str, Param)> = Vec::new();
        if let Some(action) = query.action {
            tests.push(("action =", Param::Text(action.as_str())));
        }
        if let Some(actor) = query.actor {
            tests.push(("actor_account_id =", Param::Int(actor)));
        }
        if let Some(org) = query.org_id {
            tests.push(("org_id =", Param::Int(org)));
        }
        if let Some(since) = query.since {
            tests.push(("at >=", Param::Int(since)));
        }
        if let Some(until) = query.until {
            tests.push(("at <", Param::Int(until)));
        }
        if let Some(before) = query.before_sequence {
            tests.push(("sequence <", Param::Int(before)));
        }
        let conditions: Vec<String> = tests
            .iter()
            .enumerate()
            .map(|(i, (test, _))| format!("{test} ${}", i + 1))
            .collect();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events {where_clause} \
             ORDER BY sequence DESC LIMIT ${}",
            tests.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for (_, param) in tests {
            q = match param {
                Param::Int(n) => q.bind(n),
                Param::Text(t) => q.bind(t),
            };
        }
        let rows = q
            .bind(query.limit.clamp(1, MAX_AUDIT_PAGE))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(audit_event_from_row).collect()
    }

    /// Up to `limit` entries after sequence `after`, oldest first: one page of the chain, so
    /// that a long log is verified without holding it all in memory.
    pub async fn audit_chain_page(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE sequence > $1 \
             ORDER BY sequence LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit.clamp(1, MAX_AUDIT_PAGE))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(audit_event_from_row).collect()
    }

    /// The chain's head: the last entry's sequence and hash, `None` while the log is empty.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let row =
            sqlx::query("SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        row.map(|row| Ok((row.try_get("sequence")?, row.try_get("hash")?)))
            .transpose()
    }

    /// Keeps a seal of the chain's head (made in the CA zone).
    pub async fn add_audit_seal(&self, seal: &AuditSeal) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_seals (sealed_at, sequence, hash, seal) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sequence, sealed_at) DO NOTHING",
        )
        .bind(seal.sealed_at)
        .bind(seal.sequence)
        .bind(&seal.hash)
        .bind(&seal.seal)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every seal, in the order of the entries they seal.
    pub async fn audit_seals(&self) -> Result<Vec<AuditSeal>, StoreError> {
        let rows = sqlx::query(
            "SELECT sealed_at, sequence, hash, seal FROM audit_seals ORDER BY sequence, sealed_at",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditSeal {
                    sealed_at: row.try_get("sealed_at")?,
                    sequence: row.try_get("sequence")?,
                    hash: row.try_get("hash")?,
                    seal: row.try_get("seal")?,
                })
            })
            .collect()
    }

    /// Every entry in sequence order, for verification.
    pub async fn audit_chain(&self) -> Result<Vec<AuditEvent>, StoreError> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map_or(0, |e: &AuditEvent| e.sequence);
            let page = self.audit_chain_page(after, MAX_AUDIT_PAGE).await?;
            let done = (page.len() as i64) < MAX_AUDIT_PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}

/// Appends an entry inside the caller's transaction, so that the entry and the change it
/// records commit together or not at all. The lock row serialises appenders; the caller takes
/// it last (after its own writes), so a change and its entry never wait on each other in the
/// other order.
pub(crate) async fn append_audit_in(
    conn: &mut sqlx::AnyConnection,
    new: &NewAuditEvent<'_>,
) -> Result<AuditEvent, AppendError> {
    // Writing first takes the lock before reading the last entry: on SQLite a transaction
    // that read first could not write afterwards once another had written.
    sqlx::query("UPDATE audit_append_lock SET id = 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    let last =
        sqlx::query("SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (sequence, prev_hash) = match last {
        Some(row) => (
            row.try_get::<i64, _>("sequence")? + 1,
            row.try_get::<String, _>("hash")?,
        ),
        None => (1, GENESIS_PREV_HASH.to_string()),
    };
    let fields = AuditFields {
        sequence,
        at: new.at,
        actor_account_id: new.actor_account_id,
        actor_label: new.actor_label,
        org_id: new.org_id,
        action: new.action.as_str(),
        object: new.object,
        detail: new.detail,
    };
    let hash = entry_hash(&prev_hash, &fields);
    let sql = format!(
        "INSERT INTO audit_events ({AUDIT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {AUDIT_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(sequence)
        .bind(new.at)
        .bind(new.actor_account_id)
        .bind(new.actor_label)
        .bind(new.org_id)
        .bind(new.action.as_str())
        .bind(new.object)
        .bind(new.detail)
        .bind(&prev_hash)
        .bind(&hash)
        .fetch_one(&mut *conn)
        .await?;
    Ok(audit_event_from_row(&row)?)
}

/// [`append_audit_in`] for callers inside a larger transaction: a lost race (which the lock row
/// prevents) is a conflict that rolls the whole change back.
pub(crate) async fn append_audit_with_change(
    conn: &mut sqlx::AnyConnection,
    new: &NewAuditEvent<'_>,
) -> Result<AuditEvent, StoreError> {
    append_audit_in(conn, new).await.map_err(|err| match err {
        AppendError::Raced => StoreError::Conflict("audit entry"),
        AppendError::Failed(err) => err,
    })
}
