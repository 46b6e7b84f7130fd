-- Orders (业务单), their status history, and payments applied exactly once.

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Time-based, at least 19 digits (certdesk_domain::order_number).
    order_no    TEXT    NOT NULL UNIQUE,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    -- new | renewal | replacement | change | unlock
    kind        TEXT    NOT NULL,
    -- certdesk_domain::OrderStatus::as_str
    status      TEXT    NOT NULL,
    amount_fen  INTEGER NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES accounts(id),
    -- 1 when an operator made it for the supplier (操作员代办).
    on_behalf   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX orders_org ON orders(org_id, created_at);
CREATE INDEX orders_status ON orders(status, updated_at);

CREATE TABLE order_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id          INTEGER NOT NULL REFERENCES orders(id),
    at                INTEGER NOT NULL,
    actor_account_id  INTEGER,
    actor_label       TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    from_status       TEXT    NOT NULL,
    to_status         TEXT    NOT NULL,
    note              TEXT    NOT NULL
);
CREATE INDEX order_events_order ON order_events(order_id, id);

-- One payment per order and per gateway transaction: a repeated notification finds its
-- payment already there and changes nothing.
CREATE TABLE payments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    gateway     TEXT    NOT NULL,
    gateway_txn TEXT    NOT NULL,
    amount_fen  INTEGER NOT NULL,
    paid_at     INTEGER NOT NULL,
    UNIQUE (gateway, gateway_txn)
);
