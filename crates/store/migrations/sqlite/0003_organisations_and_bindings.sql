-- Organisations, API tokens, login throttling, challenges, CA providers and bindings.

CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    -- Unified Social Credit Code, validated with its check characters before it gets here.
    credit_code TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

-- Failed password logins, per user name and per client address, for throttling.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT    NOT NULL,
    client   TEXT    NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX login_failures_username ON login_failures(username, at);
CREATE INDEX login_failures_client ON login_failures(client, at);

-- One-time challenges that a key holder signs (certificate login, binding).
CREATE TABLE challenges (
    id         TEXT    PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    account_id INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE TABLE ca_providers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT    NOT NULL UNIQUE,
    hotline           TEXT    NOT NULL,
    online_apply      INTEGER NOT NULL,
    binding_needs_pin INTEGER NOT NULL,
    -- Comma-separated: ukey, mobile.
    media             TEXT    NOT NULL,
    -- 1 for the provider whose CA this installation runs.
    operated_here     INTEGER NOT NULL,
    sort_order        INTEGER NOT NULL
);

-- CA certificates recognised for a provider (CA mutual recognition, 互认).
CREATE TABLE provider_cas (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id     INTEGER NOT NULL REFERENCES ca_providers(id),
    subject         TEXT    NOT NULL,
    -- SHA-256 of the DER certificate, hex.
    fingerprint     TEXT    NOT NULL UNIQUE,
    certificate_der BLOB    NOT NULL,
    not_after       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

-- A certificate bound to one platform account at a time (CA绑定).
CREATE TABLE bindings (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         INTEGER NOT NULL REFERENCES accounts(id),
    org_id             INTEGER NOT NULL REFERENCES organisations(id),
    provider_id        INTEGER NOT NULL REFERENCES ca_providers(id),
    -- SHA-256 of the DER certificate, hex: the same certificate cannot be bound twice.
    fingerprint        TEXT    NOT NULL UNIQUE,
    serial_hex         TEXT    NOT NULL,
    -- CA锁ID: the certificate's subject key identifier, hex.
    key_id             TEXT    NOT NULL,
    subject_name       TEXT    NOT NULL,
    not_after          INTEGER NOT NULL,
    certificate_der    BLOB    NOT NULL,
    bound_by           INTEGER NOT NULL REFERENCES accounts(id),
    bound_at           INTEGER NOT NULL
);
CREATE INDEX bindings_org ON bindings(org_id);
CREATE INDEX bindings_account ON bindings(account_id);

-- The providers of guide 002, and this installation's own CA.
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('certdesk CA（本平台）', '—（本平台自建CA，在线办理）', 1, 0, 'ukey,mobile', 1, 0);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('汇信CA', '400-888-4636', 1, 0, 'ukey,mobile', 0, 1);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('天谷CA', '400-087-8198', 0, 0, 'ukey', 0, 2);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('新疆CA', '0991-2819290', 0, 0, 'ukey', 0, 3);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('西部CA', '400-860-0271', 0, 0, 'ukey', 0, 4);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('广西CA', '400-0771-110', 0, 0, 'ukey', 0, 5);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('云南CA', '400-672-7666（证书办理）；400-600-7210（证书客服）', 0, 0, 'ukey', 0, 6);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('北京CA', '010-5851-5511；400-919-7888', 0, 0, 'ukey', 0, 7);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('重庆CA', '023-88257082', 0, 0, 'ukey', 0, 8);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('四川CA', '400-028-1130', 0, 0, 'ukey', 0, 9);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('天威CA', '400-666-3999；四川省内 028-86694886、028-85325862', 0, 0, 'ukey', 0, 10);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('CFCA', '400-880-9888', 0, 0, 'ukey', 0, 11);
INSERT INTO ca_providers (name, hotline, online_apply, binding_needs_pin, media, operated_here, sort_order) VALUES ('吉林安信CA', '0431-85177688', 0, 0, 'ukey', 0, 12);
