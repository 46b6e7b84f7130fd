-- Paying and paying back: the built-in sandbox gateway's trades, offline bank transfers
-- (线下转账) with their receipts, and refunds. Payments themselves stay in `payments` (0005).

-- The sandbox gateway's trades: one per order, so that an order can never be paid twice
-- through it. `token` is the unguessable part of the payer page's URL (the QR code).
CREATE TABLE sandbox_trades (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    token       TEXT    NOT NULL UNIQUE,
    -- The gateway's transaction number, sent in its notifications as gateway_txn.
    trade_no    TEXT    NOT NULL UNIQUE,
    amount_fen  INTEGER NOT NULL,
    -- waiting | paid | cancelled
    status      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    paid_at     INTEGER
);

-- A bank transfer's receipt, waiting for an operator. At most one pending per order.
CREATE TABLE offline_transfers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       INTEGER NOT NULL REFERENCES orders(id),
    -- The receipt image in the blob store (SHA-256 hex) and the name it was uploaded under.
    receipt_blob   TEXT    NOT NULL,
    receipt_name   TEXT    NOT NULL,
    amount_fen     INTEGER NOT NULL,
    -- pending | confirmed | rejected
    status         TEXT    NOT NULL,
    submitted_by   INTEGER NOT NULL REFERENCES accounts(id),
    submitted_at   INTEGER NOT NULL,
    decided_by     INTEGER REFERENCES accounts(id),
    decided_at     INTEGER,
    reject_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX offline_transfers_one_pending ON offline_transfers(order_id) WHERE status = 'pending';
CREATE INDEX offline_transfers_status ON offline_transfers(status, submitted_at);

-- One refund per order (an order is paid at most once), through the gateway that took the
-- payment; offline ones are confirmed by an operator.
CREATE TABLE refunds (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id      INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    gateway       TEXT    NOT NULL,
    -- The refunded payment's transaction.
    gateway_txn   TEXT    NOT NULL,
    amount_fen    INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    -- requested | completed
    status        TEXT    NOT NULL,
    requested_at  INTEGER NOT NULL,
    completed_at  INTEGER
);
