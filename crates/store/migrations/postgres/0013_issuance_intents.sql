-- Issuance that survives a crash (Boulder's order): the claim on an order becomes the intent of
-- its issuance, written before the CA signs: the serial numbers the certificates will carry and,
-- for a key holder's CSR, the SHA-256 of the public key certified. The certificates, their key
-- archives, the link below and the order's step to 已发证 are then written in one transaction.
-- A claim left unfinished by a crash is found by `claimed_at` and recovered by its serials: a
-- certificate found unlinked is revoked, and the claim is released so issuance can run again.
-- Claims made before this migration have no serial: they are released without a search.
ALTER TABLE order_issuance ADD COLUMN serial_hex TEXT;
ALTER TABLE order_issuance ADD COLUMN encryption_serial_hex TEXT;
ALTER TABLE order_issuance ADD COLUMN public_key_sha256 TEXT;
-- A serial names one intent (several NULLs are allowed on both engines).
CREATE UNIQUE INDEX order_issuance_serial ON order_issuance(serial_hex);
-- The recovery job's scan: unfinished claims, oldest first.
CREATE INDEX order_issuance_unfinished ON order_issuance(claimed_at)
    WHERE signing_certificate_id IS NULL;
-- Whether a certificate is linked to an order.
CREATE INDEX order_issuance_signing ON order_issuance(signing_certificate_id);
CREATE INDEX order_issuance_encryption ON order_issuance(encryption_certificate_id);
