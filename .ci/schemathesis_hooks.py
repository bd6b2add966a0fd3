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
- `cursor` query values are opaque, HMAC-signed positions only the server hands out: they
  are dropped (malformed cursors are covered by the API test suite);
- `application/x-ndjson` bodies (customer import) are sent as text; a generated value that
  is not text is sent as an empty body (which is invalid).
"""

import json
import os
import re
import urllib.request
from datetime import datetime, timedelta, timezone

import schemathesis

PAST_FIELDS = ("occurred_at", "created_at")
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


REFERENCES = {
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
            if isinstance(value, str) and key in PAST_FIELDS + ("expires_at",):
                parsed = _parse(value)
                if parsed is None:
                    continue
                if key == "expires_at" and parsed <= now + timedelta(minutes=1):
                    node[key] = (now + timedelta(days=30)).isoformat()
                elif key in PAST_FIELDS and not (datetime(1900, 1, 2, tzinfo=timezone.utc) <= parsed <= now):
                    node[key] = (now - timedelta(days=1 + abs(hash(value)) % 3650)).isoformat()
            elif isinstance(value, str) and key in REFERENCES and UUID.match(value):
                node[key] = REFERENCES[key]()
            else:
                _fix(value)
    elif isinstance(node, list):
        for item in node:
            _fix(item)


@schemathesis.hook
def map_case(context, case):
    if isinstance(case.body, (dict, list)):
        _fix(case.body)
    if isinstance(case.query, dict) and "cursor" in case.query:
        del case.query["cursor"]
    return case


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return b""
