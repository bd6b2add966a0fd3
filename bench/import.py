"""Import throughput: POST /customers/import with a CSV of new customers, then the same rows
with another city (every row then changes the customer it created, found by its email). Prints
one tab-separated line per pass: name, rows/s, seconds, created, updated, rejected. Fails if a
row is rejected or does not land.

    python3 bench/import.py <base url> <token> [rows]

The emails carry the run's start time, so each run imports customers the workspace lacks; they
all end in @import.bench.example, so that bench/run.sh can remove them afterwards.
"""

import io
import json
import random
import sys
import time
import urllib.request

base, token = sys.argv[1], sys.argv[2]
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
run = int(time.time())
random.seed(run)
countries = ["GB", "FR", "DE", "US", "ES", "IT", "NL", "SE", "JP", "BR"]
tags = ["vip", "newsletter", "b2b", "trial", "churn-risk", "partner"]

def csv(city):
    random.seed(run)
    body = io.StringIO()
    body.write("kind,name,email,country,city,tags,attr.plan\n")
    for i in range(rows):
        kind = "company" if i % 5 == 0 else "person"
        body.write(f"{kind},Imported {run} {i},import-{run}-{i}@import.bench.example,{random.choice(countries)},"
                   f"{city} {i % 977},{';'.join(random.sample(tags, random.randint(0, 3)))},"
                   f"{random.choice(['free', 'pro', 'enterprise'])}\n")
    return body.getvalue().encode()


def post(name, data, expect_created, expect_updated):
    req = urllib.request.Request(f"{base}/api/v1/customers/import", data=data, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    start = time.monotonic()
    report = json.load(urllib.request.urlopen(req, timeout=3600))
    seconds = time.monotonic() - start
    got = (report["created"], report["updated"], report["rejected"])
    if got != (expect_created, expect_updated, 0):
        sys.exit(f"{name}: expected {expect_created} created, {expect_updated} updated, 0 rejected; got {report}")
    print(f"{name}\t{rows / seconds:.0f}\t{seconds:.2f}\t{got[0]}\t{got[1]}\t{got[2]}", flush=True)


post(f"POST /customers/import ({rows:,} new rows)", csv("City"), rows, 0)
post(f"POST /customers/import ({rows:,} rows again, another city)", csv("Town"), 0, rows)
