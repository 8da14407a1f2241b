"""Verifies a Licensor webhook delivery (docs/notifications.md) with `cryptography`.

Usage: python3 verify.py CAPTURE.json
CAPTURE.json holds {"headers": {...}, "body": "<the raw body>", "jwks": <GET /api/v1/keys>,
"now": <unix seconds>}. Prints the event's type and id and exits 0 when the delivery is
genuine; exits 1 naming the reason otherwise.
"""

import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE_SECONDS = 300


class Rejected(Exception):
    pass


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(headers, body, jwks, seen_ids, now):
    """Returns the event when the delivery is genuine and new; raises Rejected otherwise.

    headers: the request's headers, names in lower case; body: the raw body (str);
    jwks: the licensor's GET /api/v1/keys; seen_ids: ids already accepted (a set);
    now: the receiver's time in Unix seconds.
    """
    event_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise Rejected("timestamp outside the tolerance: a replay or a skewed clock")
    if event_id in seen_ids:
        raise Rejected("event id already seen: a replay")
    keys = [k for k in jwks["keys"] if k.get("kid") == headers["licensor-key-id"]]
    if not keys or keys[0].get("kty") != "OKP" or keys[0].get("crv") != "Ed25519":
        raise Rejected("unknown signing key")
    key = Ed25519PublicKey.from_public_bytes(b64url(keys[0]["x"]))
    signed = f"{event_id}.{timestamp}.{body}".encode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), signed)
        except (InvalidSignature, ValueError):
            continue
        event = json.loads(body)
        if event["id"] != event_id:
            raise Rejected("the body's id is not the signed webhook-id")
        seen_ids.add(event_id)
        return event
    raise Rejected("no valid signature")


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        capture = json.load(f)
    try:
        event = verify(capture["headers"], capture["body"], capture["jwks"], set(), capture["now"])
    except (Rejected, KeyError, ValueError) as e:
        print(f"rejected: {e}", file=sys.stderr)
        sys.exit(1)
    print(event["type"], event["id"])
