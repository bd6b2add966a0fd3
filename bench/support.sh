#!/usr/bin/env bash
# Support bench: GET /analytics/support over 90 days (p50 of $CALLS sequential calls, warm) and
# its scan floor (a bare count(*) over the rows the statement must read), on the bench workspace
# with two cases per customer over 18 months (2,000,000 at the default 1,000,000 customers),
# added once per data directory; then POST /cases with wrk at $CONNS connections.
#
#   bash bench/support.sh                    # 1,000,000 customers, 2,000,000 cases
#   CUSTOMERS=100000 bash bench/support.sh   # smaller
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

# The cases, their status history and facts, written straight in SQL (as the seed writes its
# interactions) in the order they happen: opened over 18 months, answered within 10 hours,
# solved within 4 days, closed 4 days later; the last week's partly still open. Calendar due
# times from the policy below.
if [ ! -f "$DATA/cases-v2" ]; then
  start=$(date +%s)
  $PSQL <<SQL
BEGIN;
DELETE FROM case_status_changes WHERE workspace_id = '$WS';
DELETE FROM cases WHERE workspace_id = '$WS';
DELETE FROM sla_policies WHERE workspace_id = '$WS' AND name = 'Bench policy';
INSERT INTO sla_policies (workspace_id, id, name, targets, business_hours)
VALUES ('$WS', gen_random_uuid(), 'Bench policy',
        '{"normal": {"first_response_minutes": 240, "resolution_minutes": 2400}}', false);
CREATE TEMP TABLE c ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, row_number() OVER () AS number, cu.id AS customer_id,
       (SELECT array_agg(id) FROM channels WHERE workspace_id = '$WS') AS channels,
       now() - random() * interval '548 days' AS created_at,
       random() AS r1, random() AS r2, random() AS r3
  FROM customers cu, generate_series(1, 2)
 WHERE cu.workspace_id = '$WS' AND cu.deleted_at IS NULL;
CREATE TEMP TABLE f ON COMMIT DROP AS
SELECT c.*, created_at + r1 * interval '600 minutes' AS responded_at,
       created_at + r2 * interval '4 days' AS solved_at,
       created_at + r2 * interval '4 days' + interval '4 days' AS closed_at
  FROM c;
INSERT INTO cases (workspace_id, id, number, customer_id, subject, status, priority, channel_id, tags, sla_policy_id,
                   first_response_due_at, resolution_due_at, first_responded_at, solved_at, closed_at, reopened,
                   satisfaction, first_response_business_seconds, resolution_business_seconds, answered_at, created_at,
                   updated_at)
SELECT '$WS', id, number, customer_id, 'Bench case',
       CASE WHEN solved_at >= now() THEN 'open' WHEN closed_at >= now() THEN 'solved' ELSE 'closed' END,
       (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + floor(r3 * 5)::int],
       channels[1 + floor(r3 * 3)::int], ARRAY[(ARRAY['billing', 'bug', 'how-to'])[1 + floor(r1 * 3)::int]],
       (SELECT id FROM sla_policies WHERE workspace_id = '$WS' AND name = 'Bench policy'),
       created_at + interval '240 minutes', created_at + interval '2400 minutes',
       CASE WHEN responded_at < now() THEN responded_at END,
       CASE WHEN solved_at < now() THEN solved_at END,
       CASE WHEN closed_at < now() THEN closed_at END, 0,
       CASE WHEN solved_at < now() AND r3 < 0.6 THEN (CASE WHEN r1 < 0.85 THEN 'good' ELSE 'bad' END) END,
       CASE WHEN responded_at < now() THEN (extract(epoch FROM responded_at - created_at) * 0.3)::bigint END,
       CASE WHEN solved_at < now() THEN (extract(epoch FROM solved_at - created_at) * 0.3)::bigint END,
       CASE WHEN least(responded_at, solved_at) < now() THEN least(responded_at, solved_at) END,
       created_at, created_at
  FROM f ORDER BY created_at;
SELECT setval(format('case_numbers.%I', '$WS'), greatest(count(*), 1), count(*) > 0) FROM c;
INSERT INTO case_status_changes (workspace_id, id, case_id, from_status, to_status, changed_at)
SELECT '$WS', gen_random_uuid(), id, s.from_status, s.to_status, s.at
  FROM f, LATERAL (VALUES (NULL, 'new', created_at), ('new', 'open', responded_at), ('open', 'solved', solved_at),
                          ('solved', 'closed', closed_at)) AS s (from_status, to_status, at)
 WHERE s.at < now()
 ORDER BY s.at;
COMMIT;
ANALYZE cases; ANALYZE case_status_changes;
SQL
  echo $(( $(date +%s) - start )) > "$DATA/cases-v2"
fi
CASES=$($PSQL -c "SELECT count(*) FROM cases WHERE workspace_id = '$WS'")
CHANGES=$($PSQL -c "SELECT count(*) FROM case_status_changes WHERE workspace_id = '$WS'")

W90="now() - interval '2160 hours'"
# The rows the statement must read: the cases of the window, its reopenings, and the status
# changes since its end (none when it ends now).
FLOOR="SELECT (SELECT count(*) FROM cases WHERE workspace_id = '$WS'
                 AND (created_at >= $W90 OR solved_at >= $W90 OR answered_at >= $W90
                      OR status NOT IN ('solved', 'closed')))
            + (SELECT count(*) FROM case_status_changes WHERE workspace_id = '$WS' AND changed_at >= $W90
                 AND from_status = 'solved' AND to_status = 'open')"
python3 - "$PORT" "$TOKEN" "${CALLS:-20}" "$FLOOR" $PSQL > "$OUT/support.tsv" <<'PY'
import statistics, subprocess, sys, time, urllib.request
port, token, n, floor, psql = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
def timed(f):
    f()
    out = []
    for _ in range(n):
        t = time.perf_counter(); f(); out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)
for name, path in [("support, 90 days", "/api/v1/analytics/support"),
                   ("support by priority, 90 days", "/api/v1/analytics/support?group_by=priority"),
                   ("support by tag, 90 days", "/api/v1/analytics/support?group_by=tag")]:
    req = lambda: urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": "Bearer " + token})).read()
    p50 = timed(req)
    rows = subprocess.run(psql + ["-c", floor], capture_output=True, text=True, check=True).stdout.strip()
    f50 = timed(lambda: subprocess.run(psql + ["-c", floor], capture_output=True, check=True))
    print(f"{name}\t{p50:.1f}\t{rows}\t{f50:.1f}\t{p50 / f50:.2f}")
PY

$PSQL -c "SELECT id FROM customers WHERE workspace_id = '$WS' AND deleted_at IS NULL ORDER BY md5(id::text) LIMIT 10000" > "$OUT/ids.txt"
$PSQL -c "SELECT id FROM channels WHERE workspace_id = '$WS' AND active" > "$OUT/channels.txt"
POLICY=$($PSQL -c "SELECT id FROM sla_policies WHERE workspace_id = '$WS' AND name = 'Bench policy'")
export RESULTS=$OUT/support-results.tsv
: > "$RESULTS"
scenario "POST /cases" post_case.lua "$CONNS" IDS="$OUT/ids.txt" CHANNELS="$OUT/channels.txt" POLICY="$POLICY"

echo
echo "Rapport support benchmark — $CUSTOMERS customers, $CASES cases, $CHANGES status changes (cases added in $(cat "$DATA/cases-v2") s)"
echo
printf "%-34s %9s %11s %10s %7s\n" "analytics (p50 of ${CALLS:-20})" "p50 ms" "rows read" "floor ms" "÷floor"
while IFS=$'\t' read -r name p50 rows floor ratio; do
  printf "%-34s %9s %11s %10s %7s\n" "$name" "$p50" "$rows" "$floor" "$ratio"
done < "$OUT/support.tsv"
echo
printf "%-34s %10s %9s %9s %8s %7s\n" "scenario (wrk -c$CONNS -d$DURATION)" "req/s" "p50 ms" "p99 ms" "non-2xx" "errors"
while IFS=$'\t' read -r name rps p50 p99 status errors; do
  printf "%-34s %10s %9s %9s %8s %7s\n" "$name" "$rps" "$p50" "$p99" "$status" "$errors"
done < "$RESULTS"
