-- The new-certificate application behind an order (新办): the form, its uploads, the
-- issuance that answers it and the delivery of the key.

-- One per order of kind 'new'. The form is kept as the user typed it (JSON of
-- certdesk_domain::ApplicationForm) so a half-filled draft loses nothing.
CREATE TABLE applications (
    order_id        BIGINT PRIMARY KEY REFERENCES orders(id),
    provider_id     BIGINT NOT NULL REFERENCES ca_providers(id),
    product_id      BIGINT NOT NULL,
    years           BIGINT NOT NULL,
    voucher_code    TEXT,
    -- mail | pickup | online (certdesk_domain::DeliveryMethod)
    delivery_method TEXT    NOT NULL,
    form_json       TEXT    NOT NULL,
    -- 1 once the submitted price took 首张免费: a second application of the organisation is
    -- not free while this one is on its way.
    first_free      BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX applications_provider ON applications(provider_id);

-- The documents of an application, one per kind; the bytes are in the blob store.
CREATE TABLE order_uploads (
    order_id    BIGINT NOT NULL REFERENCES orders(id),
    -- certdesk_domain::UploadKind::as_str
    kind        TEXT    NOT NULL,
    blob_id     TEXT    NOT NULL,
    file_name   TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    size_bytes  BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (order_id, kind)
);

-- Issuance for an order: claimed first (so two requests cannot both issue), then filled with
-- the certificates it made, in the same transaction that moves the order to 已发证.
CREATE TABLE order_issuance (
    order_id                  BIGINT PRIMARY KEY REFERENCES orders(id),
    claimed_at                BIGINT NOT NULL,
    signing_certificate_id    BIGINT REFERENCES certificates(id),
    encryption_certificate_id BIGINT REFERENCES certificates(id),
    -- The SM2 encryption key sealed to the signing key (GM/T 0009 DER and GM/T 0016 SKF blob),
    -- for the key holder to import; only the signing key can open it.
    envelope_gmt0009          BYTEA,
    envelope_skf              BYTEA,
    issued_at                 BIGINT
);

CREATE TABLE order_deliveries (
    order_id    BIGINT PRIMARY KEY REFERENCES orders(id),
    courier     TEXT,
    tracking_no TEXT,
    shipped_at  BIGINT,
    received_at BIGINT
);
