-- Usage per credential (API key or client) and minute, written behind the
-- requests in batches.
CREATE TABLE usage_minutes (
    credential_id       TEXT NOT NULL,
    minute              INTEGER NOT NULL,
    count               INTEGER NOT NULL,
    rate_limited_count  INTEGER NOT NULL,
    PRIMARY KEY (credential_id, minute)
);

ALTER TABLE oauth_clients ADD COLUMN last_used_at INTEGER;
ALTER TABLE oauth_clients ADD COLUMN request_count INTEGER NOT NULL DEFAULT 0;
