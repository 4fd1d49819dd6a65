-- The shared wrk script (../shared/peers/lua/bench.lua, whose path is in
-- BENCH_SHARED_LUA) with the request's Content-Type taken from
-- BENCH_CONTENT_TYPE, for JSON bodies.
dofile(os.getenv("BENCH_SHARED_LUA"))
local content_type = os.getenv("BENCH_CONTENT_TYPE")
if content_type and content_type ~= "" then
  wrk.headers["Content-Type"] = content_type
end
