-- Every request of a known credential (setting request_log): API key
-- checks, key introspection and token requests, written behind the
-- requests in batches and purged after request_log_retention_days. Never
-- a key, a secret or a token.
--
-- Cheap to append: no key, one B-tree index for the lists, and a BRIN
-- index for the purge (entries arrive in time order, so it stays small
-- and an insert seldom touches it).
CREATE TABLE request_log (
    -- Nanoseconds since the epoch, and a random number: the listed id is
    -- rq_ + both in hex, and they order the entries.
    occurred_at_ns   BIGINT NOT NULL,
    random_id        BIGINT NOT NULL,
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
CREATE INDEX request_log_credential_time ON request_log (credential_id, occurred_at_ns, random_id);
CREATE INDEX request_log_occurred_at ON request_log USING brin (occurred_at_ns);
