//! The outbox (issue 15): mail and SMS to send, written with the event they announce
//! ([`enqueue_in`] inside its transaction), leased by delivery workers in batches — PostgreSQL
//! skips rows another worker holds (`FOR UPDATE SKIP LOCKED`), so several server processes
//! share one outbox; SQLite has one writer, so one worker — tried again with backoff
//! (`certdesk_domain::outbox`), and kept as a dead letter after the last try until staff retry.
//!
//! A try is counted when the message is leased, before it is sent: a worker killed while
//! sending has spent it, and the lease runs out for another to take over.

use crate::audit::{append_audit_with_change, AuditNote};
use crate::{Engine, Store, StoreError};
use certdesk_domain::outbox::retry_at;
use certdesk_domain::AuditAction;
use sqlx::any::AnyRow;
use sqlx::Row;

/// How a message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    fn parse(stored: &str) -> Result<Channel, StoreError> {
        match stored {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            other => Err(StoreError::Corrupt(format!("outbox channel {other}"))),
        }
    }
}

/// A message to send.
pub struct NewOutboxMessage<'a> {
    pub channel: Channel,
    /// What it announces (the template's name).
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// (blob key, file name) of an attachment in the blob store.
    pub attachment: Option<(&'a str, &'a str)>,
    /// One message per event: enqueued again under the same key, nothing more is sent.
    pub dedupe_key: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: Channel,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attachment_blob: Option<String>,
    pub attachment_name: Option<String>,
    pub dedupe_key: String,
    pub created_at: i64,
    /// Tries so far, the one being made included once leased.
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub sent_at: Option<i64>,
    pub dead_at: Option<i64>,
    pub last_error: Option<String>,
}

/// What became of a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedTry {
    /// Tried again at this time.
    RetryAt(i64),
    /// That was the last try: a dead letter now.
    Dead,
    /// The message is not this worker's (its lease ran out and another took it), or is done.
    NotHeld,
}

const COLUMNS: &str = "id, channel, kind, recipient, subject, body, attachment_blob, \
    attachment_name, dedupe_key, created_at, attempts, next_attempt_at, sent_at, dead_at, last_error";

fn message_of(row: &AnyRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: row.try_get("id")?,
        channel: Channel::parse(&row.try_get::<String, _>("channel")?)?,
        kind: row.try_get("kind")?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        attachment_blob: row.try_get("attachment_blob")?,
        attachment_name: row.try_get("attachment_name")?,
        dedupe_key: row.try_get("dedupe_key")?,
        created_at: row.try_get("created_at")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        sent_at: row.try_get("sent_at")?,
        dead_at: row.try_get("dead_at")?,
        last_error: row.try_get("last_error")?,
    })
}

/// Adds `message` to the outbox inside the caller's transaction (the event it announces is
/// written in the same one); `false` when its dedupe key was enqueued before.
pub(crate) async fn enqueue_in(
    conn: &mut sqlx::AnyConnection,
    message: &NewOutboxMessage<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let (blob, name) = message.attachment.unzip();
    let inserted = sqlx::query(
        "INSERT INTO outbox (channel, kind, recipient, subject, body, attachment_blob, \
         attachment_name, dedupe_key, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(message.channel.as_str())
    .bind(message.kind)
    .bind(message.recipient)
    .bind(message.subject)
    .bind(message.body)
    .bind(blob)
    .bind(name)
    .bind(message.dedupe_key)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

impl Store {
    /// Adds `message` to the outbox on its own; `false` when its dedupe key was enqueued before.
    pub async fn enqueue(
        &self,
        message: &NewOutboxMessage<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        enqueue_in(&mut conn, message, now).await
    }

    /// Leases up to `limit` messages of `channel` due at `now` to `owner` until `now +
    /// lease_secs`, counting the try: those not sent, not dead, due, and not held by another
    /// worker's live lease.
    pub async fn lease_outbox(
        &self,
        channel: Channel,
        owner: &str,
        now: i64,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // PostgreSQL: rows another worker is leasing right now are skipped, not waited for.
        let skip_locked = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE channel = $5 AND sent_at IS NULL \
                AND dead_at IS NULL AND next_attempt_at <= $3 \
                AND (lease_until IS NULL OR lease_until <= $3) \
                ORDER BY id LIMIT $4{skip_locked}) \
             RETURNING {COLUMNS}"
        ))
        .bind(owner)
        .bind(now + lease_secs)
        .bind(now)
        .bind(limit)
        .bind(channel.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut leased = rows.iter().map(message_of).collect::<Result<Vec<_>, _>>()?;
        leased.sort_by_key(|m| m.id);
        Ok(leased)
    }

    /// Marks a leased message sent; `false` when `owner` no longer holds it.
    pub async fn mark_outbox_sent(
        &self,
        id: i64,
        owner: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let marked = sqlx::query(
            "UPDATE outbox SET sent_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL \
             WHERE id = $2 AND lease_owner = $3 AND sent_at IS NULL AND dead_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(marked == 1)
    }

    /// Records a failed try of a leased message: tried again later with backoff, or, after the
    /// last try, a dead letter.
    pub async fn mark_outbox_failed(
        &self,
        id: i64,
        owner: &str,
        now: i64,
        error: &str,
    ) -> Result<FailedTry, StoreError> {
        let mut tx = self.pool().begin().await?;
        let attempts: Option<i64> = sqlx::query(
            "SELECT attempts FROM outbox WHERE id = $1 AND lease_owner = $2 \
             AND sent_at IS NULL AND dead_at IS NULL",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| row.try_get("attempts"))
        .transpose()?;
        let Some(attempts) = attempts else {
            return Ok(FailedTry::NotHeld);
        };
        let error: String = error.chars().take(500).collect();
        // Tried again at its time, or dead now: one of the two columns is set.
        let (outcome, next_attempt_at, dead_at) = match retry_at(attempts, now) {
            Some(at) => (FailedTry::RetryAt(at), Some(at), None),
            None => (FailedTry::Dead, None, Some(now)),
        };
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = COALESCE($1, next_attempt_at), dead_at = $2, \
             lease_owner = NULL, lease_until = NULL, last_error = $3 \
             WHERE id = $4 AND lease_owner = $5",
        )
        .bind(next_attempt_at)
        .bind(dead_at)
        .bind(&error)
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The dead letters, newest first.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<OutboxMessage>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(message_of)
        .collect()
    }

    pub async fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(message_of)
            .transpose()
    }

    /// Staff send a dead letter again: its tries start over, due now; audited. `false` when it
    /// is not a dead letter (retried by someone else meanwhile).
    pub async fn retry_dead_letter(
        &self,
        id: i64,
        now: i64,
        audit: &AuditNote<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let revived = sqlx::query(
            "UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND dead_at IS NOT NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revived != 1 {
            return Ok(false);
        }
        append_audit_with_change(
            &mut tx,
            &audit.event(AuditAction::OutboxRetried, &format!("outbox:{id}")),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
