-- Used one-time values keyed by expiry first. A new value lands near the
-- end of the table's one B-tree and the purge cuts from its start, so no
-- second index is kept up to date on every assertion and DPoP proof: the
-- record cost a third of their issuance on SQLite (2026-12-01). The expiry
-- is the one the signed token states, so a replay of it has the same key.
CREATE TABLE used_one_time_values_by_expiry (
    expires_at BIGINT NOT NULL,
    value_digest TEXT NOT NULL,
    PRIMARY KEY (expires_at, value_digest)
);
INSERT INTO used_one_time_values_by_expiry (expires_at, value_digest)
    SELECT expires_at, value_digest FROM used_one_time_values;
DROP TABLE used_one_time_values;
ALTER TABLE used_one_time_values_by_expiry RENAME TO used_one_time_values;
