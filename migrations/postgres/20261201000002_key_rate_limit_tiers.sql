-- An API key's own rate limit becomes optional: without one, a key follows
-- the limit of its scopes' tier (the scope_rate_limits setting), else the
-- default of 60. Keys stored with 60 got it as the default before there
-- were tiers, so they now have none of their own; with no tiers configured
-- they are limited as before.
ALTER TABLE api_keys ALTER COLUMN rate_limit_per_minute DROP NOT NULL;
UPDATE api_keys SET rate_limit_per_minute = NULL WHERE rate_limit_per_minute = 60;
