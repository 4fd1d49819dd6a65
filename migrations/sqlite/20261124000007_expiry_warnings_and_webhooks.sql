-- Each organisation's webhook signing secret is derived from the server
-- secret and this nonce (see crypto/webhook_signing.rs); the database never
-- holds the secret itself. A new nonce rotates it.
ALTER TABLE organisations ADD COLUMN webhook_signing_nonce TEXT;

-- One row per credential: the expiry date it was last warned about. Writing
-- a row is the claim, so among replicas exactly one sends a warning, and a
-- changed expiry date claims (warns) again.
CREATE TABLE expiry_warnings (
    credential_id  TEXT PRIMARY KEY NOT NULL,
    expires_at     INTEGER NOT NULL,
    warned_at      INTEGER NOT NULL
);

-- Outgoing webhooks and the state of their delivery.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    url              TEXT NOT NULL,
    -- The JSON body, sent byte for byte on every attempt.
    payload          TEXT NOT NULL,
    -- pending, delivered or failed (gave up).
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER,
    -- A node sending an attempt holds the row until then.
    leased_until     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id, created_at, id);
