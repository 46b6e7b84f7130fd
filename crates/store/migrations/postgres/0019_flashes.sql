-- Notices after a page action (issue 12): one-time, bound to the session, never text in the
-- URL (which anyone could put there to show as an official banner). Read once, then gone.
CREATE TABLE flashes (
    session_hash TEXT NOT NULL REFERENCES sessions(token_hash) ON DELETE CASCADE,
    slot         TEXT NOT NULL,            -- 'notice' | 'error' | 'upload_error' | 'identity_error'
    message      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (session_hash, slot)
);
