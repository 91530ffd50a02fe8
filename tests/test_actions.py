"""The action registry (`arka.rules.actions`): consistent, read by every stage, and the
result it shapes keeps its layout. Adding an action type is one registry entry."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

import arka
from arka.engine import STRATEGIES, RuleSet
from arka.engine.result import _Accumulator
from arka.interfaces.docgen import actions_markdown
from arka.rtvm.vm import Outcome
from arka.rules.actions import (
    ACTION_TYPES,
    BUCKETS,
    BUCKETS_BY_NAME,
    DECISIONS,
    SEVERITIES,
    ActionType,
    Effect,
)
from arka.testing import EXPECTED_KEYS, LIST_KEYS, MAP_KEYS
from tests.helpers import DEFAULT_CONTEXT, EXECUTORS


def test_registry_is_consistent() -> None:
    expects = [t.expect for t in ACTION_TYPES.values() if t.expect]
    assert len(expects) == len(set(expects))
    for name, t in ACTION_TYPES.items():
        assert t.name == name
        assert t.bucket in BUCKETS_BY_NAME
        assert not set(t.required) & set(t.optional)
        assert set(t.text_fields) <= set(t.keys)
        assert {k for k, _ in t.key_notes} <= set(t.keys)
        if t.effect is not None:
            assert t.effect.decision in DECISIONS
            for strategy, decision in t.effect.by_strategy:
                assert strategy in STRATEGIES and decision in DECISIONS
    assert [b.name for b in BUCKETS if not b.always] == ["blocks"]  # the layout of old results


def test_rule_test_keys_come_from_the_registry() -> None:
    assert LIST_KEYS == ("flags", "escalations", "notifications", "score_adjustments")
    assert MAP_KEYS == ("annotations",)
    assert EXPECTED_KEYS == ("decision", "blocked", "annotations", "conditions", "error",
                             "flags", "escalations", "notifications", "score_adjustments")


# ----------------------------------------------------------------- result shape and decision

@dataclass
class _Program:
    metadata: dict[str, Any]


@dataclass
class _Rule:
    program: _Program


@dataclass
class _Info:
    rule: _Rule
    name: str = "r"
    version: str = "1.0.0"


CONFIGS = {
    "flag": {"severity": "high", "category": "C", "message": "m", "code": "F-1"},
    "annotate": {"annotations": {"b": 2, "a": 1}},
    "escalate": {"queue": "q", "priority": "high", "sla_hours": 24},
    "block": {"reason": "no", "code": "B-1"},
    "notify": {"channels": [{"type": "email"}], "template": "t", "data": {}},
    "score_adjustment": {"field": "risk", "adjustment": 5, "reason": "why"},
}


def _old_decision(fired: set[str], strategy: str, errors: int) -> str:
    """The decision logic before the registry, spelled out."""
    if "block" in fired or ("flag" in fired and strategy == "most_severe"):
        return "non_compliant"
    if "flag" in fired or "escalate" in fired or errors:
        return "needs_review"
    return "compliant"


def test_every_combination_of_actions_decides_as_before() -> None:
    types = sorted(CONFIGS)
    for n in range(len(types) + 1):
        for fired in itertools.combinations(types, n):
            for strategy, errors in itertools.product(STRATEGIES, (0, 1)):
                acc = _Accumulator()
                acc.errors = errors
                meta = {"actions": [{"index": i, "type": t, "trigger": f"c{i}"}
                                    for i, t in enumerate(fired)]}
                acc.collect(_Info(_Rule(_Program(meta))),
                            Outcome(actions=[(i, t, CONFIGS[t]) for i, t in enumerate(fired)]))
                result = acc.result(strategy)
                assert result["decision"] == _old_decision(set(fired), strategy, errors)
                keys = ["decision", "blocked", "flags", "annotations", "escalations",
                        "notifications", "score_adjustments"] + (["blocks"] if "block" in fired
                                                                 else [])
                assert list(result) == keys


def test_items_keep_their_fields_in_order() -> None:
    acc = _Accumulator()
    meta = {"actions": [{"index": i, "type": t, "trigger": f"c{i}"}
                        for i, t in enumerate(sorted(CONFIGS))]}
    acc.collect(_Info(_Rule(_Program(meta))),
                Outcome(actions=[(i, t, CONFIGS[t]) for i, t in enumerate(sorted(CONFIGS))]))
    r = acc.result("most_severe")
    base = ["rule_id", "rule_version"]
    assert list(r["flags"][0]) == base + ["condition_id", "category", "severity", "message",
                                          "code"]
    assert list(r["blocks"][0]) == base + ["condition_id", "reason", "code", "override_allowed"]
    assert list(r["escalations"][0]) == base + ["priority", "queue", "sla_hours"]
    assert list(r["score_adjustments"][0]) == base + ["adjustment", "field", "reason"]
    assert list(r["notifications"][0]) == base + ["channels", "data", "template"]
    assert list(r["annotations"]) == ["a", "b"]


@pytest.mark.parametrize("severity", [None, "urgent", ["high"], {"x": 1}, True])
def test_a_computed_bad_severity_is_an_action_error(severity: Any) -> None:
    from arka.base.errors import EvalError
    from arka.rules.actions import Emitter
    with pytest.raises(EvalError) as info:
        ACTION_TYPES["flag"].emit({"severity": severity, "category": "C"}, Emitter("r", "1", "t"))
    assert info.value.code == "E_ACTION"
    assert ", ".join(SEVERITIES) in info.value.message


# ----------------------------------------------------------------- a new type is one entry

REVIEW = ActionType(
    "review", ("reason",), ("queue",), "escalations", "`escalations[]`",
    text_fields=("reason",), effect=Effect("needs_review"))

REVIEW_RULE = """rule:
  metadata: {name: review-rule, version: 1.0.0}
  inputs: [{name: tx}]
  conditions:
    - {id: odd, expression: tx.amount % 2 == 1}
  actions:
    - {trigger: odd, type: review, config: {reason: "amount ${tx.amount}", queue: ops}}
"""


def test_a_new_action_type_needs_only_its_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ACTION_TYPES, "review", REVIEW)  # type: ignore[arg-type]
    compiled = arka.compile_rule(REVIEW_RULE, "review.yaml")
    rule = arka.load_bytecode(compiled.bytecode)
    assert rule.program.metadata["actions"][0]["type"] == "review"
    for executor in EXECUTORS:
        for candidate in (compiled, rule) if executor != "reference" else (compiled,):
            res = RuleSet([candidate]).evaluate({"tx": {"amount": 3}}, DEFAULT_CONTEXT,
                                                executor=executor)
            assert res.result["decision"] == "needs_review"
            assert res.result["escalations"] == [
                {"rule_id": "review-rule", "rule_version": "1.0.0", "queue": "ops",
                 "reason": "amount 3"}]
    assert "| `review` | **reason**, queue | reason |" in actions_markdown()
    with pytest.raises(arka.CompileError) as info:
        arka.compile_rule(REVIEW_RULE.replace("queue: ops", "queue: ops, color: red"), "r.yaml")
    assert info.value.diagnostics[0].code == "E_UNKNOWN_KEY"


def test_an_unregistered_type_is_a_compile_error() -> None:
    with pytest.raises(arka.CompileError) as info:
        arka.compile_rule(REVIEW_RULE, "review.yaml")
    d = info.value.diagnostics[0]
    assert d.code == "E_ACTION_TYPE" and "use one of flag, annotate" in d.message
