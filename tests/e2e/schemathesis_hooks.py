"""Schemathesis hooks for the licensor's API contract test (tests/e2e/schemathesis.rs).

JSON Schema describes each value on its own; a few of the API's rules relate two values, or
a value and the present, and no schema keyword can state them. openapi.json states each in
the field's description, and the server refuses a request that breaks one with 422. So that
the fuzzer's positive cases are valid requests, this hook moves the dependent value of a
schema-valid case into line before it is sent:

- POST /api/v1/licenses and /licenses/{id}/reissue: `expires_at` after `starts_at` and
  after now (a license is never issued already expired);
- POST /api/v1/evaluations: `ends_at` after `starts_at` and after now;
- GET /api/v1/{accounts,licenses}/{id}/usage: `from` not after `to`, and at most 365 days;
- a new `Idempotency-Key` for each request, and an evaluation's `max_term_days` within the
  server's configured maximum (90 days by default).

An `account_id` in a body must name an account (else 422 `unknown_account`), which no
generator can guess: positive cases get the id of an account this hook creates through the
API (`LICENSOR_FUZZ_URL` and `LICENSOR_FUZZ_TOKEN` tell it where and how), the way
schemathesis's guide supplies existing ids.

Only positive cases are touched (schemathesis checks the edited case against the schema
again); negative cases, which break the schema on purpose, are sent as generated.
"""

import json
import os
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone

import schemathesis
from schemathesis.generation import GenerationMode

_account = []


def _account_id():
    """The id of the fuzzer's own account, created on first use."""
    if not _account:
        request = urllib.request.Request(
            os.environ["LICENSOR_FUZZ_URL"] + "/api/v1/accounts",
            data=json.dumps({"name": "Fuzzer", "email": "fuzzer@fuzz.example"}).encode(),
            headers={
                "Authorization": "Bearer " + os.environ["LICENSOR_FUZZ_TOKEN"],
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            _account.append(json.load(response)["id"])
    return _account[0]

DAY = timedelta(days=1)
# The licensor keeps times up to 9999-12-31T23:59:59Z.
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _time(text):
    """An RFC 3339 time as an aware datetime, or None when Python cannot read it."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value


def _rfc3339(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _after(start, end_key, body):
    """Makes body[end_key] later than `start` (and than now) when it is not."""
    end = _time(body.get(end_key))
    if end is None:
        return
    floor = max(start, datetime.now(timezone.utc))
    if end > floor + timedelta(seconds=1):
        return
    later = min(floor + 30 * DAY, LATEST)
    body[end_key] = _rfc3339(later)


def _term(body, start_key, end_key, *, future):
    if not isinstance(body, dict) or end_key not in body:
        return
    start = _time(body.get(start_key)) if body.get(start_key) is not None else None
    if start is not None and start > LATEST - 60 * DAY:
        start = LATEST - 60 * DAY
        body[start_key] = _rfc3339(start)
    now = datetime.now(timezone.utc)
    if start is None:
        start = now
    if future:
        _after(start, end_key, body)
        return
    end = _time(body.get(end_key))
    if end is not None and end <= start + timedelta(seconds=1):
        body[end_key] = _rfc3339(min(start + 30 * DAY, LATEST))


def _usage_range(query):
    if not isinstance(query, dict):
        return
    try:
        first = date.fromisoformat(query["from"]) if "from" in query else None
        last = date.fromisoformat(query["to"]) if "to" in query else None
    except (TypeError, ValueError):
        return
    if first is not None and last is not None:
        if first > last:
            first, last = last, first
        if (last - first).days >= 365:
            last = first + timedelta(days=364)
        query["from"], query["to"] = first.isoformat(), last.isoformat()
    elif first is not None or last is not None:
        # One end alone: the other is the license's term, which the fuzzer cannot know; a
        # report of the single day stays within every limit.
        day = (first or last).isoformat()
        query["from"], query["to"] = day, day


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    operation = context.operation
    method, path = operation.method.upper(), operation.path
    if isinstance(case.body, dict) and isinstance(case.body.get("account_id"), str):
        case.body["account_id"] = _account_id()
    # A key sent again with another request is 422 `idempotency_key_reused`, by design (the
    # IETF draft's rule): every positive case is a new request, so it gets a new key.
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if method == "POST" and path == "/api/v1/licenses":
        _term(case.body, "starts_at", "expires_at", future=True)
    elif method == "POST" and path == "/api/v1/licenses/{id}/reissue":
        # The license's own term is unknown here: a new end comes with a new start, and the
        # other way round, so that the term that results is the one sent.
        body = case.body
        if isinstance(body, dict) and (body.get("starts_at") or body.get("expires_at")):
            if body.get("starts_at") is None:
                body["starts_at"] = _rfc3339(datetime.now(timezone.utc))
            if body.get("expires_at") is None:
                body["expires_at"] = body["starts_at"]
        _term(case.body, "starts_at", "expires_at", future=True)
    elif method == "POST" and path == "/api/v1/evaluations":
        _term(case.body, "starts_at", "ends_at", future=True)
        # At most the server's --evaluation-max-term-days (90 by default): configuration.
        days = case.body.get("max_term_days") if isinstance(case.body, dict) else None
        if isinstance(days, (int, float)) and days > 90:
            case.body["max_term_days"] = 90
    elif method == "GET" and path.endswith("/usage"):
        _usage_range(case.query)
