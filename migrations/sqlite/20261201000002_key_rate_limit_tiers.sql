-- An API key's own rate limit becomes optional: without one, a key follows
-- the limit of its scopes' tier (the scope_rate_limits setting), else the
-- default of 60. Keys stored with 60 got it as the default before there
-- were tiers, so they now have none of their own; with no tiers configured
-- they are limited as before. SQLite cannot drop NOT NULL in place, so the
-- table is rebuilt (nothing references it).
CREATE TABLE api_keys_new (
    id                     TEXT PRIMARY KEY NOT NULL,
    org_id                 TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    hash                   TEXT NOT NULL,
    scopes                 TEXT NOT NULL,
    status                 TEXT NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    expires_at             INTEGER,
    rate_limit_per_minute  INTEGER,
    -- Space-separated CIDRs; empty allows every address.
    ip_allowlist           TEXT NOT NULL DEFAULT '',
    -- A JSON object.
    metadata               TEXT NOT NULL DEFAULT '{}',
    last_used_at           INTEGER,
    request_count          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO api_keys_new (id, org_id, name, hash, scopes, status, created_at, updated_at,
                          expires_at, rate_limit_per_minute, ip_allowlist, metadata,
                          last_used_at, request_count)
SELECT id, org_id, name, hash, scopes, status, created_at, updated_at, expires_at,
       NULLIF(rate_limit_per_minute, 60), ip_allowlist, metadata, last_used_at, request_count
FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE INDEX api_keys_org_id ON api_keys (org_id, created_at, id);
