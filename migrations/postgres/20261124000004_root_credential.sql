-- The management API's root token, as `sha256:<base64url>`; one row at most.
CREATE TABLE root_credential (
    id          TEXT PRIMARY KEY NOT NULL,
    hash        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
