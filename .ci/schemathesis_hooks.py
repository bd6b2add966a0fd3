"""Schemathesis hooks for Rapport: what a JSON schema cannot say.

Applied to every generated case (all phases), they only swap one schema-valid value for
another, so negative cases stay negative:
- timestamps of things that already happened (`occurred_at`, `created_at`) cannot be in the
  future nor before 1900, and an API token's `expires_at` must be in the future: JSON Schema
  has no bounds for date-times;
- a well-formed UUID in a body field that references another row (`customer_id`,
  `channel_id`, `owner_id`, `user_id`) becomes the id of a live row of the workspace, looked
  up (or made) through the API at that moment, as the fuzzer itself deletes and deactivates
  rows (unknown references are covered by the API test suite);
- a deal's `pipeline_id`/`stage_id`, a stage order's `stage_ids` and a stage deletion's
  `move_to` are taken from the live pipeline they must belong to; a stage order goes to a
  pipeline of its own, which no other operation's examples name (with two workers, another
  case could add or remove a stage between the lookup and the request);
- a move's `changed_at` is dropped (see NOW_FIELDS);
- a `phone` written in the documented form becomes a real number: the form cannot say which
  digits a country's numbering plan takes (unplaceable numbers are covered by the API test
  suite);
- an analytics window (`from`, `to`, `as_of`) or a list's time filter (`created_after`, ...)
  that matches the documented form becomes a valid one (the last 60 days): the form allows days
  that do not exist and windows that end before they start or span centuries, which are 400s
  (covered by the API test suite);
- a saved report's `params` get the same treatment as the analytics query they hold (a valid
  window, a live `pipeline_id`), and lose a `from`/`to`/`as_of` of the documented form (or
  null) when they also give a `range` (both at once are a 422, covered by the API test suite;
  a value of the wrong type stays, as a negative case made it); a report's merge patch loses
  `params`, whose shape depends on the report's kind, which the patch cannot know;
- a case's `follow_up_of` is dropped (it must name a closed case; covered by the API test
  suite), and its `assignee_id` and `sla_policy_id` name live rows; its `satisfaction` and
  `satisfaction_comment` are dropped when they are valid (a rating comes once the case is
  solved, a state the schema cannot know; covered by the API test suite), and kept when they
  are what a negative case made invalid; an interaction's `case_id` is dropped (it
  must name an unclosed case of the interaction's customer; covered likewise);
- business-hours intervals that end before they start end at 24:00 instead (the order of two
  times is not something a JSON schema says);
- the fuzzer's own user is never the one a `/users/{id}` operation changes or removes (a new
  password or role would end the session the run depends on): another user of the workspace
  takes its place;
- an `Idempotency-Key` becomes one of its own for each case: a key the generator repeats would
  replay an earlier answer, whose resource a later case may have deleted (replays are covered
  by the API test suite);
- `cursor` query values (and the event feed's `after`) are opaque, HMAC-signed positions only
  the server hands out: they are dropped (malformed cursors are covered by the API test suite);
- `application/x-ndjson` bodies (customer import) are sent as text; a generated value that
  is not text is sent as an empty body (which is invalid).
"""

import json
import os
import re
import uuid
import urllib.request
from collections.abc import MutableMapping
from datetime import datetime, timedelta, timezone

import schemathesis

PAST_FIELDS = ("occurred_at", "created_at")
# A move's time must fall between the deal's previous change and now: a window only the
# deal's history at send time knows (cases are replayed while shrinking), so generated values
# are dropped and the server takes "now" (back-filling is covered by the API test suite).
NOW_FIELDS = ("changed_at",)
PHONE = re.compile(r"^[0-9 +()./xX-]*[0-9][0-9 +()./xX-]*(;ext=[0-9]+)?$")  # the spec's phone pattern
PHONES = ("+49 30 901820", "+33 1 23 45 67 89", "+1 212 555 0134", "+44 20 7946 0958", "+81 3 1234 5678")
HH_MM = re.compile(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
API = os.environ.get("FUZZ_API", "")
TOKEN = os.environ.get("FUZZ_TOKEN", "")
OWNER = os.environ.get("FUZZ_USER_ID")


def _call(method, path, body=None):
    request = urllib.request.Request(
        API + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _live_customer():
    # The fuzzer deletes customers too: find one that is live, or make one.
    page = _call("GET", "/customers?limit=1")
    if page["data"]:
        return page["data"][0]["id"]
    return _call("POST", "/customers", {"name": "Fuzz target"})["id"]


def _active_channel():
    # ... and deactivates channels.
    page = _call("GET", "/channels?limit=200")
    for channel in page["data"]:
        if channel["active"]:
            return channel["id"]
    return _call("POST", "/channels", {"kind": "other", "name": "Fuzz channel"})["id"]


def _policy():
    page = _call("GET", "/sla-policies?limit=1")
    if page["data"]:
        return page["data"][0]["id"]
    return _call("POST", "/sla-policies", {"name": "Fuzz policy", "targets": {}})["id"]


REFERENCES = {
    "assignee_id": lambda: OWNER,
    "sla_policy_id": _policy,
    "customer_id": _live_customer,
    "channel_id": _active_channel,
    "owner_id": lambda: OWNER,
    "user_id": lambda: OWNER,
}


def _parse(value):
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, TypeError):
        return None
    return parsed if parsed.tzinfo is not None else None


def _fix(node):
    now = datetime.now(timezone.utc)
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(value, str) and key in PAST_FIELDS + NOW_FIELDS + ("expires_at",):
                parsed = _parse(value)
                if parsed is None:
                    continue
                if key in NOW_FIELDS:
                    del node[key]
                elif key == "expires_at" and parsed <= now + timedelta(minutes=1):
                    node[key] = (now + timedelta(days=30)).isoformat()
                elif key in PAST_FIELDS and not (datetime(1900, 1, 2, tzinfo=timezone.utc) <= parsed <= now):
                    node[key] = (now - timedelta(days=1 + abs(hash(value)) % 3650)).isoformat()
            elif isinstance(value, str) and key == "phone" and PHONE.match(value) and 3 <= len(value) <= 50:
                node[key] = PHONES[abs(hash(value)) % len(PHONES)]
            elif key in ("follow_up_of", "case_id") and isinstance(value, str) and UUID.match(value):
                # Dropped, not set to null: in a merge patch, null takes an interaction off its
                # case, which a closed case refuses (409).
                del node[key]
            elif isinstance(value, str) and key in REFERENCES and UUID.match(value):
                node[key] = REFERENCES[key]()
            else:
                _fix(value)
    elif isinstance(node, list):
        for item in node:
            _fix(item)


def _stages(pipeline_id):
    try:
        return [s["id"] for s in _call("GET", f"/pipelines/{pipeline_id}")["stages"]]
    except Exception:
        return []


def _pipeline():
    page = _call("GET", "/pipelines?limit=1")
    if page["data"]:
        return page["data"][0]["id"]
    return _call("POST", "/pipelines", {"name": "Fuzz pipeline"})["id"]


def _reorder_pipeline():
    for pipeline in _call("GET", "/pipelines?limit=200")["data"]:
        if pipeline["name"] == "Fuzz reorder":
            return pipeline["id"]
    return _call("POST", "/pipelines", {"name": "Fuzz reorder"})["id"]


def _fix_pipeline_references(path, path_parameters, body, query):
    """Stage ids only mean something within their pipeline: take them from the right one."""
    if isinstance(body, dict) and "pipeline_id" in body and isinstance(body["pipeline_id"], str) and UUID.match(body["pipeline_id"]):
        body["pipeline_id"] = _pipeline()
        if isinstance(body.get("stage_id"), str) and UUID.match(body["stage_id"]):
            stages = _stages(body["pipeline_id"])
            if stages:
                body["stage_id"] = stages[abs(hash(body["stage_id"])) % len(stages)]
    elif path.startswith("/api/v1/deals/{id}") and isinstance(body, dict) and isinstance(body.get("stage_id"), str):
        try:
            deal = _call("GET", f"/deals/{path_parameters['id']}")
        except Exception:
            return
        stages = _stages(deal["pipeline_id"])
        if stages and UUID.match(body["stage_id"]):
            body["stage_id"] = stages[abs(hash(body["stage_id"])) % len(stages)]
    elif path == "/api/v1/pipelines/{id}/stages/order" and isinstance(body, dict) and isinstance(body.get("stage_ids"), list):
        if isinstance(path_parameters, dict) and UUID.match(str(path_parameters.get("id", ""))):
            path_parameters["id"] = _reorder_pipeline()
        stages = _stages((path_parameters or {}).get("id"))
        if stages and all(isinstance(i, str) and UUID.match(i) for i in body["stage_ids"]):
            body["stage_ids"] = sorted(stages, key=lambda i: hash(i + str(len(body["stage_ids"]))))
    if path == "/api/v1/pipelines/{id}/stages/{stage_id}" and isinstance(query, dict):
        move_to = query.get("move_to")
        if isinstance(move_to, str) and UUID.match(move_to):
            others = [s for s in _stages((path_parameters or {}).get("id")) if s != (path_parameters or {}).get("stage_id")]
            if others:
                query["move_to"] = others[0]


BOUND = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$")


def _fix_window(path, query):
    if not isinstance(query, dict):
        return
    now = datetime.now(timezone.utc)
    start, end = (now - timedelta(days=60)).date().isoformat(), (now + timedelta(days=1)).date().isoformat()
    valid = {"created_after": start, "created_before": end, "occurred_after": start, "occurred_before": end}
    if path.startswith("/api/v1/analytics/"):
        valid.update({"from": start, "to": end, "as_of": now.date().isoformat()})
    for key, value in valid.items():
        if isinstance(query.get(key), str) and BOUND.match(query[key]):
            query[key] = value


def _fix_report(path, method, body):
    if not isinstance(body, dict):
        return
    if path == "/api/v1/reports" and method == "POST" and isinstance(body.get("params"), dict):
        params = body["params"]
        if isinstance(params.get("pipeline_id"), str) and UUID.match(params["pipeline_id"]):
            params["pipeline_id"] = _pipeline()
        _fix_window("/api/v1/analytics/", params)
        if params.get("range") is not None:
            for key in ("from", "to", "as_of"):
                # A value of the wrong type is what a negative case is about: it stays.
                if params.get(key) is None or (isinstance(params[key], str) and BOUND.match(params[key])):
                    params.pop(key, None)
    elif path == "/api/v1/reports/{id}" and method == "PATCH" and isinstance(body.get("params"), dict):
        del body["params"]


def _another_user():
    for user in _call("GET", "/users?limit=200")["data"]:
        if user["id"] != OWNER:
            return user["id"]
    return _call("POST", "/users", {"email": "stand-in@rapport.local", "name": "Stand-in", "password": "stand-in-password", "role": "member"})["id"]


@schemathesis.hook
def map_case(context, case):
    # A case's headers are a `requests` CaseInsensitiveDict, which is a mapping but no dict.
    if isinstance(case.headers, MutableMapping):
        for name in list(case.headers):
            value = case.headers[name]
            if name.lower() == "idempotency-key" and isinstance(value, str) and re.match(r"^[ -~]{1,255}$", value):
                case.headers[name] = "fuzz-" + uuid.uuid4().hex
    if case.operation.path.startswith("/api/v1/users/{id}") and (case.path_parameters or {}).get("id") == OWNER:
        case.path_parameters["id"] = _another_user()
    _fix_window(case.operation.path, case.query)
    if isinstance(case.body, (dict, list)):
        _fix(case.body)
    _fix_pipeline_references(case.operation.path, case.path_parameters, case.body, case.query)
    if isinstance(case.query, dict) and "cursor" in case.query:
        del case.query["cursor"]
    # The event feed's cursor too.
    if case.operation.path == "/api/v1/events" and isinstance(case.query, dict) and "after" in case.query:
        del case.query["after"]
    _fix_report(case.operation.path, case.operation.method.upper(), case.body)
    if case.operation.path.startswith("/api/v1/cases") and isinstance(case.body, dict):
        # Only valid ratings go: an invalid one is what a negative case is about, and must
        # stay for the server to refuse it (dropping it made a valid request the fuzzer
        # still expected to be refused).
        rating, comment = case.body.get("satisfaction"), case.body.get("satisfaction_comment")
        valid = rating in (None, "good", "bad") and (
            comment is None or (isinstance(comment, str) and "\x00" not in comment and len(comment) <= 2000))
        if valid:
            for field in ("satisfaction", "satisfaction_comment"):
                case.body.pop(field, None)
    if case.operation.path == "/api/v1/workspace/business-hours" and isinstance(case.body, dict):
        intervals = case.body.get("intervals")
        for interval in intervals if isinstance(intervals, list) else []:
            if isinstance(interval, dict) and isinstance(interval.get("start"), str) and isinstance(interval.get("end"), str):
                if HH_MM.match(interval["start"]) and HH_MM.match(interval["end"]) and interval["end"] <= interval["start"]:
                    interval["end"] = "24:00"
    return case


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return b""
