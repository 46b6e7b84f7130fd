-- Products (what a CA provider offers, at what price) and vouchers (抵扣券).

CREATE TABLE products (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id            INTEGER NOT NULL REFERENCES ca_providers(id),
    name                   TEXT    NOT NULL,
    -- certdesk_domain::Medium::as_str: ukey | mobile
    medium                 TEXT    NOT NULL,
    -- certdesk_domain::KeyAlgorithm::as_str: sm2 | p256
    algorithm              TEXT    NOT NULL,
    -- 1: a signing and an encryption certificate (双证书).
    dual                   INTEGER NOT NULL,
    min_years              INTEGER NOT NULL,
    max_years              INTEGER NOT NULL,
    price_per_year_fen     INTEGER NOT NULL,
    sub_price_per_year_fen INTEGER NOT NULL,
    -- 1: the first certificate of a legal entity is free (首张免费).
    first_free             INTEGER NOT NULL,
    active                 INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX products_provider ON products(provider_id);

CREATE TABLE vouchers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    code              TEXT    NOT NULL UNIQUE,
    amount_fen        INTEGER NOT NULL,
    -- Unix seconds, exclusive.
    valid_until       INTEGER NOT NULL,
    -- NULL: any organisation may use it.
    org_id            INTEGER REFERENCES organisations(id),
    -- Set once, compare-and-set: a voucher is redeemed for one order only.
    redeemed_order_id INTEGER REFERENCES orders(id),
    redeemed_at       INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE INDEX vouchers_order ON vouchers(redeemed_order_id);
