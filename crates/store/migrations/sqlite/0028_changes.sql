-- 变更 (issue 13): what a change order changes. The key it re-certifies is its
-- replacement_requests row (reason 'changed'); the registration is updated, and applied_at
-- written, with the CA's approval.
CREATE TABLE change_requests (
    order_id          INTEGER PRIMARY KEY REFERENCES orders(id),
    -- The name the new certificate carries; renames = 1 when the registration changes with it.
    org_name          TEXT    NOT NULL,
    renames           INTEGER NOT NULL,
    -- The (new) legal representative; ID number and mobile sealed.
    legal_rep_name    TEXT    NOT NULL,
    legal_rep_id      TEXT    NOT NULL,
    legal_rep_mobile  TEXT    NOT NULL,
    changes_legal_rep INTEGER NOT NULL,
    applied_at        INTEGER
);
