-- Limits that hold when requests arrive together (issue 12): one row per limited thing, taken
-- with a single atomic upsert before the work it guards (a password check, an SMS, a bank
-- transfer), never counted after it. Keys name the thing: 'login:pair:<user>|<client>',
-- 'login:client:<client>', 'login:account:<user>', 'sms:order:<id>', 'sms:subject:<hash>:<day>',
-- 'deposit:order:<id>'. Replaces login_failures, which was counted after the check.
CREATE TABLE rate_limits (
    key            TEXT    PRIMARY KEY,
    window_start   BIGINT NOT NULL,
    taken          BIGINT NOT NULL,
    -- The lock of this window is in the audit log (once per lock, not per refused try).
    lock_audited   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX rate_limits_window ON rate_limits(window_start);
DROP TABLE login_failures;
