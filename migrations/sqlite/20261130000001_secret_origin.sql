-- Who made a client secret: 'generated' by Keyward (stored as a keyed
-- digest) or 'imported' from another server (stored with argon2id). Every
-- secret stored before this column was generated.
ALTER TABLE client_secrets ADD COLUMN origin TEXT NOT NULL DEFAULT 'generated';
