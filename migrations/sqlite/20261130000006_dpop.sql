-- Whether every token request of the client must carry a DPoP proof
-- (RFC 9449 §5.2), so that all of its tokens are bound to its key.
ALTER TABLE oauth_clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
