"""A case's hash chain: every event of one case commits to the one before it, as the
audit log's events do (`arka.security.audit`).

    hash(event n) = SHA-256( bytes.fromhex(hash(event n-1)) || JCS(body of event n) )

with `hash(event -1)` = 32 zero bytes (GENESIS), and the body the event's fields `id`,
`case_id`, `tenant`, `idx`, `at`, `actor`, `action`, `details` (RFC 8785 canonical JSON).
Changing, removing, reordering or inserting an event breaks every later hash;
`verify_case_chain` names the first event that does not check. Pure functions: the store
links events with them, the service and `arka-cli verify` re-check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from arka.base.errors import ArkaError
from arka.trust.canonical import canonical

GENESIS = "00" * 32
BODY_FIELDS = ("id", "case_id", "tenant", "idx", "at", "actor", "action", "details")


def body(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in BODY_FIELDS}


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(body(event))).hexdigest()


def verify_case_chain(events: Iterable[Any], case_id: str | None = None) -> dict[str, Any]:
    """Check one case's events, in `idx` order: contiguous from 0, each of the case,
    linked to the one before and hashing to its stored hash. Returns {"valid", "events",
    "head", "error"}; malformed events fail (never raise)."""
    prev, count = GENESIS, 0
    for event in events:
        if type(event) is not dict:
            return _bad(count, prev, f"case event {count} is not an object")
        where = f"case event {event.get('id')} (index {event.get('idx')})"
        missing = [k for k in (*BODY_FIELDS, "prev_hash", "hash") if k not in event]
        if missing:
            return _bad(count, prev, f"{where}: lacks {', '.join(missing)}")
        if case_id is not None and event["case_id"] != case_id:
            return _bad(count, prev, f"{where}: belongs to case {event['case_id']!r}, not "
                                     f"{case_id}")
        if event["idx"] != count or type(event["idx"]) is not int:
            return _bad(count, prev, f"{where}: expected index {count}; an event is missing "
                                     "or out of order")
        if event["prev_hash"] != prev:
            return _bad(count, prev, f"{where}: prev_hash does not match the hash of the "
                                     "event before it")
        try:
            actual = chain_hash(prev, event)
        except (ArkaError, TypeError, ValueError) as exc:
            return _bad(count, prev, f"{where}: cannot be hashed ({exc})")
        if actual != event["hash"]:
            return _bad(count, prev, f"{where}: its content does not match its hash "
                                     "(altered after it was written)")
        prev, count = event["hash"], count + 1
    return {"valid": True, "events": count, "head": prev, "error": None}


def _bad(count: int, head: str, message: str) -> dict[str, Any]:
    return {"valid": False, "events": count, "head": head, "error": message}
