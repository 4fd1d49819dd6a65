-- Usage per credential (API key or client) and minute, written behind the
-- requests in batches.
CREATE TABLE usage_minutes (
    credential_id       TEXT NOT NULL,
    minute              BIGINT NOT NULL,
    count               BIGINT NOT NULL,
    rate_limited_count  BIGINT NOT NULL,
    PRIMARY KEY (credential_id, minute)
);

ALTER TABLE oauth_clients ADD COLUMN last_used_at BIGINT;
ALTER TABLE oauth_clients ADD COLUMN request_count BIGINT NOT NULL DEFAULT 0;
