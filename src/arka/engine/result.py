"""The evaluation result, and the accumulator that builds it from every rule's actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arka.base import values as V
from arka.base.errors import EvalError
from arka.rtvm.vm import Outcome

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


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

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        meta = dict(self.metadata)
        if not timing:
            meta.pop("evaluation_duration_ms", None)
        out: dict[str, Any] = {"context": V.to_json(self.context), "result": self.result,
                               "rule_results": self.rule_results, "metadata": meta}
        if self.trace is not None:
            out["trace"] = self.trace
        return out



def _dependency_view(status: str, conditions: dict[str, Any], flags: list[dict[str, Any]],
                     blocked: bool) -> dict[str, Any]:
    """What `rule_result("name")` returns inside a dependent rule."""
    return {"status": status, "conditions": dict(conditions), "flagged": bool(flags),
            "blocked": blocked, "flags": [V.from_json(f) for f in flags]}


def _json_event(e: dict[str, Any]) -> dict[str, Any]:
    return {k: (V.to_json(v) if k != "top" else v) for k, v in e.items()}


# Config fields that are text in the result, whatever expression produced them.
TEXT_FIELDS = {
    "flag": ("category", "message", "code"),
    "block": ("reason", "code"),
    "escalate": ("queue", "priority", "assignee_group", "notes"),
    "notify": ("template",),
    "score_adjustment": ("field", "reason"),
}


def _text_fields(atype: str, cfg: dict[str, Any]) -> dict[str, Any]:
    out = dict(cfg)
    for key in TEXT_FIELDS.get(atype, ()):
        if out.get(key) is not None and not isinstance(out[key], str):
            out[key] = V.to_text(out[key])
    return out


class _Accumulator:
    """Collects the actions of every rule into the result, all-or-nothing per rule."""

    def __init__(self) -> None:
        self.flags: list[dict[str, Any]] = []
        self.blocks: list[dict[str, Any]] = []
        self.annotations: dict[str, Any] = {}
        self.escalations: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.errors = 0

    def collect(self, info: Any, outcome: Outcome) -> list[tuple[str, dict[str, Any]]]:
        """Shape one rule's actions; nothing is added unless all of them are valid."""
        actions_meta = info.rule.program.metadata["actions"]
        staged: list[tuple[str, dict[str, Any]]] = []
        for index, atype, config in outcome.actions:
            base = {"rule_id": info.name, "rule_version": info.version}
            trigger = actions_meta[index]["trigger"]
            cfg = _text_fields(atype, config if isinstance(config, dict) else {})
            if atype == "flag":
                severity = cfg.get("severity")
                if severity not in SEVERITY_RANK:
                    raise EvalError(f"flag severity {V.to_text(severity)!r} must be one of "
                                    f"{', '.join(SEVERITY_RANK)}", code="E_ACTION")
                item = base | {"condition_id": trigger, "category": V.to_json(cfg.get("category")),
                               "severity": severity, "message": V.to_json(cfg.get("message")),
                               "code": V.to_json(cfg.get("code"))}
                if "metadata" in cfg:
                    item["metadata"] = V.to_json(cfg["metadata"])
                staged.append(("flag", item))
            elif atype == "block":
                staged.append(("block", base | {
                    "condition_id": trigger, "reason": V.to_json(cfg.get("reason")),
                    "code": V.to_json(cfg.get("code")),
                    "override_allowed": bool(cfg.get("override_allowed") or False)}))
            elif atype == "annotate":
                ann = cfg.get("annotations")
                if not isinstance(ann, dict):
                    raise EvalError("annotations must be an object", code="E_ACTION")
                staged.append(("annotate", {k: V.to_json(v) for k, v in ann.items()}))
            else:
                staged.append((atype, base | {k: V.to_json(v) for k, v in sorted(cfg.items())}))
        for kind, item in staged:
            if kind == "flag":
                self.flags.append(item)
            elif kind == "block":
                self.blocks.append(item)
            elif kind == "annotate":
                self.annotations.update(item)
            elif kind == "escalate":
                self.escalations.append(item)
            elif kind == "notify":
                self.notifications.append(item)
            else:
                self.scores.append(item)
        return staged

    def result(self, strategy: str) -> dict[str, Any]:
        if self.blocks or (self.flags and strategy == "most_severe"):
            decision = "non_compliant"
        elif self.flags or self.escalations or self.errors:
            decision = "needs_review"
        else:
            decision = "compliant"
        out: dict[str, Any] = {
            "decision": decision, "blocked": bool(self.blocks), "flags": self.flags,
            "annotations": dict(sorted(self.annotations.items())),
            "escalations": self.escalations, "notifications": self.notifications,
            "score_adjustments": self.scores,
        }
        if self.blocks:
            out["blocks"] = self.blocks
        return out
