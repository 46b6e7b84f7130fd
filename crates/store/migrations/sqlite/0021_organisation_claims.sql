-- 单位认领 (issue 12): a claim to a credit code someone else registered, decided by a platform
-- operator from the business licence and a claim letter under the organisation's seal.
CREATE TABLE organisation_claims (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id             INTEGER NOT NULL REFERENCES organisations(id),
    -- The name as on the business licence; the organisation takes it when the claim is approved.
    organisation_name  TEXT    NOT NULL,
    claimant_name      TEXT    NOT NULL,
    -- The claimant's mobile, sealed with the data key like the application forms.
    claimant_mobile    TEXT    NOT NULL,
    statement          TEXT    NOT NULL,
    -- The admin account made for the claimant on approval.
    username           TEXT    NOT NULL,
    password_hash      TEXT    NOT NULL,
    -- Blob ids (SHA-256 hex) of the business licence and the claim letter.
    licence_blob       TEXT    NOT NULL,
    letter_blob        TEXT    NOT NULL,
    -- SHA-256 of the query code given once at filing: the claimant follows the claim with it.
    query_code_hash    TEXT    NOT NULL UNIQUE,
    -- pending | approved | rejected
    status             TEXT    NOT NULL,
    reject_reason      TEXT    NOT NULL DEFAULT '',
    decided_by         INTEGER REFERENCES accounts(id),
    decided_at         INTEGER,
    new_account_id     INTEGER REFERENCES accounts(id),
    created_at         INTEGER NOT NULL
);
-- One open claim per organisation: a second claimant waits for the first decision.
CREATE UNIQUE INDEX organisation_claims_one_pending ON organisation_claims(org_id) WHERE status = 'pending';
-- A user name asked for by an open claim is not offered to anyone else meanwhile.
CREATE UNIQUE INDEX organisation_claims_pending_username ON organisation_claims(username) WHERE status = 'pending';
CREATE INDEX organisation_claims_status ON organisation_claims(status, created_at);
