"""Counts what a newcomer trips on in an OpenAPI document (issue 12's list), one line each.

    python3 tools/spec_gaps.py openapi/openapi.json
"""

import json
import re
import sys

doc = json.load(open(sys.argv[1]))
schemas = doc.get("components", {}).get("schemas", {})
ops = [(p, m, o) for p, item in doc["paths"].items() for m, o in item.items() if m in ("get", "post", "put", "patch", "delete")]
VERBS = ("get", "list", "create", "update", "delete", "log", "run", "move", "add", "remove", "reorder", "restore",
         "erase", "import", "export", "login", "refresh", "logout", "sign", "read", "revoke", "patch", "search", "check", "mint", "set")


def refs(node, found):
    if isinstance(node, dict):
        if "$ref" in node:
            found.add(node["$ref"].split("/")[-1])
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def resolve(s):
    while isinstance(s, dict) and "$ref" in s:
        s = schemas.get(s["$ref"].split("/")[-1], {})
    return s


def closed_empty_objects(node, path, out):
    if isinstance(node, dict):
        t = node.get("type")
        is_obj = t == "object" or (isinstance(t, list) and "object" in t)
        if is_obj and not node.get("properties") and "additionalProperties" not in node and "oneOf" not in node:
            out.append(path)
        for k, v in node.items():
            closed_empty_objects(v, f"{path}/{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            closed_empty_objects(v, f"{path}/{i}", out)


gaps = {}
gaps["operations without a summary"] = sum(1 for _, _, o in ops if not o.get("summary"))
gaps["summaries longer than a line (> 80 chars)"] = sum(1 for _, _, o in ops if len(o.get("summary", "")) > 80)
gaps["operations without a description"] = sum(1 for _, _, o in ops if not o.get("description"))
gaps["operationIds without a verb"] = sum(1 for _, _, o in ops if not o.get("operationId", "").lower().startswith(VERBS))
gaps["request bodies without an example"] = sum(
    1 for _, _, o in ops for c in o.get("requestBody", {}).get("content", {}).values()
    if "example" not in c and "examples" not in c and "example" not in resolve(c.get("schema", {})))
gaps["2xx responses without an example"] = sum(
    1 for _, _, o in ops for s, r in o.get("responses", {}).items() if s.startswith("2")
    for c in r.get("content", {}).values() if "example" not in c and "examples" not in c and "example" not in resolve(c.get("schema", {})))
gaps["parameters without an example"] = sum(
    1 for _, _, o in ops for p in o.get("parameters", []) if "example" not in p and "examples" not in p and "example" not in p.get("schema", {}))
error_examples = [json.dumps(r.get("content", {})) for _, _, o in ops for s, r in o.get("responses", {}).items() if s[0] == "4"]
gaps["error responses whose example has another status"] = sum(
    1 for _, _, o in ops for s, r in o.get("responses", {}).items() if s[0] == "4"
    for c in r.get("content", {}).values()
    if not any(str((e.get("value") or {}).get("status")) == s for e in c.get("examples", {}).values())
    and str((c.get("example") or {}).get("status")) != s)
def closure(names):
    seen = set(names)
    todo = list(names)
    while todo:
        found = set()
        refs(schemas.get(todo.pop(), {}), found)
        for f in found - seen:
            seen.add(f)
            todo.append(f)
    return seen


requests, responses = set(), set()
for _, _, o in ops:
    refs(o.get("requestBody", {}), requests)
    refs(o.get("parameters", []), requests)
    refs(o.get("responses", {}), responses)
response_only = closure(responses) - closure(requests)
optional_present = [f"{n}.{p}" for n in sorted(response_only) for p in schemas[n].get("properties", {})
                    if p not in schemas[n].get("required", [])]
gaps["response fields typed optional"] = len(optional_present)
open_objects = []
closed_empty_objects(doc, "", open_objects)
gaps["open JSON objects without additionalProperties"] = len(open_objects)
used = set()
refs(doc["paths"], used)
changed = True
while changed:
    before = len(used)
    for n in list(used):
        refs(schemas.get(n, {}), used)
    changed = len(used) != before
gaps["unused schemas"] = len([n for n in schemas if n not in used])
gaps["page schemas not referencing their item"] = sum(
    1 for n, s in schemas.items() if n.startswith("Page") and "$ref" not in s.get("properties", {}).get("data", {}).get("items", {}))
gaps["POSTs without an Idempotency-Key parameter"] = sum(
    1 for p, m, o in ops if m == "post" and not any(q.get("name") == "Idempotency-Key" for q in o.get("parameters", [])))
gaps["no servers"] = 0 if doc.get("servers") else 1
sec = doc.get("components", {}).get("securitySchemes", {})
gaps["security schemes without a description"] = sum(1 for s in sec.values() if not s.get("description"))
for field in ("Problem.code", "Me.token_kind", "TimelineEntry.type"):
    name, prop = field.split(".")
    p = schemas.get(name, {}).get("properties", {}).get(prop, {})
    gaps[f"{field} without an enum"] = 0 if ("enum" in resolve(p) or "$ref" in p or "oneOf" in p) else 1
for k, v in gaps.items():
    print(f"{v:5d}  {k}")
if "-v" in sys.argv:
    print("response fields typed optional:", ", ".join(optional_present))
