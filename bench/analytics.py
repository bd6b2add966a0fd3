"""Analytics timings: p50 (and min, max) of N sequential calls per scenario, as the issue
asks ("warm cache, p50 of 20 sequential calls"); one warm-up call first. With a psql command,
also the scan floor of each scenario: the p50 of a bare `SELECT count(*)` over the rows the
statement must read, and the ratio.

    python3 bench/analytics.py <base url> <token> <pipeline_id> <N> <customer_id> [psql command...]

Prints one tab-separated line per scenario: name, p50 ms, min ms, max ms, response bytes,
rows read, floor p50 ms, ratio.
"""

import json
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta

base, token, pipeline = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
today = date.today()
d90, d365, d3y = (today - timedelta(days=90)).isoformat(), (today - timedelta(days=365)).isoformat(), (today - timedelta(days=3 * 365 + 2)).isoformat()
tomorrow = (today + timedelta(days=1)).isoformat()

# The one-customer RFM scenario needs a customer with a purchase.
def get(path):
    req = urllib.request.Request(base + "/api/v1" + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()

customer = sys.argv[5]
psql = sys.argv[6:]
W90 = "i.occurred_at >= now() - interval '2160 hours' AND i.occurred_at < now()"
# The rows each statement must read, counted bare (ws is substituted below).
FUNNEL = ("SELECT count(*) FROM deals d JOIN deal_stage_events e ON e.workspace_id = d.workspace_id AND e.deal_id = d.id "
          "WHERE d.workspace_id = '{ws}' AND d.pipeline_id = '{p}' AND d.created_at >= {since} AND d.created_at < now()")
SEGMENTS = (f"SELECT (SELECT count(*) FROM interactions i WHERE i.workspace_id = '{{ws}}' AND {W90}) "
            "+ (SELECT count(*) FROM customers WHERE workspace_id = '{ws}' AND deleted_at IS NULL)")
PURCHASES = "SELECT count(*) FROM interactions WHERE workspace_id = '{ws}' AND kind = 'purchase' AND occurred_at < now()"
scenarios = [
    ("funnel, 90 days", f"/analytics/funnel?pipeline_id={pipeline}", FUNNEL.replace("{since}", "now() - interval '2160 hours'")),
    ("funnel, 3 years", f"/analytics/funnel?pipeline_id={pipeline}&from={d3y}&to={tomorrow}", FUNNEL.replace("{since}", "now() - interval '1097 days'")),
    ("segments by country, 90 days", "/analytics/segments?dimension=country", SEGMENTS),
    ("segments by tag, 90 days", "/analytics/segments?dimension=tag", SEGMENTS),
    ("rfm summary, as of now", "/analytics/rfm", PURCHASES),
    ("rfm of one customer", f"/analytics/rfm?customer_id={customer}", PURCHASES),
    ("cohorts by month, 1 year", f"/analytics/cohorts?period=month&from={d365}&to={tomorrow}",
     "SELECT count(*) FROM interactions WHERE workspace_id = '{ws}'"),
    ("interactions by day and channel, 90 days", "/analytics/interactions?bucket=day&group_by=channel",
     f"SELECT count(*) FROM interactions i WHERE i.workspace_id = '{{ws}}' AND {W90}"),
    ("basket, 90 days", "/analytics/basket",
     f"SELECT count(*) FROM interactions i WHERE i.workspace_id = '{{ws}}' AND i.kind = 'purchase' AND i.items <> '{{}}' AND {W90}"),
    ("customer summary (with RFM)", f"/customers/{customer}/summary", PURCHASES),
]


def sql(text):
    return subprocess.run(psql + ["-Atq", "-c", text], check=True, capture_output=True, text=True).stdout.strip()


def floor(count_sql):
    """p50 of 5 runs of the bare count, and the count."""
    rows = sql(count_sql)
    times = []
    for _ in range(5):
        out = sql("SET max_parallel_workers_per_gather = 2; EXPLAIN (ANALYZE, TIMING OFF) " + count_sql)
        times.append(float(re.search(r"Execution Time: ([0-9.]+) ms", out).group(1)))
    return rows, statistics.median(times)


ws = sql("SELECT id FROM workspaces WHERE name = 'Bench'") if psql else None
for name, path, count_sql in scenarios:
    size = len(get(path))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        get(path)
        times.append((time.perf_counter() - t) * 1000)
    p50 = statistics.median(times)
    line = f"{name}\t{p50:.1f}\t{min(times):.1f}\t{max(times):.1f}\t{size}"
    if psql:
        rows, f = floor(count_sql.replace("{ws}", ws).replace("{p}", pipeline))
        line += f"\t{rows}\t{f:.1f}\t{p50 / f:.1f}"
    print(line, flush=True)
