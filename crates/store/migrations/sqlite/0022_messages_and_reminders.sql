-- In-app messages (消息) and expiry reminders (issue 13): a reminder is sent once per
-- certificate and threshold (30, 15, 7, 1 days), whatever restarts or how many server
-- processes share the database — the primary key is the claim to send it.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- 'expiry_reminder', …
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    -- Where the message leads (a page of certdesk), or ''.
    link        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
);
CREATE INDEX messages_account ON messages(account_id, created_at);

CREATE TABLE expiry_reminders (
    certificate_id INTEGER NOT NULL REFERENCES certificates(id),
    days_before    INTEGER NOT NULL,
    sent_at        INTEGER NOT NULL,
    recipients     INTEGER NOT NULL,
    PRIMARY KEY (certificate_id, days_before)
);
