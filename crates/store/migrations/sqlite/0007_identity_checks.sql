-- Identity checks of an order (人脸识别, 法人手机号实名核验, 对公账户打款验证, 法人银行卡核验)
-- and the per-person, per-day count of face-match tries. People are kept as a SHA-256 hash of
-- their resident ID number (certdesk_domain::identity::subject_hash), never the number itself;
-- codes as salted SHA-256 hashes.

CREATE TABLE identity_checks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id      INTEGER NOT NULL REFERENCES orders(id),
    -- certdesk_domain::IdentityMethod::as_str
    method        TEXT    NOT NULL,
    subject_hash  TEXT    NOT NULL,
    subject_name  TEXT    NOT NULL,
    -- The resident ID number masked for display, e.g. 110***********002X.
    masked_id     TEXT    NOT NULL,
    -- The mobile, card or account number masked for display.
    masked_target TEXT    NOT NULL,
    -- certdesk_domain::CheckStatus::as_str: pending | passed | failed | locked
    status        TEXT    NOT NULL,
    -- Why the outside service said no, in Chinese (empty otherwise).
    failure       TEXT    NOT NULL,
    code_salt     TEXT,
    code_hash     TEXT,
    expires_at    INTEGER,
    -- Wrong codes typed so far.
    attempts      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX identity_checks_order ON identity_checks(order_id, method, id);

CREATE TABLE face_attempts (
    subject_hash TEXT    NOT NULL,
    -- Beijing calendar day, YYYY-MM-DD.
    day          TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    PRIMARY KEY (subject_hash, day)
);
