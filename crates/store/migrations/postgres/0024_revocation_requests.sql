-- 吊销 on request (issue 13): the request behind a revocation order; the certificate is revoked
-- at the CA and `revoked_at` written with the step that completes the order.
CREATE TABLE revocation_requests (
    order_id        BIGINT PRIMARY KEY REFERENCES orders(id),
    certificate_id  BIGINT NOT NULL REFERENCES certificates(id),
    key_serial      TEXT    NOT NULL,
    -- RFC 5280 name: keyCompromise | affiliationChanged | superseded | cessationOfOperation
    reason          TEXT    NOT NULL,
    note            TEXT    NOT NULL,
    -- The legal representative who confirms by the SMS code; ID number and mobile sealed.
    legal_rep_name  TEXT    NOT NULL,
    legal_rep_id    TEXT    NOT NULL,
    legal_rep_mobile TEXT   NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX revocation_requests_serial ON revocation_requests(key_serial);
