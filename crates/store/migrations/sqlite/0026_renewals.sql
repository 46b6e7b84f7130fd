-- 续费/延期 and 批量续费 (issue 13): a renewal order renews one or many certificates of the
-- organisation for the same key pairs; each key is renewed when its holder connects it.
CREATE TABLE renewal_orders (
    order_id      INTEGER PRIMARY KEY REFERENCES orders(id),
    product_id    INTEGER NOT NULL REFERENCES products(id),
    years         INTEGER NOT NULL,
    voucher_code  TEXT,
    -- 1 when a certificate had expired when the order was made: the identity check and the
    -- business licence are required before 提交.
    lapsed        INTEGER NOT NULL,
    -- 1 when the supplier said bids are in progress and confirmed the renewal anyway.
    bids_confirmed INTEGER NOT NULL
);

CREATE TABLE renewal_items (
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    -- The signing certificate renewed.
    certificate_id  INTEGER NOT NULL REFERENCES certificates(id),
    -- The 新办 order the key pair was first issued for (its product and CA provider).
    source_order_id INTEGER NOT NULL REFERENCES orders(id),
    -- The intent while the CA signs (serials drawn first), released when it fails.
    claim_serial_hex            TEXT,
    claim_encryption_serial_hex TEXT,
    claimed_at      INTEGER,
    new_signing_certificate_id    INTEGER REFERENCES certificates(id),
    new_encryption_certificate_id INTEGER REFERENCES certificates(id),
    envelope_gmt0009 BLOB,
    envelope_skf     BLOB,
    renewed_at      INTEGER,
    -- When the old certificate was revoked (superseded) after the grace.
    superseded_at   INTEGER,
    PRIMARY KEY (order_id, certificate_id)
);
CREATE INDEX renewal_items_certificate ON renewal_items(certificate_id);
-- A certificate is renewed once.
CREATE UNIQUE INDEX renewal_items_renewed ON renewal_items(certificate_id)
    WHERE new_signing_certificate_id IS NOT NULL;
CREATE INDEX renewal_items_superseding ON renewal_items(renewed_at)
    WHERE superseded_at IS NULL;
