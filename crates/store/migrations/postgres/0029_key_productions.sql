-- 制证 (issue 14): the UKey the CA's station made an order's keys on. Written before the CA
-- signs (the key chosen is the order's from then on; another may be chosen while nothing is
-- issued), so a crash between issuing and recording cannot lose which key holds the
-- certificates. The SO PIN the CA set on the key is kept sealed (personal data key) for the
-- 解锁授权码's answer.
CREATE TABLE key_productions (
    order_id      BIGINT PRIMARY KEY REFERENCES orders(id),
    -- CA锁ID as the key reports it.
    key_serial    TEXT    NOT NULL,
    so_pin_sealed TEXT,
    produced_by   BIGINT NOT NULL REFERENCES accounts(id),
    produced_at   BIGINT NOT NULL,
    written_at    BIGINT
);
CREATE INDEX key_productions_key ON key_productions(key_serial);
