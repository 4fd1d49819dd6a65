-- How a client authenticates at the token endpoint (NULL: with whatever it
-- holds, a secret or a registered key), the public keys it signs
-- private_key_jwt assertions with (a JSON array of public JWKs), and the
-- URL it publishes them at instead.
ALTER TABLE oauth_clients ADD COLUMN token_endpoint_auth_method TEXT;
ALTER TABLE oauth_clients ADD COLUMN public_keys TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN jwks_uri TEXT;

-- One-time values (assertion jtis) already used, until they expire: a
-- replay on any replica finds its value here. `value_digest` is a SHA-256
-- of the issuer and the value.
CREATE TABLE used_one_time_values (
    value_digest TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_one_time_values_expiry ON used_one_time_values (expires_at);
