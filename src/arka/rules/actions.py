"""The action registry: every action type a rule may emit, declared once.

An `ActionType` says everything the rest of the engine needs to know about one type:
the config keys the rule file may give (and which are required), a static check of a
config written in the rule file, which fields are always text in the result, the result
bucket its items land in, how one emitted config becomes a result item (with the run-time
checks, such as the flag severity), what it does to the decision, and the key that rule
tests use to expect its items. The rule loader, the bytecode loader, the VM, the result
accumulator, rule tests and the generated docs all read `ACTION_TYPES`; adding an action
type is one entry here.

Bytecode refers to an action by its index in the program's metadata, whose `type` names
an entry of this registry, so a new type needs no new opcode.

The result layout is part of every output hash: bucket order, the fields of each item
and their order must not change for existing types. A new bucket must be
`always=False` (present only when it has items), so results of rules that never emit it
stay byte for byte what they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from arka.base import values as V
from arka.base.errors import EvalError, Span
from arka.rules.source import Located

SEVERITIES = ("critical", "high", "medium", "low")

# Decisions from least to most severe; an evaluation's decision is the most severe one
# any fired action (or a failed rule: needs_review) leads to.
DECISIONS = ("compliant", "needs_review", "non_compliant")
FAILED_RULE_DECISION = "needs_review"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One key of the evaluation result that action items are collected under."""

    name: str
    merge: bool = False  # an object the items are merged into (sorted keys), else a list
    always: bool = True  # present in every result, else only when it has items
    summary: str | None = None  # a boolean result key: does this bucket have items?


# In result order (after `decision` and the summaries).
BUCKETS: tuple[Bucket, ...] = (
    Bucket("flags"),
    Bucket("annotations", merge=True),
    Bucket("escalations"),
    Bucket("notifications"),
    Bucket("score_adjustments"),
    Bucket("blocks", always=False, summary="blocked"),
)
BUCKETS_BY_NAME: dict[str, Bucket] = {b.name: b for b in BUCKETS}


@dataclass(frozen=True, slots=True)
class Effect:
    """What a fired action does to the decision, by aggregate strategy."""

    decision: str
    by_strategy: tuple[tuple[str, str], ...] = ()

    def under(self, strategy: str) -> str:
        return dict(self.by_strategy).get(strategy, self.decision)


@dataclass(frozen=True, slots=True)
class Emitter:
    """Where an emitted action came from: its rule and the trigger's source text."""

    rule_id: str
    rule_version: str
    trigger: str

    def base(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "rule_version": self.rule_version}


class ConfigChecker(Protocol):
    """What a static config check may use of the rule loader (`rules.loader._Reader`)."""

    def error(self, code: str, span: Span, message: str) -> None: ...
    def mapping(self, loc: Located, what: str) -> dict[str, Located] | None: ...
    def sequence(self, loc: Located, what: str) -> list[Located] | None: ...


# (checker, config keys, the config itself) -> None; problems go to checker.error.
StaticCheck = Callable[[ConfigChecker, dict[str, Located], Located], None]
# (config with text fields made text, emitter) -> the result item (raises EvalError E_ACTION).
Shape = Callable[[dict[str, Any], Emitter], Any]


def _no_check(r: ConfigChecker, m: dict[str, Located], loc: Located) -> None:
    return None


def _sorted_fields(cfg: dict[str, Any], src: Emitter) -> dict[str, Any]:
    return src.base() | {k: V.to_json(v) for k, v in sorted(cfg.items())}


@dataclass(frozen=True, slots=True)
class ActionType:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    bucket: str
    doc: str  # what it puts in the result, for the generated docs
    text_fields: tuple[str, ...] = ()  # always text in the result, whatever produced them
    shape: Shape = _sorted_fields
    check: StaticCheck = _no_check
    effect: Effect | None = None
    expect: str | None = None  # key of a rule test's `expected` matched against its bucket
    key_notes: tuple[tuple[str, str], ...] = ()  # per-key text for the docs
    config_note: str = ""  # a constraint across keys, for the docs

    @property
    def keys(self) -> tuple[str, ...]:
        return self.required + self.optional

    def emit(self, config: Any, src: Emitter) -> Any:
        """One emitted config as its result item; a bad value raises EvalError E_ACTION."""
        cfg = dict(config) if isinstance(config, dict) else {}
        for key in self.text_fields:
            if cfg.get(key) is not None and not isinstance(cfg[key], str):
                cfg[key] = V.to_text(cfg[key])
        return self.shape(cfg, src)

    def decision(self, strategy: str) -> str | None:
        return self.effect.under(strategy) if self.effect is not None else None


# ------------------------------------------------------------------ flag

def _check_flag(r: ConfigChecker, m: dict[str, Located], loc: Located) -> None:
    sev = m.get("severity")
    if sev is not None and isinstance(sev.value, str) and "${" not in sev.value and \
            sev.value not in SEVERITIES:
        r.error("E_SEVERITY", sev.span, f"severity {sev.value!r} must be one of "
                f"{', '.join(SEVERITIES)}")


def _flag_item(cfg: dict[str, Any], src: Emitter) -> dict[str, Any]:
    severity = cfg.get("severity")
    if not isinstance(severity, str) or severity not in SEVERITIES:
        raise EvalError(f"flag severity {V.to_text(severity)!r} must be one of "
                        f"{', '.join(SEVERITIES)}", code="E_ACTION")
    item = src.base() | {"condition_id": src.trigger, "category": V.to_json(cfg.get("category")),
                         "severity": severity, "message": V.to_json(cfg.get("message")),
                         "code": V.to_json(cfg.get("code"))}
    if "metadata" in cfg:
        item["metadata"] = V.to_json(cfg["metadata"])
    return item


# ------------------------------------------------------------------ annotate

def _check_annotate(r: ConfigChecker, m: dict[str, Located], loc: Located) -> None:
    if "annotations" in m:
        r.mapping(m["annotations"], "annotations")


def _annotations(cfg: dict[str, Any], src: Emitter) -> dict[str, Any]:
    ann = cfg.get("annotations")
    if not isinstance(ann, dict):
        raise EvalError("annotations must be an object", code="E_ACTION")
    return {k: V.to_json(v) for k, v in ann.items()}


# ------------------------------------------------------------------ block

def _block_item(cfg: dict[str, Any], src: Emitter) -> dict[str, Any]:
    return src.base() | {"condition_id": src.trigger, "reason": V.to_json(cfg.get("reason")),
                         "code": V.to_json(cfg.get("code")),
                         "override_allowed": bool(cfg.get("override_allowed") or False)}


# ------------------------------------------------------------------ notify

CHANNEL_TYPES = ("webhook", "email")


def _check_notify(r: ConfigChecker, m: dict[str, Located], loc: Located) -> None:
    if "channels" not in m:
        return
    for ch in r.sequence(m["channels"], "channels") or []:
        cm = r.mapping(ch, "a channel")
        if cm is None:
            continue
        kind = cm.get("type")
        if kind is None or kind.value not in CHANNEL_TYPES:
            r.error("E_SCHEMA", (kind or ch).span,
                    f"a channel needs type {' or '.join(CHANNEL_TYPES)}")


# ------------------------------------------------------------------ score_adjustment

SCORE_MODES = ("adjustment", "multiplier", "set_value")


def _check_score(r: ConfigChecker, m: dict[str, Located], loc: Located) -> None:
    modes = [k for k in SCORE_MODES if k in m]
    if len(modes) != 1:
        r.error("E_MISSING_KEY" if not modes else "E_SCHEMA", loc.span,
                f"score_adjustment needs exactly one of {', '.join(SCORE_MODES)}")


# ------------------------------------------------------------------ the registry

_TYPES = (
    ActionType(
        "flag", ("severity", "category"), ("message", "code", "metadata"), "flags",
        "`flags[]` with rule_id, rule_version, condition_id (the trigger text)",
        text_fields=("category", "message", "code"), shape=_flag_item, check=_check_flag,
        effect=Effect("non_compliant", (("flags_need_review", "needs_review"),)),
        expect="flags", key_notes=(("severity", f" ({', '.join(SEVERITIES)})"),)),
    ActionType(
        "annotate", ("annotations",), (), "annotations",
        "merged into `annotations` (a later rule wins on the same key)",
        shape=_annotations, check=_check_annotate, expect="annotations",
        key_notes=(("annotations", ": a mapping of values"),)),
    ActionType(
        "escalate", ("queue", "priority"), ("sla_hours", "assignee_group", "notes"),
        "escalations", "`escalations[]`",
        text_fields=("queue", "priority", "assignee_group", "notes"),
        effect=Effect("needs_review"), expect="escalations"),
    ActionType(
        "block", ("reason", "code"), ("override_allowed",), "blocks",
        "`blocked: true` and `blocks[]`", text_fields=("reason", "code"), shape=_block_item,
        effect=Effect("non_compliant")),
    ActionType(
        "notify", ("channels", "template"), ("data",), "notifications",
        "`notifications[]`: an intent to deliver after the evaluation, never sent by the VM",
        text_fields=("template",), check=_check_notify, expect="notifications",
        key_notes=(("channels", f" (each with `type: {'` or `'.join(CHANNEL_TYPES)}`)"),)),
    ActionType(
        "score_adjustment", ("field", "reason"), SCORE_MODES + ("min_value", "max_value"),
        "score_adjustments", "`score_adjustments[]`", text_fields=("field", "reason"),
        check=_check_score, expect="score_adjustments",
        config_note=f"exactly one of {' / '.join(SCORE_MODES)}"),
)

ACTION_TYPES: Mapping[str, ActionType] = {t.name: t for t in _TYPES}


def most_severe(decisions: list[str]) -> str:
    """The most severe of some decisions (compliant when there are none)."""
    return max(decisions, key=DECISIONS.index, default=DECISIONS[0])
