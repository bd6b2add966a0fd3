#!/usr/bin/env bash
# The cost of a change on the write path: the release servers of BASE (a git revision) and of
# the working tree, each on its own copy of the same seeded data, run the same scenarios in
# alternate rounds in one run, and one table gives each scenario's figures side by side.
#
#   BASE=1e9d9b2 bash bench/compare.sh              # 1,000,000 customers, 2 rounds (reads, single and batch writes, deal moves)
#   BASE=HEAD~3 CUSTOMERS=100000 ROUNDS=3 bash bench/compare.sh
#
# The data is seeded by BASE's binary, copied, and the copy migrated by the working tree's (a
# BASE without the working tree's migrations must be older than it). Both copies are vacuumed
# and analysed before the first round; the rounds alternate so that the rows each one writes
# weigh on both alike.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bench/lib.sh
BASE=${BASE:?BASE=<git revision> to compare with}
ROUNDS=${ROUNDS:-2}
DIR=$OUT/compare-$CUSTOMERS-$(git rev-parse --short "$BASE")

# The two binaries. BASE's builds in a target directory of its own (kept, with the binary, for
# the next comparison): built in the working tree's, its crate would overwrite the working
# tree's under the same name, and cargo would still hold the working tree's build fresh, so the
# "head" binary (and every later build) would be BASE's.
BASE_SHA=$(git rev-parse --short "$BASE")
if [ ! -x "$OUT/rapport-$BASE_SHA" ]; then
  rm -rf "$OUT/base-src"
  git worktree prune
  git worktree add -f --detach "$OUT/base-src" "$BASE" >/dev/null
  (cd "$OUT/base-src" && CARGO_TARGET_DIR=$OUT/base-target cargo build --release -q)
  cp "$OUT/base-target/release/rapport" "$OUT/rapport-$BASE_SHA"
  git worktree remove --force "$OUT/base-src"
fi
cp "$OUT/rapport-$BASE_SHA" "$OUT/rapport-base"
HEAD_DESC="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src migrations Cargo.toml Cargo.lock || echo ', modified')"
cargo build --release -q
cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/rapport" "$OUT/rapport-head"

if [ ! -f "$DIR/ready" ]; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  seed "$OUT/rapport-base" "$DIR/base"
  cp -a "$DIR/base" "$DIR/head"
  for side in base head; do
    start_server "$OUT/rapport-$side" "$DIR/$side"
    $PSQL -c "VACUUM ANALYZE"
    stop_server
  done
  touch "$DIR/ready"
fi

export RESULTS=$OUT/compare.tsv
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for side in base head; do
    start_server "$OUT/rapport-$side" "$DIR/$side"
    $PSQL -c "SELECT id FROM customers WHERE workspace_id = '$WS' AND deleted_at IS NULL ORDER BY md5(id::text) LIMIT 10000" > "$OUT/ids.txt"
    $PSQL -c "SELECT id FROM channels WHERE workspace_id = '$WS' AND active ORDER BY id" > "$OUT/channels.txt"
    python3 bench/batch.py "$OUT/ids.txt" "$OUT/channels.txt" > "$OUT/batch.json"
    scenario "$side	GET /customers/{id}" get_customer.lua "$CONNS" IDS="$OUT/ids.txt"
    scenario "$side	POST /interactions" post_interaction.lua "$CONNS" IDS="$OUT/ids.txt" CHANNELS="$OUT/channels.txt"
    scenario "$side	POST /interactions/batch (1000)" post_batch.lua 4 BATCH="$OUT/batch.json"
    $PSQL -c "SELECT id || ' ' || stage_id FROM deals WHERE workspace_id = '$WS' ORDER BY md5(id::text) LIMIT 10000" > "$OUT/deals.txt"
    $PSQL -c "SELECT s.id FROM stages s JOIN pipelines p ON p.workspace_id = s.workspace_id AND p.id = s.pipeline_id WHERE s.workspace_id = '$WS' AND p.name = 'Sales' AND s.kind = 'open' AND s.archived_at IS NULL" > "$OUT/stages.txt"
    scenario "$side	PATCH /deals/{id} (move stage)" move_deal.lua "$CONNS" DEALS="$OUT/deals.txt" STAGES="$OUT/stages.txt"
    stop_server
  done
done

echo
echo "Rapport write cost — $BASE against the working tree ($HEAD_DESC, as built),"
echo "$CUSTOMERS customers seeded; release builds, $(nproc) cores, wrk -t2 -c$CONNS -d$DURATION (batch: -c4), $ROUNDS alternate rounds"
echo
python3 - "$RESULTS" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    side, name, rps, p50, p99, status, errors = line.rstrip("\n").split("\t")
    runs[(name, side)].append((float(rps), float(p50), float(p99), int(status), int(errors)))
names = list(dict.fromkeys(name for name, _ in runs))
print(f"{'scenario':<34} {'side':<5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}   (median of rounds)")
for name in names:
    med = {}
    for side in ("base", "head"):
        r = runs[(name, side)]
        med[side] = [statistics.median(x[i] for x in r) for i in range(3)]
        print(f"{name:<34} {side:<5} {med[side][0]:>8.0f} {med[side][1]:>8.2f} {med[side][2]:>8.2f} "
              f"{sum(x[3] for x in r):>8} {sum(x[4] for x in r):>7}")
    print(f"{'':<34} {'head ÷ base: req/s':>26} {med['head'][0] / med['base'][0]:.2f}, p50 {med['head'][1] / med['base'][1]:.2f}")
PY
