-- A client's live revocations are counted before each new one (its bound).
CREATE INDEX revoked_tokens_client ON revoked_tokens (client_id, expires_at);
