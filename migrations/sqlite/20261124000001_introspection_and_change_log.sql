-- A resource server may introspect tokens for the audiences it holds.
ALTER TABLE oauth_clients ADD COLUMN resource_server BOOLEAN NOT NULL DEFAULT FALSE;

-- Revoked access tokens, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- Every change that a node's caches must hear of, in order; nodes poll it.
CREATE TABLE change_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    expires_at   INTEGER,
    occurred_at  INTEGER NOT NULL
);
CREATE INDEX change_log_occurred_at ON change_log (occurred_at);
