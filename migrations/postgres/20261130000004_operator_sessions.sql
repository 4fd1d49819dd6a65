-- The operator's console sessions, signed in with the root token: stored,
-- like members' sessions, only as SHA-256 digests of their ids.
CREATE TABLE operator_sessions (
    id_digest    TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
