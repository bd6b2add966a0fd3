"""Writes src/openapi/responses.json: one real response per schema, read from a server running
the demo workspace (`rapport serve --demo`), arrays cut to their first items. The OpenAPI
document gives them as the examples of its responses.

    python3 tools/harvest_examples.py http://127.0.0.1:8080 > src/openapi/responses.json
"""

import json
import sys
import urllib.request

BASE = sys.argv[1].rstrip("/")
API = BASE + "/api/v1"
CUSTOMER, INTERACTION, DEAL = "01938a52-6c00-7000-8000-000000000101", "01938a52-6c00-7000-8000-000000000201", "01938a52-6c00-7000-8000-000000000301"
PIPELINE, REPORT, RUN, CHANNEL = "01938a52-6c00-7000-8000-000000000021", "01938a52-6c00-7000-8000-000000000401", "01938a52-6c00-7000-8000-000000000402", "01938a52-6c00-7000-8000-000000000011"
USER = "01938a52-6c00-7000-8000-000000000041"


def call(method, path, body=None, token=None, base=API):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or "null")


def cut(v, n=2):
    if isinstance(v, list):
        return [cut(x, n) for x in v[:n]]
    if isinstance(v, dict):
        return {k: cut(x, n) for k, x in v.items()}
    return v


pair = call("POST", "/auth/login", {"email": "demo@rapport.local", "password": "demo-password"})
t = pair["access_token"]
get = lambda p: call("GET", p, token=t)
out = {
    "TokenPair": pair,
    "Me": get("/me"),
    "Workspace": get("/workspace"),
    "User": get("/users/" + USER),
    "ApiToken": get("/api-tokens")["data"][0],
    "Channel": get("/channels/" + CHANNEL),
    "Customer": get("/customers/" + CUSTOMER),
    "CustomerSummary": get(f"/customers/{CUSTOMER}/summary"),
    "TimelineEntry": get(f"/customers/{CUSTOMER}/timeline?limit=1")["data"][0],
    "Interaction": get("/interactions/" + INTERACTION),
    "Pipeline": get("/pipelines/" + PIPELINE),
    "Deal": get("/deals/" + DEAL),
    "StageEvent": get(f"/deals/{DEAL}/history")[-1],
    "Event": get(f"/events?resource_id={DEAL}&limit=1")["data"][0],
    "Report": get("/reports/" + REPORT),
    "Run": get(f"/reports/{REPORT}/runs/{RUN}"),
    "FunnelReport": get(f"/analytics/funnel?pipeline_id={PIPELINE}&from=2025-01-01"),
    "SegmentsReport": get("/analytics/segments?dimension=country&from=2025-01-01"),
    "RfmReport": get("/analytics/rfm"),
    "RfmCustomer": get(f"/analytics/rfm?customer_id={CUSTOMER}"),
    "CohortsReport": get("/analytics/cohorts?period=month&from=2025-06-01"),
    "SeriesReport": get("/analytics/interactions?bucket=month&group_by=channel&from=2026-09-01"),
    "BasketReport": get("/analytics/basket?min_support=0.01&limit=5&from=2025-01-01"),
    "SupportReport": get("/analytics/support?group_by=priority&from=2026-09-01"),
    "Health": call("GET", "/health/ready", base=BASE),
    "WorkspaceBusinessHours": get("/workspace/business-hours"),
    "SlaPolicy": get("/sla-policies/01938a52-6c00-7000-8000-000000000601"),
    "Case": get("/cases/01938a52-6c00-7000-8000-000000000602"),
}
out = {k: cut(v, 3 if k in ("FunnelReport", "CohortsReport") else 2) for k, v in out.items()}
out["TokenPair"]["access_token"] = out["TokenPair"]["refresh_token"] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.…"
json.dump(out, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
print()
