-- Certificates revoked because their renewal window closed (issue 13): the row is the claim to
-- tell the organisation and audit it, once, however many processes run the job.
CREATE TABLE lapsed_certificates (
    certificate_id BIGINT PRIMARY KEY REFERENCES certificates(id),
    recorded_at    BIGINT NOT NULL
);
