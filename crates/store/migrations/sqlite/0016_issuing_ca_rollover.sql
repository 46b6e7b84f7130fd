-- An issuing CA can be replaced (`certdesk ca new-issuing`, issue 11). The one replaced stays:
-- it signs the CRLs and OCSP answers of the certificates it issued until they expire. It is
-- marked by `retired_at`, and its role becomes `issuing-<id>` so that the table's
-- UNIQUE (algorithm, role) (which SQLite cannot drop without rebuilding a table other tables
-- reference) keeps meaning one root and one issuing CA in service per algorithm.
ALTER TABLE ca_keys ADD COLUMN retired_at INTEGER;
