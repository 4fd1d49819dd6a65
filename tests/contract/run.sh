#!/usr/bin/env bash
# Contract fuzzing: schemathesis generates requests from openapi.yaml for every
# operation and checks the running server's answers against it (no 5xx, only
# documented status codes, content types and schemas).
#
# Builds target/debug/keyward (under CARGO_TARGET_DIR when set; SERVER_BIN
# names a binary to use instead) and, once per
# backend, starts it on a free port with a fresh database and keys directory,
# seeds an organisation, a resource-server client and an API key through the
# management API, runs schemathesis from a virtualenv under target/ pinned by
# requirements.txt, then boundaries.py: every bounded number of openapi.yaml
# at its bound, one past it, and past any 64-bit integer, which must never
# answer 5xx and, out of bounds, must be a 400 naming the field.
#
# The backends: SQLite always, and PostgreSQL when KEYWARD_TEST_POSTGRES_URL
# (an admin URL, as for cargo test) is set: a database is created for the
# run and dropped after it.
#
# CONTRACT_MAX_EXAMPLES bounds the examples per operation (default 100;
# CONTRACT_PG_MAX_EXAMPLES on PostgreSQL, default 20);
# CONTRACT_CHECKS replaces the list of schemathesis checks, to explore.
# Exits non-zero on any finding, and when schemathesis cannot be installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/contract-venv"
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi

if [[ -n "${SERVER_BIN:-}" ]]; then
  binary="$SERVER_BIN"
else
  cargo build --quiet --locked --bin keyward
  binary="${CARGO_TARGET_DIR:-$root/target}/debug/keyward"
fi

work=""
server_pid=""
pg_database=""
stop_server() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
  if [[ -n "$pg_database" ]]; then
    psql -q "$KEYWARD_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)" >/dev/null || true
    pg_database=""
  fi
  if [[ -n "$work" ]]; then rm -rf "$work"; fi
  work=""
}
trap stop_server EXIT

# run_backend NAME: one whole run against a fresh database of backend NAME.
run_backend() {
work="$(mktemp -d)"
case "$1" in
  sqlite) database_url="sqlite://$work/keyward.db" ;;
  postgres)
    pg_database="keyward_contract_$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
    psql -q "$KEYWARD_TEST_POSTGRES_URL" -c "CREATE DATABASE $pg_database" >/dev/null
    database_url="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
      "$KEYWARD_TEST_POSTGRES_URL" "$pg_database")"
    ;;
esac
echo "contract: $1" >&2

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
root_token="contract-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"

# Only the settings named here: inherited KEYWARD_* variables (CI's test
# database URLs, for one) are not settings, and the server refuses unknown ones.
inherited=()
for name in $(compgen -e | grep '^KEYWARD_' || true); do inherited+=(-u "$name"); done
env "${inherited[@]}" \
KEYWARD_LISTEN="127.0.0.1:$port" \
KEYWARD_DATABASE_URL="$database_url" \
KEYWARD_KEYS_DIR="$work/keys" \
KEYWARD_ROOT_TOKEN="$root_token" \
KEYWARD_ADMIN_RATE_LIMIT_PER_MINUTE=100000 \
KEYWARD_LOG="${CONTRACT_LOG:-warn}" \
  "$binary" serve >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "contract: server exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null || { echo "contract: server not ready" >&2; exit 1; }

# admin PATH JSON: creates through the management API and prints the answer.
admin() {
  curl -fsS -X POST "$base$1" -H "Authorization: Bearer $root_token" \
    -H 'Content-Type: application/json' -d "$2"
}
# field NAME: prints member NAME of the JSON object on standard input.
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

org_id="$(admin /admin/v1/orgs '{"name": "contract", "plan": "enterprise"}' | field id)"
clients="/admin/v1/orgs/$org_id/clients"
resource_server="$(admin "$clients" '{"name": "rs", "scopes": ["keyward:introspect"],
  "audiences": ["https://api.contract.test"], "resource_server": true}')"
client_id="$(field client_id <<<"$resource_server")"
client_secret="$(field client_secret <<<"$resource_server")"
# Operations on a client by id may deactivate or delete it: give them another.
path_client_id="$(admin "$clients" '{"name": "target", "scopes": ["payouts:read"]}' | field client_id)"
key_id="$(admin "/admin/v1/orgs/$org_id/api-keys" '{"name": "target", "scopes": ["payouts:read"]}' | field id)"

export CONTRACT_BASE_URL="$base" CONTRACT_ROOT_TOKEN="$root_token" \
  CONTRACT_CLIENT_ID="$client_id" CONTRACT_CLIENT_SECRET="$client_secret" \
  CONTRACT_ORG_ID="$org_id" CONTRACT_PATH_CLIENT_ID="$path_client_id" CONTRACT_KEY_ID="$key_id"

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_schema_conformance,response_headers_conformance
checks+=,unsupported_method,allow_header_conformance,missing_required_header

# fuzz FILTER...: runs schemathesis over the operations FILTER selects.
# It runs in the temporary directory, where hypothesis keeps its files.
fuzz() {
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$root/openapi.yaml" \
    --checks "${CONTRACT_CHECKS:-$checks}" \
    --max-examples "$max_examples" \
    --phases examples,coverage,fuzzing \
    --no-color "$@")
}
# PostgreSQL gets fewer generated examples: what differs between backends is
# storage, which boundaries.py probes in full on both; the many shapes of
# input are the same code, fuzzed in full on SQLite (and CI stays short).
max_examples="${CONTRACT_MAX_EXAMPLES:-100}"
[[ $1 == postgres ]] && max_examples="${CONTRACT_PG_MAX_EXAMPLES:-20}"
# Deletions last, so the other operations find the seeded client and key.
fuzz --exclude-method DELETE || status=$?
"$venv/bin/python" "$here/boundaries.py" "$root/openapi.yaml" || status=$?
fuzz --include-method DELETE || status=$?

if grep -qi 'panicked' "$work/server.log"; then
  grep -i -A3 'panicked' "$work/server.log" >&2
  echo "contract: the server panicked on $1" >&2
  status=1
fi
stop_server
}

status=0
run_backend sqlite
if [[ -n "${KEYWARD_TEST_POSTGRES_URL:-}" ]]; then
  run_backend postgres
else
  echo "contract: KEYWARD_TEST_POSTGRES_URL is not set; PostgreSQL not tested" >&2
fi
exit "$status"
