-- Seals on the audit chain's head (issue 11): (sequence, hash) of the last entry at the time,
-- sealed with a key held in the CA zone. `certdesk audit verify` checks them against the chain.
CREATE TABLE audit_seals (
    sealed_at INTEGER NOT NULL,
    sequence  INTEGER NOT NULL,
    hash      TEXT   NOT NULL,
    seal      TEXT   NOT NULL,
    PRIMARY KEY (sequence, sealed_at)
);
