"""The audit log's hash chain: one chain per tenant, each event committing to the one
before it.

    hash(event n) = SHA-256( bytes.fromhex(hash(event n-1)) || JCS(body of event n) )

with `hash(event -1)` = 32 zero bytes, and the body the event's fields `id`, `tenant`,
`idx`, `at`, `actor`, `action`, `resource`, `outcome`, `request_id`, `details` (RFC 8785
canonical JSON). Changing, removing, reordering or inserting an event breaks every later
hash; `verify_chain` names the first event that does not check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import rfc8785

GENESIS = "00" * 32
BODY_FIELDS = ("id", "tenant", "idx", "at", "actor", "action", "resource", "outcome",
               "request_id", "details")


def body(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in BODY_FIELDS}


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + rfc8785.dumps(body(event))).hexdigest()


def verify_chain(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Check one tenant's events, in `idx` order: contiguous from 0, each linked to the one
    before and hashing to its stored hash. Returns {"valid", "events", "head", "error"}."""
    prev, count = GENESIS, 0
    for event in events:
        where = f"audit event {event.get('id')} (index {event.get('idx')})"
        if event["idx"] != count:
            return _bad(count, prev, f"{where}: expected index {count}; an event is missing "
                                     "or out of order")
        if event["prev_hash"] != prev:
            return _bad(count, prev, f"{where}: prev_hash does not match the hash of the "
                                     "event before it")
        if chain_hash(prev, event) != event["hash"]:
            return _bad(count, prev, f"{where}: its content does not match its hash "
                                     "(altered after it was written)")
        prev, count = event["hash"], count + 1
    return {"valid": True, "events": count, "head": prev, "error": None}


def _bad(count: int, head: str, message: str) -> dict[str, Any]:
    return {"valid": False, "events": count, "head": head, "error": message}


def details_text(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
