-- The audit log: append-only, each entry chained to the one before by its hash (see
-- certdesk_domain::audit). Times are Unix seconds (UTC).
CREATE TABLE audit_events (
    -- Assigned as the last sequence + 1 inside the appending transaction (not AUTOINCREMENT):
    -- the number is hashed into the entry, so it must be known before the insert.
    sequence         INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,
    -- Plain integers, no foreign keys: an entry outlives the account or organisation it names.
    actor_account_id INTEGER,
    actor_label      TEXT    NOT NULL,
    org_id           INTEGER,
    action           TEXT    NOT NULL,
    object           TEXT    NOT NULL,
    detail           TEXT    NOT NULL,
    -- Unique: two appends racing for the same last entry cannot both chain to it.
    prev_hash        TEXT    NOT NULL UNIQUE,
    hash             TEXT    NOT NULL
);
CREATE INDEX audit_events_action ON audit_events(action, sequence);
CREATE INDEX audit_events_actor ON audit_events(actor_account_id, sequence);
CREATE INDEX audit_events_org ON audit_events(org_id, sequence);
CREATE INDEX audit_events_at ON audit_events(at);

-- One row that every append updates first: it serialises appenders (a row lock on
-- PostgreSQL, the write lock on SQLite), so they rarely need to retry.
CREATE TABLE audit_append_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO audit_append_lock (id) VALUES (1);
