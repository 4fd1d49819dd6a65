-- Used one-time values keyed by the first 16 bytes of the SHA-256 of their
-- digest's text, as a uuid: a fixed 16 bytes compared byte by byte, where
-- the text (43 characters) was compared by the database's collation. Each
-- value is a B-tree entry at a random place among those of its second, and
-- that entry cost about 15 µs of the database's CPU as text and 7.5 µs as a
-- uuid (pgbench, batches of 64, 2026-12-02). 128 bits of digest leave a chance
-- collision among ten million live values far below 2^-70.
CREATE TABLE used_one_time_values_uuid (
    expires_at BIGINT NOT NULL,
    value_digest UUID NOT NULL,
    PRIMARY KEY (expires_at, value_digest)
);
-- The recorded values stay used.
INSERT INTO used_one_time_values_uuid (expires_at, value_digest)
    SELECT expires_at,
           encode(substring(sha256(convert_to(value_digest, 'UTF8')) FROM 1 FOR 16), 'hex')::uuid
    FROM used_one_time_values
    ON CONFLICT DO NOTHING;
DROP TABLE used_one_time_values;
ALTER TABLE used_one_time_values_uuid RENAME TO used_one_time_values;
ALTER INDEX used_one_time_values_uuid_pkey RENAME TO used_one_time_values_pkey;
