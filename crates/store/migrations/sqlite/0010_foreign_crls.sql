-- CRLs of other providers' CAs (互认), fetched from the address their certificates name and kept
-- until they are due again, so that a revoked foreign certificate cannot bind or log in.
CREATE TABLE foreign_crls (
    -- The CRL distribution point, as written in the certificates (http://…).
    url            TEXT    PRIMARY KEY,
    -- The imported CA certificate whose key signed it (provider_cas.id).
    provider_ca_id INTEGER NOT NULL REFERENCES provider_cas(id),
    der            BLOB    NOT NULL,
    this_update    INTEGER NOT NULL,
    next_update    INTEGER NOT NULL,
    fetched_at     INTEGER NOT NULL
);
