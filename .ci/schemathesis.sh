#!/usr/bin/env bash
# Fuzzes every operation of the served spec with Schemathesis (all checks) against a real
# server on a throwaway embedded PostgreSQL, logged in to the demo workspace (the document's
# examples, which Schemathesis sends first, name its rows). Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-50}
PORT=${SCHEMATHESIS_PORT:-18080}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q schemathesis==4.32.5
fi
cargo build -q --bin rapport
DATA=$(mktemp -d /tmp/rapport-fuzz.XXXXXX)
chmod 755 "$DATA" # as root, PostgreSQL runs as the postgres user and must reach its data
unset DATABASE_URL
RAPPORT_DATA_DIR=$DATA/data RAPPORT_PORT=$PORT RAPPORT_ALLOW_SIGNUP=true RUST_LOG=warn \
RAPPORT_ADMIN_EMAIL=owner@fuzz.test RAPPORT_ADMIN_PASSWORD=fuzz-owner-password \
RAPPORT_LOGIN_MAX_FAILURES=1000000 RAPPORT_LOGIN_MAX_FAILURES_PER_IP=1000000 \
  "$ROOT/target/debug/rapport" serve --demo > "$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
# The demo workspace is made before the server listens: the document's examples name its rows.
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null || { cat "$DATA/server.log"; exit 1; }
# The fuzzer acts as an owner of the demo workspace of its own: the demo's owner is named by
# the document's examples, and a password change the fuzzer makes to it would end the session.
DEMO=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"demo@rapport.local","password":"demo-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf "http://127.0.0.1:$PORT/api/v1/users" -H "Authorization: Bearer $DEMO" -H 'content-type: application/json' \
  -d '{"email":"fuzz@rapport.local","name":"Fuzz","password":"fuzz-owner-password","role":"owner"}' >/dev/null
TOKEN=$(curl -sf "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"fuzz@rapport.local","password":"fuzz-owner-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# For the hooks, which reference live rows (see .ci/schemathesis_hooks.py).
export FUZZ_API="http://127.0.0.1:$PORT/api/v1" FUZZ_TOKEN=$TOKEN
FUZZ_USER_ID=$(curl -sf "$FUZZ_API/me" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
export FUZZ_USER_ID
# One worker: Python 3.11.7's ast.parse is not thread-safe (CPython gh-106905), and Hypothesis
# parses lambda sources when it describes a strategy, so two workers fail now and then with
# "AST constructor recursion depth mismatch" whatever Rapport answers.
SCHEMATHESIS_HOOKS=$ROOT/.ci/schemathesis_hooks.py "$VENV/bin/schemathesis" --config-file "$ROOT/.ci/schemathesis.toml" run \
  "http://127.0.0.1:$PORT/api-docs/openapi.json" \
  --checks all --max-examples "$EXAMPLES" --workers 1 --seed "${SCHEMATHESIS_SEED:-1}" \
  -H "Authorization: Bearer $TOKEN" --no-color
