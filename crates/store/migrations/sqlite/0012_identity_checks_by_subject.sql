-- The daily limit of SMS codes per person counts a person's checks over all applications.
CREATE INDEX identity_checks_subject ON identity_checks(subject_hash, method, created_at);
