#!/usr/bin/env bash
# keyward-guard's offline check in an actix app against the same app's
# trivial route, in one run on this machine (issue 18: at least 70%).
#
# Builds keyward-guard's `bench_app` example (keyward-guard/examples) in
# release, and Keyward in debug (it only issues one token and serves the
# JWKS; SERVER_BIN to use another build), starts Keyward on a fresh SQLite
# database with one client, gets one token (ES256 unless ALG), starts the
# app against it, and drives wrk with the same
# threads, connections and duration at
#   trivial   GET /trivial, the Authorization header sent but not read
#   guarded   GET /guarded, the same handler behind RequireScope(payouts:read)
# REPEAT times, alternating. Each run is a JSON line in OUT; the summary sets
# the median guarded rate against the median trivial one: PASS at >= 70%.
# One token is sent throughout, as an integration does for its lifetime: after
# the first request it is checked from the guard's verified-token cache
# (scope still checked per request). TOKEN_CACHE=0 turns the cache off, so
# every request verifies the signature.
#
# Env: ALG=ES256 REPEAT=3 SERVER_BIN PORT=18080 APP_PORT=18090 TOKEN_CACHE=10000
#      DURATION=10 THREADS=2 CONNS=32 WARMUP=2
#      OUT=bench/results/<date>-guard.jsonl
#      PEERS (../shared/peers: its wrk script writes the JSON)
#      PROFILE=release (debug: a smoke test of the script only, not a figure)
#      CARGO_TARGET_DIR (where the build goes; default target/)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
ALG=${ALG:-ES256}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18080}
APP_PORT=${APP_PORT:-18090}
TOKEN_CACHE=${TOKEN_CACHE:-10000}
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
WARMUP=${WARMUP:-2}
API=https://api.example.test
TARGET=0.70
PROFILE=${PROFILE:-release}
mkdir -p "$ROOT/bench/results"
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)-guard.jsonl}
[[ -f "$PEERS/lua/bench.lua" ]] || { echo "guard.sh: $PEERS/lua/bench.lua not found (set PEERS)" >&2; exit 2; }
for tool in wrk jq curl; do
  command -v "$tool" >/dev/null || { echo "guard.sh: $tool missing (apt-get install -y wrk jq curl)" >&2; exit 2; }
done

profile=()
[[ $PROFILE == release ]] && profile=(--release)
cargo build "${profile[@]}" --locked --manifest-path "$ROOT/Cargo.toml" \
  -p keyward-guard --features actix --example bench_app
APP_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/examples/bench_app
if [[ -z ${SERVER_BIN:-} ]]; then
  cargo build --locked --manifest-path "$ROOT/Cargo.toml" --bin keyward
  SERVER_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/keyward
fi
BIN=$SERVER_BIN
WORK=$(mktemp -d /tmp/keyward-guard-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {  # url log
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "!! $1 did not answer in 10 s; its log:" >&2
  tail -20 "$2" >&2
  return 1
}

export KEYWARD_DATABASE_URL="sqlite://$WORK/keyward.db" KEYWARD_KEYS_DIR="$WORK/keys" \
  KEYWARD_LISTEN="127.0.0.1:$PORT" KEYWARD_SIGNING_ALG="$ALG"
org=$("$BIN" --json org create --name guard-bench --plan enterprise | jq -r .id)
client=$("$BIN" --json client create --org "$org" --name bench \
  --scope payouts:read --audience "$API")
"$BIN" serve >>"$WORK/keyward.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$PORT/healthz" "$WORK/keyward.log"
TOKEN=$(curl -fsS -u "$(jq -r .client_id <<<"$client"):$(jq -r .client_secret <<<"$client")" \
  -d grant_type=client_credentials -d scope=payouts:read --data-urlencode "resource=$API" \
  "http://127.0.0.1:$PORT/oauth/token" | jq -r .access_token)

KEYWARD_URL="http://127.0.0.1:$PORT" BENCH_AUDIENCE=$API BENCH_LISTEN="127.0.0.1:$APP_PORT" \
  BENCH_TOKEN_CACHE=$TOKEN_CACHE "$APP_BIN" >>"$WORK/app.log" 2>&1 &
APP=$!
PIDS+=($APP)
wait_for "http://127.0.0.1:$APP_PORT/trivial" "$WORK/app.log"
for path in /trivial /guarded; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$APP_PORT$path")
  [[ $status == 200 ]] || { echo "!! $path answered $status with the token" >&2; exit 1; }
done

label="guard-$ALG-cache$TOKEN_CACHE"
[[ $PROFILE == release ]] || label="$label-$PROFILE"
echo "== $label: wrk -t$THREADS -c$CONNS -d${DURATION}s, $REPEAT rounds -> $OUT"
for round in $(seq "$REPEAT"); do
  for scenario in trivial guarded; do
    url="http://127.0.0.1:$APP_PORT/$scenario" res=$WORK/$scenario.json
    run=(env BENCH_SHARED_LUA="$PEERS/lua/bench.lua" BENCH_RESULT="$res"
      wrk -t"$THREADS" -c"$CONNS" --timeout 5s -H "Authorization: Bearer $TOKEN"
      -s "$PEERS/lua/bench.lua")
    (( WARMUP > 0 )) && "${run[@]}" -d"${WARMUP}s" "$url" >/dev/null
    cpu_before=$(awk '{print $14 + $15}' "/proc/$APP/stat")
    "${run[@]}" -d"${DURATION}s" "$url" >/dev/null
    cpu_after=$(awk '{print $14 + $15}' "/proc/$APP/stat")
    jq -c --arg l "$label" --arg s "$scenario" --arg p "/$scenario" --argjson r "$round" \
      --argjson ticks "$((cpu_after - cpu_before))" --argjson hz "$(getconf CLK_TCK)" \
      '{label: $l, scenario: $s, method: "GET", path: $p, round: $r} + .
       + {app_cpu_s: ($ticks / $hz), ok: (.requests > 0 and .non2xx == 0)}' \
      "$res" | tee -a "$OUT" \
      | jq -r '"  round \(.round) \(.scenario): \(.rps) req/s  p50 \(.lat_p50_ms) ms  p99 \(.lat_p99_ms) ms  non2xx \(.non2xx)  app CPU \(.app_cpu_s) s"'
  done
done

jq -rs --arg l "$label" --argjson target "$TARGET" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  [.[] | select(.label == $l)] as $runs
  | ([$runs[] | select(.scenario == "trivial") | .rps] | median) as $trivial
  | ([$runs[] | select(.scenario == "guarded") | .rps] | median) as $guarded
  | ($guarded / $trivial) as $ratio
  | ([$runs[] | .ok] | all) as $ok
  | "\($l): median guarded \($guarded | floor) req/s / median trivial \($trivial | floor) req/s = \($ratio * 1000 | round / 10)% (target \($target * 100)%): \(if $ratio >= $target and $ok then "PASS" else "FAIL" end)\(if $ok then "" else " (non-2xx answers)" end)"
' "$OUT"
