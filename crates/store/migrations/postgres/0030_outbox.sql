-- The outbox (issue 15): what is to be sent by mail or SMS, written in the same transaction as
-- the event it announces, delivered by a worker that leases a batch (PostgreSQL: FOR UPDATE
-- SKIP LOCKED, so several server processes share it; SQLite: one worker), with retries and
-- backoff, and a dead letter after the last try for staff to retry.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    -- 'email' or 'sms'.
    channel         TEXT    NOT NULL,
    -- What it announces (a template's name), for the staff list and the templates.
    kind            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    -- An attachment in the blob store (content hash) and the name it is sent under.
    attachment_blob TEXT,
    attachment_name TEXT,
    -- One message per event: a second enqueue of the same key is ignored.
    dedupe_key      TEXT    NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- The worker holding it, until when (a lease, taken over once it has run out).
    lease_owner     TEXT,
    lease_until     BIGINT,
    sent_at         BIGINT,
    dead_at         BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead ON outbox(dead_at) WHERE dead_at IS NOT NULL;
