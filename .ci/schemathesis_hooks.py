"""Schemathesis hooks for Rapport: what a JSON schema cannot say.

- Timestamps of things that already happened (`occurred_at`, `created_at`) cannot be in the
  future, and an API token's `expires_at` must be: JSON Schema has no bounds for date-times,
  so generated values are moved into the accepted range (values that are not date-times at
  all are left for the negative tests).
- `application/x-ndjson` bodies (customer import) are serialised as lines of JSON.
"""

import json
from datetime import datetime, timedelta, timezone

import schemathesis

PAST_FIELDS = ("occurred_at", "created_at")


def _parse(value):
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        return None


def _fix(node):
    now = datetime.now(timezone.utc)
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(value, str) and key in PAST_FIELDS + ("expires_at",):
                parsed = _parse(value)
                if parsed is None or parsed.tzinfo is None:
                    continue
                if key == "expires_at" and parsed <= now:
                    node[key] = (now + timedelta(days=30)).isoformat()
                elif key in PAST_FIELDS and not (datetime(1900, 1, 2, tzinfo=timezone.utc) <= parsed <= now):
                    node[key] = (now - timedelta(days=1 + abs(hash(value)) % 3650)).isoformat()
            else:
                _fix(value)
    elif isinstance(node, list):
        for item in node:
            _fix(item)


@schemathesis.hook
def map_body(context, body):
    _fix(body)
    return body


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return (json.dumps(value) + "\n").encode()
