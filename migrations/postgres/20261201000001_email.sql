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
    body             BYTEA NOT NULL,
    -- pending, delivered or failed (gave up).
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    last_attempt_at  BIGINT,
    -- The mail server's reply code on the last attempt, if it answered.
    last_status      BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    -- A node sending an attempt holds the row until then.
    leased_until     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX email_deliveries_due ON email_deliveries (state, next_attempt_at);
CREATE INDEX email_deliveries_org ON email_deliveries (org_id, created_at, id);
