-- Workload identity federation. Issuers whose tokens the operator trusts:
-- keys from discovery (both key columns NULL), from `jwks_uri`, or a
-- static JWK Set (`jwks`); `audience` NULL means Keyward's issuer.
CREATE TABLE trusted_issuers (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL UNIQUE,
    jwks_uri TEXT,
    jwks TEXT,
    audience TEXT,
    created_at INTEGER NOT NULL
);

-- The workloads a client is bound to: a JSON array of issuer, subject
-- (exact or a pattern) and claim conditions.
ALTER TABLE oauth_clients ADD COLUMN federated_subjects TEXT NOT NULL DEFAULT '[]';
