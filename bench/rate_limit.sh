#!/usr/bin/env bash
# What the rate limiter costs: GET /customers/{id} and POST /interactions through wrk with
# RAPPORT_RATE_LIMIT off and on (counted in PostgreSQL, a limit no request reaches), in
# alternate rounds, on the bench workspace. Every request of the run is one user's: the worst
# case, where all of them count on one row.
#
#   bash bench/rate_limit.sh                     # 100,000 customers, 10 s per scenario
#   CUSTOMERS=1000000 DURATION=15s bash bench/rate_limit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CUSTOMERS=${CUSTOMERS:-100000}
DURATION=${DURATION:-10s}
source bench/lib.sh
DATA=$OUT/data-$CUSTOMERS

cargo build --release -q
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/rapport
seed "$BIN" "$DATA"
export RESULTS=$OUT/rate-limit.tsv
: > "$RESULTS"
for round in 1 2; do
  for limit in 0 1000000000; do
    export RAPPORT_RATE_LIMIT=$limit
    state=$([ "$limit" = 0 ] && echo off || echo on)
    start_server "$BIN" "$DATA"
    $PSQL -c "SELECT id FROM customers WHERE workspace_id = '$WS' AND deleted_at IS NULL ORDER BY md5(id::text) LIMIT 10000" > "$OUT/ids.txt"
    $PSQL -c "SELECT id FROM channels WHERE workspace_id = '$WS' AND active" > "$OUT/channels.txt"
    scenario "GET /customers/{id}, limit $state, round $round" get_customer.lua "$CONNS" IDS="$OUT/ids.txt"
    scenario "POST /interactions, limit $state, round $round" post_interaction.lua "$CONNS" IDS="$OUT/ids.txt" CHANNELS="$OUT/channels.txt"
    stop_server
  done
done
echo
echo "Rate limiter cost — $CUSTOMERS customers, release build, $(nproc) cores, wrk -t2 -c$CONNS -d$DURATION, one user"
printf "%-46s %10s %9s %9s %8s %7s\n" "scenario" "req/s" "p50 ms" "p99 ms" "non-2xx" "errors"
while IFS=$'\t' read -r name rps p50 p99 status errors; do
  printf "%-46s %10s %9s %9s %8s %7s\n" "$name" "$rps" "$p50" "$p99" "$status" "$errors"
done < "$RESULTS"
