-- The management API's audit trail: append-only, purged after the
-- retention period (setting audit_retention_days). Never a secret, a key,
-- a hash or a token: `changes` holds the non-secret fields of a view.
CREATE TABLE audit_events (
    -- ev_ + nanoseconds (16 hex digits) + 16 random hex digits.
    id           TEXT PRIMARY KEY,
    -- NULL for a failed authentication whose credential names no organisation.
    org_id       TEXT,
    -- root, client:<id>, key:<id>, or anonymous.
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    occurred_at  BIGINT NOT NULL,
    source_ip    TEXT,
    request_id   TEXT NOT NULL,
    -- JSON object: field -> {"old": .., "new": ..}.
    changes      TEXT NOT NULL
);
CREATE INDEX audit_events_org_time ON audit_events (org_id, occurred_at, id);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
