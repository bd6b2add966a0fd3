#!/usr/bin/env bash
# Rapport's fault bench: the release server on a PostgreSQL cluster of its own, under load, a
# database restart (stop -m fast and -m immediate), a server SIGKILL, a SIGTERM drain, hostile
# clients and heavy requests; after each, the check that no acknowledged write was lost or
# written twice and the event log holds one event per acknowledged change. Prints one table;
# exits 1 when a scenario fails its bound.
#
#   bash bench/faults.sh                 # the full run (200 writers for 60 s, 100,000 customers)
#   SHORT=1 bash bench/faults.sh         # the CI version (about 2 minutes)
#   ONLY=load,db bash bench/faults.sh    # some scenarios (load, db, kill, drain, hostile, heavy)
#
# Everything stays on this machine: the server on 127.0.0.1:$PORT, PostgreSQL on
# 127.0.0.1:$PG_PORT with its data under bench/out/faults/ (made anew each run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/bench/out/faults
PORT=${PORT:-8089}
PG_PORT=${PG_PORT:-55439}
SHORT=${SHORT:-}
CUSTOMERS=${CUSTOMERS:-$([ -n "$SHORT" ] && echo 5000 || echo 100000)}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)

cargo build --release -q
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/rapport

# aiohttp (PyPI) in a virtualenv of the bench's own.
VENV=$ROOT/bench/out/venv-faults
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import aiohttp' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'aiohttp>=3.9,<4'
fi

# A cluster of the bench's own (the fault scenarios stop and start it). The tests' postgres
# user runs it when this script runs as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$OUT/pg/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$OUT/pg" -m immediate stop >/dev/null 2>&1 || true; fi
rm -rf "$OUT"
mkdir -p "$OUT"
if [ "$(id -u)" = 0 ]; then chown postgres "$OUT"; fi
as_pg "$PGBIN/initdb" -D "$OUT/pg" -U postgres -A trust >/dev/null
cat >> "$OUT/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$OUT'
max_connections = 200
shared_buffers = 256MB
fsync = on
log_min_duration_statement = 1000
log_lock_waits = on
deadlock_timeout = 200ms
session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 1000
auto_explain.log_nested_statements = on
CONF
as_pg "$PGBIN/pg_ctl" -D "$OUT/pg" -w -l "$OUT/postgres.log" start >/dev/null
# The cluster stops with the script, whatever ends it.
trap 'as_pg "$PGBIN/pg_ctl" -D "$OUT/pg" -m fast stop >/dev/null 2>&1 || true' EXIT
"$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres rapport

export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/rapport
export RAPPORT_JWT_SECRET=fault-bench-secret-0123456789abcdef0123456789 RUST_LOG=warn
echo "--- seeding $CUSTOMERS customers (the heavy scenario's workspace)"
"$BIN" seed --bench --customers "$CUSTOMERS" >"$OUT/seed.log"
"$BIN" admin create --email owner@faults.test --password fault-bench-password --workspace Faults >>"$OUT/seed.log"

ulimit -n "$(ulimit -Hn)"
PG_CTL_AS=()
[ "$(id -u)" = 0 ] && PG_CTL_AS=(--pg-as postgres)
status=0
"$VENV/bin/python" bench/faults.py --bin "$BIN" --pg-bin "$PGBIN" --pg-data "$OUT/pg" --pg-log "$OUT/postgres.log" \
  --pg-port "$PG_PORT" --port "$PORT" --server-log "$OUT/server.log" ${SHORT:+--short} "${PG_CTL_AS[@]}" || status=$?
as_pg "$PGBIN/pg_ctl" -D "$OUT/pg" -m fast stop >/dev/null 2>&1 || true
exit $status
