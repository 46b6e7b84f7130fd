-- The CA's keys and certificates, every certificate it issued, and its CRLs.
CREATE TABLE ca_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    algorithm       TEXT    NOT NULL,          -- 'sm2' | 'p256'
    role            TEXT    NOT NULL,          -- 'root' | 'issuing'
    certificate_der BLOB    NOT NULL,
    -- Encrypted PKCS#8 (PBES2); the passphrase is never stored here.
    private_key_pem TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (algorithm, role)
);

CREATE TABLE certificates (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Lower-case hex of the DER INTEGER's content bytes; unique across every CA we run.
    serial_hex        TEXT    NOT NULL UNIQUE,
    issuer_ca_id      INTEGER NOT NULL REFERENCES ca_keys(id),
    algorithm         TEXT    NOT NULL,
    profile           TEXT    NOT NULL,        -- 'sign' | 'enc'
    org_name          TEXT    NOT NULL,
    credit_code       TEXT    NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    der               BLOB    NOT NULL,
    issued_at         INTEGER NOT NULL,
    revoked_at        INTEGER,
    revocation_reason TEXT
);
CREATE INDEX certificates_issuer_revoked ON certificates(issuer_ca_id, revoked_at);

CREATE TABLE crls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    algorithm   TEXT    NOT NULL,
    crl_number  INTEGER NOT NULL,
    this_update INTEGER NOT NULL,
    next_update INTEGER NOT NULL,
    der         BLOB    NOT NULL,
    UNIQUE (algorithm, crl_number)
);

-- Bumped by every revocation, so that every process (serve, `certdesk ca revoke`) can tell
-- when its cached OCSP answers are stale.
CREATE TABLE ca_state (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    revocation_counter INTEGER NOT NULL
);
INSERT INTO ca_state (id, revocation_counter) VALUES (1, 0);

-- Encryption private keys of dual certificates, sealed under a key-management key (SM4-GCM),
-- so that an authorised officer can recover them. One per encryption certificate.
CREATE TABLE key_archives (
    certificate_id INTEGER NOT NULL PRIMARY KEY REFERENCES certificates(id),
    kmk_id         TEXT    NOT NULL,
    archive_der    BLOB    NOT NULL,
    created_at     INTEGER NOT NULL
);

-- Deployment facts every process must agree on (e.g. the public URL written into
-- certificates), so that `certdesk ca` issues what `certdesk serve` would.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
