-- Idempotency-Key entries of the management API, one per caller and key.
-- Only keyed hashes and ciphertext: the key itself, which the response's
-- encryption key is derived from, is never stored.
CREATE TABLE idempotency_keys (
    caller_hash  TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    -- Tells a request's claim apart from a later one on the same key.
    claim_id     TEXT NOT NULL,
    -- Keyed hash of the method, path and body of the first request.
    fingerprint  TEXT NOT NULL,
    -- 'in_flight' while the first request runs, then 'completed'.
    state        TEXT NOT NULL,
    -- The sealed response (AES-256-GCM), once completed.
    response     BYTEA,
    created_at   BIGINT NOT NULL,
    -- A short lease while in flight, an hour after the request once completed.
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (caller_hash, key_hash)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
