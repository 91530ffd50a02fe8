"""The evaluation result, and the accumulator that builds it from every rule's actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arka.base import values as V
from arka.rtvm.vm import Outcome
from arka.rules.actions import (
    ACTION_TYPES,
    BUCKETS,
    BUCKETS_BY_NAME,
    FAILED_RULE_DECISION,
    Emitter,
    most_severe,
)


@dataclass
class EvaluationResult:
    context: dict[str, Any]
    result: dict[str, Any]
    rule_results: list[dict[str, Any]]
    metadata: dict[str, Any]
    trace: list[dict[str, Any]] | None = None
    tables_used: list[dict[str, str]] = field(default_factory=list)

    @property
    def decision(self) -> str:
        return str(self.result["decision"])

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """The result as plain JSON-ready data: `context`, `result`, `rule_results`,
        `metadata` and, when traced, `trace` (a stored evaluation's record without its
        proof). `timing=False` leaves out `metadata.evaluation_duration_ms`, the one
        field that differs between runs of the same evaluation."""
        meta = dict(self.metadata)
        if not timing:
            meta.pop("evaluation_duration_ms", None)
        out: dict[str, Any] = {"context": V.to_json(self.context), "result": self.result,
                               "rule_results": self.rule_results, "metadata": meta}
        if self.trace is not None:
            out["trace"] = self.trace
        return out

    def to_json(self, *, timing: bool = True, indent: int | None = None) -> str:
        """`to_dict()` as JSON text: keys sorted, so the same evaluation always gives the
        same text (with `timing=False`); compact unless `indent` is given."""
        return V.dumps(self.to_dict(timing=timing), indent=indent)


def _dependency_view(status: str, conditions: dict[str, Any], flags: list[dict[str, Any]],
                     blocked: bool) -> dict[str, Any]:
    """What `rule_result("name")` returns inside a dependent rule."""
    return {"status": status, "conditions": dict(conditions), "flagged": bool(flags),
            "blocked": blocked, "flags": [V.from_json(f) for f in flags]}


def _json_event(e: dict[str, Any]) -> dict[str, Any]:
    return {k: (V.to_json(v) if k != "top" else v) for k, v in e.items()}


class _Accumulator:
    """Collects the actions of every rule into the result, all-or-nothing per rule.

    Each action type's shape, bucket and effect on the decision come from the action
    registry (`arka.rules.actions`); the result layout from its `BUCKETS`.
    """

    def __init__(self) -> None:
        self.buckets: dict[str, Any] = {b.name: {} if b.merge else [] for b in BUCKETS}
        self.fired: dict[str, None] = {}  # action types that emitted, in first-emitted order
        self.errors = 0

    def collect(self, info: Any, outcome: Outcome) -> list[tuple[str, Any]]:
        """Shape one rule's actions as (type, item); nothing is added unless all are valid."""
        actions_meta = info.rule.program.metadata["actions"]
        staged: list[tuple[str, Any]] = []
        for index, atype, config in outcome.actions:
            src = Emitter(info.name, info.version, actions_meta[index]["trigger"])
            staged.append((atype, ACTION_TYPES[atype].emit(config, src)))
        for atype, item in staged:
            kind = ACTION_TYPES[atype]
            bucket = self.buckets[kind.bucket]
            if BUCKETS_BY_NAME[kind.bucket].merge:
                bucket.update(item)
            else:
                bucket.append(item)
            self.fired[atype] = None
        return staged

    def result(self, strategy: str) -> dict[str, Any]:
        decisions = [d for d in (ACTION_TYPES[t].decision(strategy) for t in self.fired) if d]
        if self.errors:
            decisions.append(FAILED_RULE_DECISION)
        out: dict[str, Any] = {"decision": most_severe(decisions)}
        for b in BUCKETS:
            if b.summary:
                out[b.summary] = bool(self.buckets[b.name])
        for b in BUCKETS:
            items = self.buckets[b.name]
            if b.always or items:
                out[b.name] = dict(sorted(items.items())) if b.merge else items
        return out
