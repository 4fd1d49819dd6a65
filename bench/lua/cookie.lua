-- The shared wrk script (../shared/peers/lua/bench.lua, whose path is in
-- BENCH_SHARED_LUA) for a signed-in console page: a GET that carries the
-- session cookie in BENCH_COOKIE and asks for HTML.
dofile(os.getenv("BENCH_SHARED_LUA"))
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.headers["Accept"] = "text/html"
