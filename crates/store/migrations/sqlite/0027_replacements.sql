-- 补办 (issue 13): the key a replacement order replaces; the order carries an application (its
-- product, delivery and the 新办 form it was copied from) so that it is made, issued and
-- delivered as a 新办 is. The old certificates are revoked once the new ones are issued.
CREATE TABLE replacement_requests (
    order_id        INTEGER PRIMARY KEY REFERENCES orders(id),
    -- The old signing certificate.
    certificate_id  INTEGER NOT NULL REFERENCES certificates(id),
    -- lost | damaged | ca_upgrade
    reason          TEXT    NOT NULL,
    -- 1: the archived SM2 encryption key pair is restored into the new key (audited).
    restore_encryption_key INTEGER NOT NULL,
    -- When the old certificates were revoked (after the new ones were issued).
    replaced_at     INTEGER
);
CREATE INDEX replacement_requests_certificate ON replacement_requests(certificate_id);
