"""Saved report runs on the bench workspace: every report the seed saved (one per analytics
kind, over the windows a schedule gives them) run N times through `POST /reports/{id}/runs`,
which runs exactly what the scheduler runs for a slot (`app::reports`). Prints one
tab-separated line per report: kind, name, p50 run ms (finished_at - started_at, as stored),
p50 request ms, rows of its CSV.

    python3 bench/reports.py <base url> <token> <N>
"""

import json
import statistics
import sys
import time
import urllib.request
from datetime import datetime

base, token = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 5


def call(method, path, accept="application/json"):
    req = urllib.request.Request(base + "/api/v1" + path, method=method,
                                 headers={"Authorization": "Bearer " + token, "Accept": accept})
    if method == "POST":
        req.add_header("Content-Type", "application/json")
        req.data = b"{}"
    with urllib.request.urlopen(req, timeout=900) as r:
        return r.read()


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


for report in json.loads(call("GET", "/reports?limit=200"))["data"]:
    runs, requests, rows = [], [], 0
    for _ in range(n):
        start = time.perf_counter()
        run = json.loads(call("POST", f"/reports/{report['id']}/runs"))
        requests.append((time.perf_counter() - start) * 1000)
        if run["status"] != "succeeded":
            raise SystemExit(f"{report['name']}: {run['error']}")
        runs.append((instant(run["finished_at"]) - instant(run["started_at"])).total_seconds() * 1000)
        rows = len(call("GET", f"/reports/{report['id']}/runs/{run['id']}", "text/csv").splitlines()) - 1
    print(f"{report['kind']}\t{report['name']}\t{statistics.median(runs):.1f}\t{statistics.median(requests):.1f}\t{rows}")
