-- Money that reached an order already paid by another transaction (the QR code paid after an
-- operator confirmed a bank transfer, say). It is not the order's payment: it is kept here
-- so that it is never lost, and paid back through the gateway that took it.
CREATE TABLE duplicate_payments (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id            INTEGER NOT NULL REFERENCES orders(id),
    gateway             TEXT    NOT NULL,
    gateway_txn         TEXT    NOT NULL,
    amount_fen          INTEGER NOT NULL,
    paid_at             INTEGER NOT NULL,
    refund_requested_at INTEGER,
    refunded_at         INTEGER,
    UNIQUE (gateway, gateway_txn)
);
