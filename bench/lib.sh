# Shared by the benchmark scripts (sourced): the tools, the server's settings, starting and
# stopping a server on a data directory, logging in, one wrk scenario.
ROOT=${ROOT:-$(pwd)}
CUSTOMERS=${CUSTOMERS:-1000000}
DURATION=${DURATION:-15s}
CONNS=${CONNS:-64}
PORT=${PORT:-8088}
OUT=$ROOT/bench/out
mkdir -p "$OUT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)

unset DATABASE_URL
export RAPPORT_PORT=$PORT RAPPORT_ACCESS_TOKEN_TTL_SECS=86400 RUST_LOG=warn
export RAPPORT_LOGIN_MAX_FAILURES=1000 RAPPORT_DB_MAX_CONNECTIONS=${DB_CONNECTIONS:-32}
export WRK_DIR=$ROOT/bench/wrk

# seed BIN DATA: seeds DATA once (the bench workspace, $CUSTOMERS customers); SEED_SECONDS is
# how long the seed took.
seed() {
  local bin=$1 data=$2
  if [ ! -f "$data/seeded-v3" ]; then
    rm -rf "$data"
    local start end
    start=$(date +%s.%N)
    RAPPORT_DATA_DIR=$data "$bin" seed --bench --customers "$CUSTOMERS" | tee "$OUT/seed-$CUSTOMERS.log"
    end=$(date +%s.%N)
    echo "$start $end" | awk '{printf "%.1f\n", $2 - $1}' > "$data/seeded-v3"
  fi
  SEED_SECONDS=$(cat "$data/seeded-v3")
}

# start_server BIN DATA: serves DATA (its embedded PostgreSQL) until stop_server; sets SERVER,
# PSQL (a psql command on its database), TOKEN (the bench user's) and WS (the workspace id).
start_server() {
  local bin=$1 data=$2
  RAPPORT_DATA_DIR=$data "$bin" serve > "$OUT/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/server.log"; return 1; }
    sleep 0.5
  done
  PSQL="$PGBIN/psql -h $(realpath "$data")/run -U postgres -d rapport -Atq"
  TOKEN=$(curl -s "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"bench@rapport.local","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  export TOKEN
  WS=$($PSQL -c "SELECT id FROM workspaces WHERE name = 'Bench'")
}

stop_server() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}

# scenario NAME SCRIPT CONNECTIONS [VAR=value...]: one wrk run; its line lands in $RESULTS.
scenario() {
  local name=$1 script=$2 conns=$3
  shift 3
  env SCENARIO="$name" "$@" wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$WRK_DIR/$script" "http://127.0.0.1:$PORT" > "$OUT/wrk-$(echo "$name" | tr -c "A-Za-z0-9" "_").log"
}
