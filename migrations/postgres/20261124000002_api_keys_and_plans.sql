-- API keys: looked up by id, the public part of every key; only the
-- argon2id hash of the whole key is kept.
CREATE TABLE api_keys (
    id                     TEXT PRIMARY KEY NOT NULL,
    org_id                 TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    hash                   TEXT NOT NULL,
    scopes                 TEXT NOT NULL,
    status                 TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    expires_at             BIGINT,
    rate_limit_per_minute  BIGINT NOT NULL,
    -- Space-separated CIDRs; empty allows every address.
    ip_allowlist           TEXT NOT NULL DEFAULT '',
    -- A JSON object.
    metadata               TEXT NOT NULL DEFAULT '{}',
    last_used_at           BIGINT,
    request_count          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_org_id ON api_keys (org_id, created_at, id);

ALTER TABLE oauth_clients ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN rate_limit_per_minute BIGINT;
ALTER TABLE organisations ADD COLUMN webhook_url TEXT;
