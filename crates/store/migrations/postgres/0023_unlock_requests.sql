-- 解锁 (issue 13): the request behind an unlock order, and the one-time 解锁授权码 written with
-- its approval, bound to the key (its certificate serial), valid 24 hours, used once.
CREATE TABLE unlock_requests (
    order_id        BIGINT PRIMARY KEY REFERENCES orders(id),
    -- The key's signing certificate: its serial (lower-case hex) is what the key shows.
    certificate_id  BIGINT NOT NULL REFERENCES certificates(id),
    key_serial      TEXT    NOT NULL,
    holder_name     TEXT    NOT NULL,
    -- The holder's ID number and mobile, sealed with the data key.
    holder_id       TEXT    NOT NULL,
    holder_mobile   TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    -- SHA-256 of the code (without dashes); the code itself sealed, for its organisation's admin.
    code_hash       TEXT    UNIQUE,
    code_sealed     TEXT,
    code_issued_at  BIGINT,
    code_expires_at BIGINT,
    code_used_at    BIGINT,
    code_used_by    BIGINT REFERENCES accounts(id)
);
CREATE INDEX unlock_requests_serial ON unlock_requests(key_serial);
