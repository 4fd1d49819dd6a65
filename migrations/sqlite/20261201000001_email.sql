-- Where an organisation wants its notification emails; when unset, they go
-- to its owners and admins.
ALTER TABLE organisations ADD COLUMN notification_email TEXT;

-- Outgoing emails (expiry warnings, invitations), one row per recipient,
-- and the state of their delivery, as webhook_deliveries.
CREATE TABLE email_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    -- The plain-text and HTML bodies, sealed (AES-256-GCM under a key
    -- derived from the server secret, bound to the id): an invitation
    -- carries a password link, which the database holds only as a digest.
    body             BLOB NOT NULL,
    -- pending, delivered or failed (gave up).
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    last_attempt_at  INTEGER,
    -- The mail server's reply code on the last attempt, if it answered.
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER,
    -- A node sending an attempt holds the row until then.
    leased_until     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX email_deliveries_due ON email_deliveries (state, next_attempt_at);
CREATE INDEX email_deliveries_org ON email_deliveries (org_id, created_at, id);
