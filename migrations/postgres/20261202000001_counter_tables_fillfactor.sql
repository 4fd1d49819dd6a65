-- Every usage flush updates the counters (request_count, last_used_at) of
-- each credential used since the one before, all in one transaction. No
-- index covers those columns, so PostgreSQL can write a row's new version
-- on its own page (a HOT update: no new index entries, a third of the WAL)
-- if the page has room for it; a full page sends it to another page, with
-- a new entry in every index. Half of each page is kept free, so that every
-- row on it can be rewritten in one flush: these tables stay small (a row
-- per credential). It applies to pages filled from now on; `VACUUM FULL`
-- rewrites the existing ones.
ALTER TABLE oauth_clients SET (fillfactor = 50);
ALTER TABLE api_keys SET (fillfactor = 50);
