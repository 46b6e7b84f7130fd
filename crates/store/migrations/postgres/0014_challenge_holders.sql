-- A challenge belongs to whoever asked for it (issue 11): the browser's pre-login cookie for a
-- certificate login, the session (or the account, for an API token) for a binding, kept as a
-- SHA-256 hash. Challenges made before this have none and can no longer be used.
ALTER TABLE challenges ADD COLUMN holder_hash TEXT;
