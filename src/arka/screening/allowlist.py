"""The allowlist applied to a screening result: decisions that a subject (a customer) is
not a listed entity, recorded by an analyst. A match of an allowlisted pair is moved out
of `matches` into `allowlisted`, saying which decision skipped it and why; when the
entity's data changed since the decision (its content hash differs), the match stays
and `reopened` says which decision no longer applies. `hit` and `score` are those of the
matches that remain. Pure and deterministic: the result and the entries decide it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def entries_for(allowlist: Mapping[str, Sequence[Mapping[str, Any]]] | None,
                subject_id: Any) -> list[Mapping[str, Any]]:
    if not allowlist or not isinstance(subject_id, str) or not subject_id:
        return []
    return list(allowlist.get(subject_id, ()))


def apply(result: Mapping[str, Any], subject_id: Any,
          entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`result` with the subject's active allowlist `entries` applied."""
    out = dict(result)
    out.setdefault("allowlisted", [])
    out.setdefault("reopened", [])
    if not entries or not isinstance(result.get("matches"), list):
        return out
    by_entity: dict[str, list[Mapping[str, Any]]] = {}
    for e in entries:
        if e.get("subject_id") == subject_id:
            by_entity.setdefault(str(e.get("entity_id")), []).append(e)
    kept: list[Any] = []
    allowlisted = list(out["allowlisted"])
    reopened = list(out["reopened"])
    for match in result["matches"]:
        decisions = by_entity.get(str(match.get("entity_id"))) if isinstance(match, dict) \
            else None
        if not decisions:
            kept.append(match)
            continue
        same = [d for d in decisions if d.get("entity_hash") == match.get("entity_hash")]
        if same:
            d = min(same, key=lambda x: str(x.get("id")))
            allowlisted.append({"entity_id": match["entity_id"], "score": match.get("score"),
                                "allowlist_id": d.get("id"), "reason": d.get("reason"),
                                "decided_by": d.get("created_by"),
                                "decided_at": d.get("created_at")})
        else:
            kept.append(match)
            for d in sorted(decisions, key=lambda x: str(x.get("id"))):
                reopened.append({"entity_id": match["entity_id"], "allowlist_id": d.get("id"),
                                 "reason": "the entity's list data changed since the "
                                           "decision (entity_hash differs): review it again",
                                 "decided_at": d.get("created_at")})
    out["matches"] = kept
    out["allowlisted"] = allowlisted
    out["reopened"] = reopened
    out["hit"] = bool(kept)
    out["score"] = max((Decimal(str(m.get("score", 0))) for m in kept), default=Decimal(0))
    return out
