"""Each RTVM limit (SPEC §3) trips cleanly on an adversarial rule, as a per-rule error."""

from __future__ import annotations

from typing import Any

import pytest

import arka
from arka.base import values as V
from arka.base.errors import CompileError
from arka.rtvm.vm import Limits
from tests.helpers import DEFAULT_CONTEXT, expression_rule


def _run(rule_text: str, limits: Limits, input: dict[str, Any] | None = None) -> dict[str, Any]:
    compiled = arka.compile_rule(rule_text, "limits.yaml")
    res = arka.RuleSet([compiled], limits=limits).evaluate(V.from_json(input or {}),
                                                            DEFAULT_CONTEXT)
    assert res.decision == "needs_review", "a rule that hit a limit must fail closed"
    rr = res.rule_results[0]
    assert rr["status"] == "error"
    return rr["error"]  # type: ignore[no-any-return]


def test_stack_depth_default_limit() -> None:
    items = ", ".join(["1"] * 1001)
    err = _run(expression_rule(f"[{items}]"), Limits())
    assert err["code"] == "E_LIMIT_STACK"


def test_call_depth_default_limit() -> None:
    # 60 lets in a row (the compiler allows 64), each calling a lambda that uses the
    # next: 1 + 2 * 60 nested calls, past the default max_call_depth of 100.
    lets = "\n".join(f"    l{i}: '[1].map(v => l{i - 1} + v)[0]'" for i in range(1, 60))
    text = (
        "rule:\n  metadata: {name: deep, version: 1.0.0}\n  let:\n    l0: 1\n" + lets + "\n"
        "  conditions:\n    - {id: c, expression: l59 > 0}\n"
    )
    err = _run(text, Limits())
    assert err["code"] == "E_LIMIT_CALL_DEPTH"
    assert err["line"] > 0


def test_a_let_chain_too_long_to_run_is_refused_at_compile_time() -> None:
    lets = "\n".join(f"    l{i}: l{i - 1} + 1" for i in range(1, 130))
    text = (
        "rule:\n  metadata: {name: deep, version: 1.0.0}\n  let:\n    l0: 1\n" + lets + "\n"
        "  conditions:\n    - {id: c, expression: l129 > 0}\n"
    )
    with pytest.raises(CompileError) as info:
        arka.compile_rule(text, "limits.yaml")
    first = info.value.diagnostics[0]
    # l129 (the condition's chain: c, l129 ... l0 is 131 long) is refused where a chain
    # of 65 starts: l64, on line 4 + 64.
    assert (first.code, first.span.line) == ("E_NESTING", 68), first


def test_instruction_limit() -> None:
    xs = list(range(100))
    err = _run(expression_rule("x.xs.map(a => x.xs.map(b => a * b)).size()", ["x"]),
               Limits(max_instructions=20_000), {"x": {"xs": xs}})
    assert err["code"] == "E_LIMIT_INSTRUCTIONS"


def test_execution_time_limit() -> None:
    xs = list(range(300))
    err = _run(expression_rule("x.xs.map(a => x.xs.map(b => a * b + 1)).size()", ["x"]),
               Limits(max_execution_time=0.02), {"x": {"xs": xs}})
    assert err["code"] == "E_LIMIT_TIME"


def test_heap_limit() -> None:
    xs = list(range(2000))
    err = _run(expression_rule("x.xs.reduce('', (acc, v) => acc + 'xxxxxxxxxxxxxxxxxxxx')", ["x"]),
               Limits(max_heap_size=100_000), {"x": {"xs": xs}})
    assert err["code"] == "E_LIMIT_HEAP"


def test_limits_do_not_affect_other_rules() -> None:
    heavy = arka.compile_rule(expression_rule("[" + ", ".join(["1"] * 1001) + "]"), "heavy.yaml")
    light = arka.compile_rule(
        "rule:\n  metadata: {name: light, version: 1.0.0}\n  conditions:\n"
        "    - {id: c, expression: 'true'}\n  actions:\n"
        "    - {trigger: c, type: flag, config: {severity: low, category: OK}}\n", "light.yaml")
    res = arka.RuleSet([heavy, light]).evaluate({}, DEFAULT_CONTEXT)
    statuses = {r["rule_id"]: r["status"] for r in res.rule_results}
    assert statuses == {"expression-case": "error", "light": "fired"}
    assert res.decision == "non_compliant"
    assert res.result["flags"][0]["category"] == "OK"
