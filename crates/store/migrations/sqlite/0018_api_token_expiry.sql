-- API tokens expire (issue 12): a script's token is not a key for ever. Tokens made before
-- this carry 90 days from their creation.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
UPDATE api_tokens SET expires_at = created_at + 7776000 WHERE expires_at IS NULL;
