#!/usr/bin/env bash
# Rapport benchmark. Seeds (once per size) a synthetic workspace in an embedded PostgreSQL under
# bench/out, starts the release server on it, runs wrk scenarios (and pgbench for the floor of
# a primary-key lookup), and prints one table.
#
#   bash bench/run.sh                      # 1,000,000 customers, ~10,000,000 interactions
#   CUSTOMERS=100000 bash bench/run.sh     # smaller
#   DURATION=30s CONNS=64 bash bench/run.sh
#   ONLY=analytics bash bench/run.sh       # only the analytics timings (p50 of 20 sequential calls)
#   ONLY=reports bash bench/run.sh         # only the saved reports' run times
#   ONLY=scenarios bash bench/run.sh       # only the wrk scenarios, the import and the pgbench floor
#   IMPORT_ROWS=1000000 bash bench/run.sh  # rows of the import file (default 100,000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bench/lib.sh
DATA=$OUT/data-$CUSTOMERS

cargo build --release -q
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/rapport
seed "$BIN" "$DATA"
start_server "$BIN" "$DATA"
trap stop_server EXIT
SOCKET=$(realpath "$DATA")/run

rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$SERVER/status"; }
IDLE_RSS=$(rss)
MAX_RSS=$IDLE_RSS
( while kill -0 "$SERVER" 2>/dev/null; do rss; sleep 0.5; done ) > "$OUT/rss.txt" 2>/dev/null &
RSS_SAMPLER=$!

export RESULTS=$OUT/results.tsv
: > "$RESULTS"
$PSQL -c "SELECT id FROM customers WHERE workspace_id = '$WS' AND deleted_at IS NULL ORDER BY md5(id::text) LIMIT 10000" > "$OUT/ids.txt"
$PSQL -c "SELECT id FROM channels WHERE workspace_id = '$WS' AND active" > "$OUT/channels.txt"
HEAVY=$($PSQL -c "SELECT customer_id FROM interactions WHERE workspace_id = '$WS' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
HEAVY_COUNT=$($PSQL -c "SELECT count(*) FROM interactions WHERE workspace_id = '$WS' AND customer_id = '$HEAVY'")
TOTALS=$($PSQL -c "SELECT (SELECT count(*) FROM customers WHERE workspace_id = '$WS') || ' customers, ' || (SELECT count(*) FROM interactions WHERE workspace_id = '$WS') || ' interactions, ' || (SELECT count(*) FROM deals WHERE workspace_id = '$WS') || ' deals, ' || (SELECT count(*) FROM deal_stage_events WHERE workspace_id = '$WS') || ' stage events'")
print_reports() {
  echo
  echo "Saved reports (the seed's, one per kind) — p50 of ${REPORT_CALLS:-5} runs through POST /reports/{id}/runs"
  printf "%-13s %-38s %9s %11s %9s\n" "kind" "report" "run ms" "request ms" "CSV rows"
  python3 bench/reports.py "http://127.0.0.1:$PORT" "$TOKEN" "${REPORT_CALLS:-5}" | while IFS=$'\t' read -r kind name run req rows; do
    printf "%-13s %-38s %9s %11s %9s\n" "$kind" "$name" "$run" "$req" "$rows"
  done
}
if [ "${ONLY:-}" = reports ]; then
  echo "Rapport benchmark — $TOTALS"
  print_reports
  exit 0
fi
# Analytics: p50 of 20 sequential calls each, warm, and the scan floor of each (a bare count of
# the rows it reads); see bench/analytics.py. EXPLAIN output: python3 bench/explain.py $PSQL_CMD.
SALES=$($PSQL -c "SELECT id FROM pipelines WHERE workspace_id = '$WS' AND name = 'Sales'")
BUYER=$($PSQL -c "SELECT customer_id FROM interactions WHERE workspace_id = '$WS' AND kind = 'purchase' ORDER BY md5(id::text) LIMIT 1")
if [ "${ONLY:-}" != scenarios ]; then
  python3 bench/analytics.py "http://127.0.0.1:$PORT" "$TOKEN" "$SALES" "${CALLS:-20}" "$BUYER" \
    "$PGBIN/psql" -h "$SOCKET" -U postgres -d rapport > "$OUT/analytics-$CUSTOMERS.tsv"
fi
# Growth: this size's p50 over that of the last run at the other size (100,000 for 1,000,000
# and the other way round), where there is one: 10 for 10 times the data is linear.
OTHER=$([ "$CUSTOMERS" = 100000 ] && echo 1000000 || echo 100000)
print_analytics() {
  echo
  echo "Analytics — p50 of ${CALLS:-20} sequential calls (warm); floor: p50 of a bare count(*) over the rows read"
  [ -f "$OUT/analytics-$OTHER.tsv" ] && echo "growth: p50 here ÷ p50 at $OTHER customers (bench/out/analytics-$OTHER.tsv)"
  printf "%-42s %9s %9s %11s %10s %7s %7s\n" "scenario" "p50 ms" "max ms" "rows read" "floor ms" "÷floor" "growth"
  while IFS=$'\t' read -r name p50 _min max _bytes rows floor ratio; do
    other=$(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$OUT/analytics-$OTHER.tsv" 2>/dev/null || true)
    growth=$([ -n "$other" ] && awk -v a="$p50" -v b="$other" 'BEGIN {printf "%.1f", a / b}' || echo -)
    printf "%-42s %9s %9s %11s %10s %7s %7s\n" "$name" "$p50" "$max" "$rows" "$floor" "$ratio" "$growth"
  done < "$OUT/analytics-$CUSTOMERS.tsv"
}
if [ "${ONLY:-}" = analytics ]; then
  echo "Rapport benchmark — $TOTALS"
  print_analytics
print_reports
  exit 0
fi


$PSQL -c "SELECT id || ' ' || stage_id FROM deals WHERE workspace_id = '$WS' ORDER BY md5(id::text) LIMIT 10000" > "$OUT/deals.txt"
$PSQL -c "SELECT s.id FROM stages s JOIN pipelines p ON p.workspace_id = s.workspace_id AND p.id = s.pipeline_id WHERE s.workspace_id = '$WS' AND p.name = 'Sales' AND s.kind = 'open' AND s.archived_at IS NULL" > "$OUT/stages.txt"
# Three-letter prefixes people type: of first and last names.
$PSQL -c "SELECT DISTINCT lower(left(split_part(name, ' ', k), 3)) FROM (SELECT name FROM customers WHERE workspace_id = '$WS' LIMIT 5000) c, generate_series(1, 2) k WHERE length(split_part(name, ' ', k)) >= 3" \
  | python3 -c 'import sys, urllib.parse; [print(urllib.parse.quote(l.strip())) for l in sys.stdin if l.strip()]' > "$OUT/prefixes.txt"
# The page after following 2,000 cursors.
DEEP=$(python3 - "$PORT" "$TOKEN" <<'PY'
import json, sys, urllib.parse, urllib.request
port, token = sys.argv[1], sys.argv[2]
path = "/api/v1/customers?limit=50"
for _ in range(2000):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    if page["next_cursor"] is None:  # a workspace of at most 100,000: its last page
        break
    path = "/api/v1/customers?limit=50&cursor=" + urllib.parse.quote(page["next_cursor"])
print(path)
PY
)
python3 bench/batch.py "$OUT/ids.txt" "$OUT/channels.txt" > "$OUT/batch.json"

scenario "GET /customers/{id}" get_customer.lua "$CONNS" IDS="$OUT/ids.txt"
scenario "GET /customers?limit=50 (first page)" get_path.lua "$CONNS" TARGET="/api/v1/customers?limit=50"
scenario "GET /customers?limit=50 (after 2000 cursors)" get_path.lua "$CONNS" TARGET="$DEEP"
scenario "GET /customers?q=<3-letter prefix>" search.lua "$CONNS" PREFIXES="$OUT/prefixes.txt"
scenario "GET /customers/{heaviest}/timeline" get_path.lua "$CONNS" TARGET="/api/v1/customers/$HEAVY/timeline?limit=50"
# Moves: afterwards the history must hold exactly one new event per successful move (each
# successful PATCH bumps the deal's version), and every deal's chain must be unbroken.
DEAL_IDS="SELECT split_part(l, ' ', 1)::uuid FROM unnest(string_to_array(pg_read_file('$OUT/deals.txt'), E'\\n')) l WHERE l <> ''"
moves_state() { $PSQL -c "SELECT (SELECT count(*) FROM deal_stage_events WHERE workspace_id = '$WS' AND deal_id IN ($DEAL_IDS)) || ' ' || (SELECT sum(version) FROM deals WHERE workspace_id = '$WS' AND id IN ($DEAL_IDS))"; }
read -r EVENTS_BEFORE VERSIONS_BEFORE <<< "$(moves_state)"
scenario "PATCH /deals/{id} (move stage)" move_deal.lua "$CONNS" DEALS="$OUT/deals.txt" STAGES="$OUT/stages.txt"
read -r EVENTS_AFTER VERSIONS_AFTER <<< "$(moves_state)"
BROKEN=$($PSQL -c "SELECT count(*) FROM (SELECT from_stage_id, lag(to_stage_id) OVER (PARTITION BY deal_id ORDER BY changed_at, id) AS prev FROM deal_stage_events WHERE workspace_id = '$WS' AND deal_id IN ($DEAL_IDS)) e WHERE e.prev IS NOT NULL AND e.from_stage_id IS DISTINCT FROM e.prev")
STRAYED=$($PSQL -c "SELECT count(*) FROM deals d WHERE d.workspace_id = '$WS' AND d.id IN ($DEAL_IDS) AND d.stage_id <> (SELECT to_stage_id FROM deal_stage_events e WHERE e.workspace_id = d.workspace_id AND e.deal_id = d.id ORDER BY changed_at DESC, id DESC LIMIT 1)")
scenario "POST /interactions" post_interaction.lua "$CONNS" IDS="$OUT/ids.txt" CHANNELS="$OUT/channels.txt"
scenario "POST /interactions/batch (1000)" post_batch.lua 4 BATCH="$OUT/batch.json"
# Import: one CSV of new customers, then the same rows with another city (updates); one request
# each. The imported customers go afterwards, so that the workspace keeps the size it was seeded
# with for the next run.
python3 bench/import.py "http://127.0.0.1:$PORT" "$TOKEN" "${IMPORT_ROWS:-100000}" > "$OUT/import.tsv"
$PSQL -c "DELETE FROM customers WHERE workspace_id = '$WS' AND email LIKE '%@import.bench.example'"

# The floor: the same primary-key select straight from pgbench, 64 clients, prepared.
$PSQL -c "CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.ids; CREATE TABLE bench.ids (n int PRIMARY KEY, id uuid)"
$PSQL -c "INSERT INTO bench.ids SELECT row_number() OVER (), id FROM customers WHERE workspace_id = '$WS' ORDER BY md5(id::text) LIMIT 10000"
cat > "$OUT/pgbench.sql" <<SQL
\set n random(1, 10000)
SELECT * FROM customers WHERE workspace_id = '$WS' AND deleted_at IS NULL AND id = (SELECT id FROM bench.ids WHERE n = :n);
SQL
PGBENCH_TPS=$("$PGBIN/pgbench" -h "$SOCKET" -U postgres -n -M prepared -c "$CONNS" -j 2 -T "${DURATION%s}" -f "$OUT/pgbench.sql" rapport 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}')
kill "$RSS_SAMPLER" 2>/dev/null || true
MAX_RSS=$(sort -n "$OUT/rss.txt" | tail -n1)

echo
echo "Rapport benchmark — $TOTALS (seeded in ${SEED_SECONDS} s); heaviest customer: $HEAVY_COUNT interactions"
echo "release build, $(nproc) cores, wrk -t2 -c$CONNS -d$DURATION on the same machine (batch: -c4)"
echo
printf "%-46s %10s %9s %9s %8s %7s\n" "scenario" "req/s" "p50 ms" "p99 ms" "non-2xx" "errors"
while IFS=$'\t' read -r name rps p50 p99 status errors; do
  printf "%-46s %10s %9s %9s %8s %7s\n" "$name" "$rps" "$p50" "$p99" "$status" "$errors"
done < "$RESULTS"
echo
printf "%-46s %10s %9s %9s %9s %8s\n" "import (one request, CSV)" "rows/s" "seconds" "created" "updated" "rejected"
while IFS=$'\t' read -r name rate seconds created updated rejected; do
  printf "%-46s %10s %9s %9s %9s %8s\n" "$name" "$rate" "$seconds" "$created" "$updated" "$rejected"
done < "$OUT/import.tsv"
GET_RPS=$(awk -F'\t' 'NR==1 {print $2}' "$RESULTS")
printf "%-46s %10s\n" "pgbench, same primary-key select (tps)" "$PGBENCH_TPS"
echo "GET /customers/{id} ÷ pgbench: $(python3 -c "print(round($GET_RPS / $PGBENCH_TPS, 2))")"
echo "server RSS: idle ${IDLE_RSS} MB, max under load ${MAX_RSS} MB"
echo "deal moves: $((VERSIONS_AFTER - VERSIONS_BEFORE)) successful, $((EVENTS_AFTER - EVENTS_BEFORE)) new history events; broken chains: $BROKEN; deals not at their last event's stage: $STRAYED"
if [ "${ONLY:-}" != scenarios ]; then
  print_analytics
  print_reports
fi
