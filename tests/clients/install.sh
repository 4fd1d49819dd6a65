#!/usr/bin/env bash
# Installs the real clients of tests/api/real_clients.rs (and the SMTP server
# of tests/api/email.rs) at their pinned
# versions: authlib (python/requirements.txt) into a virtualenv under target/
# (CARGO_TARGET_DIR when set), openid-client and oauth4webapi (node/package-lock.json) into
# node/node_modules. Each is reinstalled only when its pins changed, so a
# second run takes no time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

venv="${CARGO_TARGET_DIR:-$root/target}/clients-venv"
stamp="$venv/.requirements"
if ! cmp -s "$here/python/requirements.txt" "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/python/requirements.txt"
  cp "$here/python/requirements.txt" "$stamp"
fi

# npm ci empties node_modules first, so the stamp goes with a stale install.
node="$here/node"
stamp="$node/node_modules/.keyward-package-lock.json"
if ! cmp -s "$node/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$node" && npm ci --silent --no-audit --no-fund)
  cp "$node/package-lock.json" "$stamp"
fi
