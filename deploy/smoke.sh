#!/usr/bin/env bash
# Runs a keyward binary the way the container image does, and checks that it
# serves, keeps its one signing key across a restart, passes its own health
# check and stops cleanly on SIGTERM.
#
#   deploy/smoke.sh [path/to/keyward]    (default: target/release/keyward)
#
# As in the image: an unprivileged user (nobody, when run as root), settings
# only from the Dockerfile's ENV lines (paths moved into a temp dir, another
# port), a read-only working directory, and writable data and keys dirs.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:-target/release/keyward}
root_token="kwr_smoke-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

fail() { echo "smoke: FAIL: $*" >&2; [[ -f ${log:-} ]] && sed 's/^/  server: /' "$log" >&2; exit 1; }
step() { echo "smoke: $*"; }

tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

install -d -m 0755 "$tmp/bin" "$tmp/logs"
install -m 0755 "$binary" "$tmp/bin/keyward"
install -d -m 0555 "$tmp/cwd"
install -d -m 0700 "$tmp/data" "$tmp/keys"
chmod 0755 "$tmp"
if [[ $(id -u) == 0 ]]; then
  uid=65534
  chown "$uid:$uid" "$tmp/data" "$tmp/keys" "$tmp/logs"
  as_user=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
else
  as_user=()
fi

port=
for _ in $(seq 50); do
  candidate=$((20000 + RANDOM % 40000))
  if [[ -z $(ss -Hltn "sport = :$candidate") ]]; then port=$candidate; break; fi
done
[[ -n $port ]] || fail "no free port"
base="http://127.0.0.1:$port"

# The image's environment, one `ENV KEY=VALUE` a line, with its paths and port moved.
env_of_image=()
while IFS= read -r line; do
  setting=${line#ENV }
  setting=${setting//\/data/$tmp/data}
  setting=${setting//\/keys/$tmp/keys}
  setting=${setting//:8080/:$port}
  env_of_image+=("$setting")
done < <(grep -E '^ENV KEYWARD_[A-Z_]+=' Dockerfile)
env_of_image+=("KEYWARD_ROOT_TOKEN=$root_token")

keyward() { (cd "$tmp/cwd" && "${as_user[@]}" env -i "${env_of_image[@]}" "$tmp/bin/keyward" "$@"); }

# Every setting the image makes must be one the binary accepts.
if ! probe=$(keyward healthcheck 2>&1) && grep -q '^keyward: setting' <<<"$probe"; then
  echo "smoke: the binary rejects a setting of the image: $probe" >&2
  exit 1
fi

start() {
  log="$tmp/logs/serve-$1.log"
  (cd "$tmp/cwd" && exec "${as_user[@]}" env -i "${env_of_image[@]}" "$tmp/bin/keyward") >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "the server exited at start"
    sleep 0.1
  done
  fail "the server did not come up in 10 s"
}

stop() {
  kill -TERM "$pid"
  local started=$SECONDS status=0
  while kill -0 "$pid" 2>/dev/null; do
    (( SECONDS - started < 5 )) || fail "still running 5 s after SIGTERM"
    sleep 0.1
  done
  wait "$pid" || status=$?
  pid=
  [[ $status == 0 ]] || fail "exit status $status after SIGTERM"
}

signing_keys() { find "$tmp/keys" -maxdepth 1 -name '*.pem' -printf '%f\n' | sort; }

admin() { curl -fsS -H "Authorization: Bearer $root_token" -H 'Content-Type: application/json' "$@"; }

step "first start ($binary, uid ${uid:-$(id -u)}, read-only working directory)"
start 1
curl -fsS "$base/readyz" | jq -e '.status == "ready"' >/dev/null || fail "/readyz is not ready"
keyward healthcheck || fail "keyward healthcheck exited $?"
[[ $(signing_keys | wc -l) == 1 ]] || fail "keys dir holds $(signing_keys | wc -l) signing keys after start"
first_key=$(signing_keys)
[[ -f $tmp/data/keyward.db ]] || fail "no SQLite file in the data dir"

org=$(admin -X POST "$base/admin/v1/orgs" -d '{"name":"Smoke","plan":"enterprise"}' | jq -r .id)
client=$(admin -X POST "$base/admin/v1/orgs/$org/clients" -d '{"name":"smoke","scopes":["smoke:read"]}')
client_id=$(jq -r .client_id <<<"$client")
client_secret=$(jq -r .client_secret <<<"$client")
token() {
  curl -fsS -u "$client_id:$client_secret" -d grant_type=client_credentials "$base/oauth/token" \
    | jq -e -r '.access_token | select(length > 0)' >/dev/null
}
token || fail "no access token"
step "serves: healthz, readyz, healthcheck, a token; one signing key ($first_key)"
stop
step "SIGTERM: exit 0"

start 2
[[ $(signing_keys) == "$first_key" ]] || fail "signing keys changed over a restart: $(signing_keys | tr '\n' ' ')"
token || fail "no access token after the restart"
keyward healthcheck || fail "keyward healthcheck exited $? after the restart"
stop
step "restart: same key, same client, exit 0 on SIGTERM"
if [[ -n $(ls -A "$tmp/cwd") ]]; then fail "the working directory was written to"; fi
step "ok"
