-- CRLs of other providers' CAs (互认), fetched from the address their certificates name and kept
-- until they are due again, so that a revoked foreign certificate cannot bind or log in.
CREATE TABLE foreign_crls (
    -- The CRL distribution point, as written in the certificates (http://…).
    url            TEXT    PRIMARY KEY,
    -- The imported CA certificate whose key signed it (provider_cas.id).
    provider_ca_id BIGINT  NOT NULL REFERENCES provider_cas(id),
    der            BYTEA   NOT NULL,
    this_update    BIGINT  NOT NULL,
    next_update    BIGINT  NOT NULL,
    fetched_at     BIGINT  NOT NULL
);
