"""Analytics timings: p50 (and min, max) of N sequential calls per scenario, as the issue
asks ("warm cache, p50 of 20 sequential calls"); one warm-up call first.

    python3 bench/analytics.py http://127.0.0.1:8088 <token> <pipeline_id> [N]

Prints one tab-separated line per scenario: name, p50 ms, min ms, max ms, response bytes.
"""

import json
import statistics
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

series = json.loads(get(f"/analytics/rfm"))
scenarios = [
    ("funnel, 90 days", f"/analytics/funnel?pipeline_id={pipeline}"),
    ("funnel, 3 years", f"/analytics/funnel?pipeline_id={pipeline}&from={d3y}&to={tomorrow}"),
    ("segments by country, 90 days", "/analytics/segments?dimension=country"),
    ("segments by tag, 90 days", "/analytics/segments?dimension=tag"),
    ("rfm summary, as of now", "/analytics/rfm"),
    ("cohorts by month, 1 year", f"/analytics/cohorts?period=month&from={d365}&to={tomorrow}"),
    ("interactions by day and channel, 90 days", "/analytics/interactions?bucket=day&group_by=channel"),
    ("basket, 90 days", "/analytics/basket"),
]
customer = sys.argv[5] if len(sys.argv) > 5 else None
if customer:
    scenarios.append(("rfm of one customer", f"/analytics/rfm?customer_id={customer}"))
    scenarios.append(("customer summary (with RFM)", f"/customers/{customer}/summary"))
for name, path in scenarios:
    size = len(get(path))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        get(path)
        times.append((time.perf_counter() - t) * 1000)
    print(f"{name}\t{statistics.median(times):.1f}\t{min(times):.1f}\t{max(times):.1f}\t{size}", flush=True)
