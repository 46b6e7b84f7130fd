-- Accounts with a lifecycle (issue 12): an admin may reset a password, and the user must then
-- set their own at the next login before doing anything else.
ALTER TABLE accounts ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
