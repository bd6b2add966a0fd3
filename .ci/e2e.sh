#!/usr/bin/env bash
# End-to-end checks as an integrator meets Rapport, against a real server on a throwaway embedded
# PostgreSQL started with `serve --demo`:
#   1. spec:    openapi-spec-validator on the served /api-docs/openapi.json
#   2. browser: Swagger UI in Chromium: log in, Authorize, Try it out every GET and POST /customers
#   3. client:  a client generated from the served spec (openapi-typescript + openapi-fetch),
#               compiled with tsc --strict, then run
#   4. readme:  the README's "A curl session", as written
# Every step runs even when an earlier one failed; one line per step at the end; exit 1 if any
# failed.
#
#   bash .ci/e2e.sh
#   RAPPORT_BIN=/path/to/rapport bash .ci/e2e.sh    # use that binary instead of building one
#   E2E_PORT=18081  E2E_STEPS="spec client"         # port; a subset of the steps
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${E2E_PORT:-18081}
VENV=${E2E_VENV:-$ROOT/target/e2e-venv}
VALIDATOR_VERSION=0.9.0
STEPS=${E2E_STEPS:-spec browser client readme}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- what a fresh Debian machine lacks
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "--- installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "e2e: Node.js $(node --version) is too old: playwright-core needs 20 or later" >&2
  exit 1
fi
if [ ! -f "$VENV/.openapi-spec-validator-$VALIDATOR_VERSION" ]; then
  echo "--- openapi-spec-validator $VALIDATOR_VERSION in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "openapi-spec-validator==$VALIDATOR_VERSION"
  touch "$VENV/.openapi-spec-validator-$VALIDATOR_VERSION"
fi
echo "--- npm ci --prefix e2e"
npm ci --prefix e2e --no-audit --no-fund --loglevel=error

# --- the server
if [ -n "${RAPPORT_BIN:-}" ]; then
  BIN=$RAPPORT_BIN
else
  echo "--- cargo build"
  cargo build -q --bin rapport
  BIN=$ROOT/target/debug/rapport
fi
DATA=$(mktemp -d /tmp/rapport-e2e.XXXXXX)
chmod 755 "$DATA" # as root, PostgreSQL runs as the postgres user and must reach its data
unset DATABASE_URL
export RAPPORT_DATA_DIR=$DATA/data RAPPORT_PORT=$PORT RUST_LOG=${RUST_LOG:-warn}
export RAPPORT_LOGIN_MAX_FAILURES=1000000 RAPPORT_LOGIN_MAX_FAILURES_PER_IP=1000000
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT
# The demo workspace is made before the server listens (seconds; longer on a cold, busy machine).
"$BIN" serve --demo >"$DATA/server.log" 2>&1 &
SERVER=$!
export RAPPORT_URL=http://127.0.0.1:$PORT
export DEMO_EMAIL=${DEMO_EMAIL:-demo@rapport.local} DEMO_PASSWORD=${DEMO_PASSWORD:-demo-password}
for _ in $(seq 1 600); do
  curl -sf "$RAPPORT_URL/health/ready" >/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.5
done
if ! curl -sf "$RAPPORT_URL/health/ready" >/dev/null; then
  echo "e2e: the server did not become ready on $RAPPORT_URL" >&2
  cat "$DATA/server.log" >&2
  exit 1
fi
echo "--- server ready: $RAPPORT_URL ($BIN), login $DEMO_EMAIL"

# --- the steps
results=()
failed=0
step() { # step NAME SECONDS COMMAND...: runs it, bounded in time, and records one line
  local name=$1 limit=$2 started status
  shift 2
  echo
  echo "=== $name"
  started=$SECONDS
  if timeout --kill-after=10 "$limit" "$@"; then status=ok; else status="FAIL (exit $?)"; failed=$((failed + 1)); fi
  results+=("$(printf '%-26s %-14s %4ss' "$name" "$status" $((SECONDS - started)))")
}
wants() { [[ " $STEPS " == *" $1 "* ]]; }

if wants spec; then
  step "spec: openapi-spec-validator" 120 bash -c '
    curl -fsS "$RAPPORT_URL/api-docs/openapi.json" -o "$1" && "$2/bin/openapi-spec-validator" "$1"' _ "$DATA/openapi.json" "$VENV"
fi
if wants browser; then
  step "browser: Swagger UI" 600 node e2e/swagger.mjs
fi
if wants client; then
  rm -rf e2e/client/dist e2e/client/schema.d.ts
  step "client: openapi-typescript" 120 e2e/node_modules/.bin/openapi-typescript "$RAPPORT_URL/api-docs/openapi.json" -o e2e/client/schema.d.ts
  if [ -f e2e/client/schema.d.ts ]; then
    # tsc emits even with type errors: the scenario still runs, to tell the spec's types from the
    # server's behaviour.
    step "client: tsc --strict" 300 e2e/node_modules/.bin/tsc -p e2e/client/tsconfig.json
  fi
  if [ -f e2e/client/dist/scenario.js ]; then
    step "client: scenario" 300 node e2e/client/dist/scenario.js
  fi
fi
if wants readme; then
  step "readme: A curl session" 300 bash e2e/readme.sh
fi

if ! kill -0 "$SERVER" 2>/dev/null; then
  results+=("the server exited during the run: see its log below")
  failed=$((failed + 1))
fi
echo
echo "=== e2e results ($RAPPORT_URL)"
for r in "${results[@]}"; do echo "  $r"; done
if [ "$failed" -gt 0 ]; then
  echo "--- server log (last 40 lines)"
  tail -n 40 "$DATA/server.log" || true
fi
echo "e2e: $((${#results[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
