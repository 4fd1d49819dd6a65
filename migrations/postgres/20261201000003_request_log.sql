-- Every request of a known credential (setting request_log): API key
-- checks, key introspection and token requests, written behind the
-- requests in batches and purged after request_log_retention_days. Never
-- a key, a secret or a token.
CREATE TABLE request_log (
    -- rq_ + nanoseconds (16 hex digits) + 16 random hex digits.
    id               TEXT PRIMARY KEY,
    occurred_at      BIGINT NOT NULL,
    -- The API key's or the client's id.
    credential_id    TEXT NOT NULL,
    org_id           TEXT NOT NULL,
    -- verify, introspect or token.
    endpoint         TEXT NOT NULL,
    -- A key check's code (VALID, RATE_LIMITED, ...), or an OAuth error.
    code             TEXT NOT NULL,
    -- The resource server's client id, for checks.
    resource_server  TEXT,
    client_ip        TEXT,
    request_id       TEXT NOT NULL
);
CREATE INDEX request_log_credential_time ON request_log (credential_id, occurred_at, id);
CREATE INDEX request_log_occurred_at ON request_log (occurred_at);
