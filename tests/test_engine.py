"""Multi-rule evaluation: selection, dependencies, rule_result(), decisions, traces."""

from __future__ import annotations

import pytest

import arka
from arka.base.errors import CompileError, InputError


def rule(name: str, body: str, meta: str = "") -> arka.CompiledRule:
    return arka.compile_rule(f"rule:\n  metadata: {{name: {name}, version: 1.0.0{meta}}}\n{body}",
                             f"{name}.yaml")


FLAG_BIG = """  inputs: [{name: tx}]
  conditions:
    - {id: big, expression: tx.amount > 100}
  actions:
    - {trigger: big, type: flag, config: {severity: high, category: BIG}}
"""
CTX = {"jurisdiction": "US", "timestamp": "2024-06-01T00:00:00Z"}


def test_rule_result_of_a_dependency() -> None:
    base = rule("base", FLAG_BIG)
    follower = rule("follower", """  conditions:
    - {id: base_flagged, expression: rule_result("base").flagged}
    - {id: base_big, expression: rule_result("base").conditions.big}
  actions:
    - {trigger: base_flagged AND base_big, type: escalate, config: {queue: q, priority: high}}
""", ", depends_on: [base]")
    res = arka.RuleSet([follower, base]).evaluate({"tx": {"amount": 500}}, CTX)
    assert [r["rule_id"] for r in res.rule_results] == ["base", "follower"]
    assert res.result["escalations"][0]["queue"] == "q"
    res = arka.RuleSet([follower, base]).evaluate({"tx": {"amount": 5}}, CTX)
    assert res.result["escalations"] == []


def test_missing_dependency_is_an_error() -> None:
    follower = rule("follower", "  conditions:\n    - {id: c, expression: 'true'}\n",
                    ", depends_on: [base]")
    with pytest.raises(CompileError) as info:
        arka.RuleSet([follower])
    assert info.value.diagnostics[0].code == "E_DEPENDENCY"


def test_dependency_cycle_is_an_error() -> None:
    a = rule("a", "  conditions:\n    - {id: c, expression: 'true'}\n", ", depends_on: [b]")
    b = rule("b", "  conditions:\n    - {id: c, expression: 'true'}\n", ", depends_on: [a]")
    with pytest.raises(CompileError) as info:
        arka.RuleSet([a, b])
    assert info.value.diagnostics[0].code == "E_DEPENDENCY_CYCLE"
    assert "a -> b -> a" in info.value.diagnostics[0].message


def test_same_name_different_content_is_an_error() -> None:
    a1 = rule("a", "  conditions:\n    - {id: c, expression: 'true'}\n")
    a2 = rule("a", "  conditions:\n    - {id: c, expression: 'false'}\n")
    with pytest.raises(CompileError) as info:
        arka.RuleSet([a1, a2])
    assert info.value.code == "E_DUPLICATE_RULE"


def test_order_does_not_depend_on_input_order() -> None:
    rules = [rule(n, "  conditions:\n    - {id: c, expression: 'true'}\n") for n in "cab"]
    assert [r.name for r in arka.RuleSet(rules).rules] == ["a", "b", "c"]
    assert [r.name for r in arka.RuleSet(rules[::-1]).rules] == ["a", "b", "c"]


@pytest.mark.parametrize(("rule_j", "context_j", "runs"), [
    ("US", "US", True), ("US", "US-CA", True), ("US-CA", "US", False), ("ALL", "GB", True),
    ("GB", "US", False), ("US-NY", "US-CA", False),
])
def test_jurisdiction_selection(rule_j: str, context_j: str, runs: bool) -> None:
    r = rule("j", FLAG_BIG, f", jurisdiction: {rule_j}")
    res = arka.RuleSet([r]).evaluate({"tx": {"amount": 500}}, {"jurisdiction": context_j,
                                                               "timestamp": CTX["timestamp"]})
    assert (res.rule_results[0]["status"] != "skipped") is runs


def test_effective_dates_use_the_context_timestamp() -> None:
    r = rule("dated", FLAG_BIG, ", effective_date: 2024-01-01, expiry_date: 2025-01-01")
    rs = arka.RuleSet([r])
    for ts, status in [("2023-12-31T23:59:59Z", "skipped"), ("2024-01-01T00:00:00Z", "fired"),
                       ("2024-12-31T23:00:00Z", "fired"), ("2025-01-01T00:00:00Z", "skipped")]:
        res = rs.evaluate({"tx": {"amount": 500}}, {"timestamp": ts})
        assert res.rule_results[0]["status"] == status, ts
    assert "not yet effective" in rs.evaluate({"tx": {}}, {"timestamp": "2020-01-01T00:00:00Z"}
                                              ).rule_results[0]["reason"]


def test_domain_selection() -> None:
    r = rule("d", FLAG_BIG, ", domain: KYC")
    rs = arka.RuleSet([r])
    assert rs.evaluate({"tx": {"amount": 1}}, {"domain": "AML"}).rule_results[0]["status"] == "skipped"
    assert rs.evaluate({"tx": {"amount": 1}}, {"domain": "kyc"}).rule_results[0]["status"] == "not_fired"


def test_skipped_rules_do_not_need_their_inputs() -> None:
    r = rule("d", FLAG_BIG, ", jurisdiction: GB")
    res = arka.RuleSet([r]).evaluate({}, CTX)
    assert res.decision == "compliant" and res.rule_results[0]["status"] == "skipped"


def test_flags_need_review_strategy() -> None:
    rs = arka.RuleSet([rule("f", FLAG_BIG)], strategy="flags_need_review")
    assert rs.evaluate({"tx": {"amount": 500}}, CTX).decision == "needs_review"


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="strategy must be one of"):
        arka.RuleSet([], strategy="majority")


def test_missing_timestamp_is_set_and_reported() -> None:
    res = arka.RuleSet([rule("f", FLAG_BIG)]).evaluate({"tx": {"amount": 500}}, {})
    assert res.to_dict()["context"]["timestamp"].endswith("Z")


@pytest.mark.parametrize(("bad", "code", "where"), [
    ({"timestamp": "yesterday"}, "E_INPUT", "context.timestamp"),
    ({"timestamp": 5}, "E_INPUT", "context.timestamp"),
    ({"jurisdiction": 5}, "E_CONTEXT", "context.jurisdiction"),
])
def test_malformed_context_is_rejected(bad: dict[str, object], code: str, where: str) -> None:
    with pytest.raises(InputError) as info:
        arka.RuleSet([rule("f", FLAG_BIG)]).evaluate({"tx": {"amount": 1}}, bad)
    assert info.value.code == code and where in info.value.message, info.value


def test_input_must_be_an_object() -> None:
    with pytest.raises(InputError, match="input must be a JSON object") as info:
        arka.RuleSet([rule("f", FLAG_BIG)]).evaluate([1, 2], CTX)  # type: ignore[arg-type]
    assert info.value.code == "E_INPUT"


def test_trace_levels() -> None:
    rs = arka.RuleSet([rule("f", FLAG_BIG)])
    assert rs.evaluate({"tx": {"amount": 500}}, CTX).trace is None
    basic = rs.evaluate({"tx": {"amount": 500}}, CTX, trace="basic").trace
    assert basic is not None
    assert [e["event"] for e in basic[0]["events"]] == ["condition", "trigger", "action"]
    full = rs.evaluate({"tx": {"amount": 500}}, CTX, trace="full").trace
    assert full is not None
    ops = [e for e in full[0]["events"] if "op" in e]
    assert ops and {"fn", "pc", "op", "top"} <= set(ops[0])
    with pytest.raises(InputError, match="trace must be one of"):
        rs.evaluate({"tx": {"amount": 500}}, CTX, trace="everything")


def test_runtime_error_points_at_the_rule_source() -> None:
    r = rule("div", """  inputs: [{name: tx}]
  conditions:
    - {id: c, expression: tx.a / tx.b > 1}
""")
    res = arka.RuleSet([r]).evaluate({"tx": {"a": 1, "b": 0}}, CTX)
    err = res.rule_results[0]["error"]
    assert (err["code"], err["line"], err["column"]) == ("E_DIVISION_BY_ZERO", 5, 32)
    assert err["file"] == "div"  # the rule's name: the same from a file or an API request


def test_python_api_evaluate_shortcut() -> None:
    res = arka.evaluate([rule("f", FLAG_BIG)], {"tx": {"amount": 500}}, CTX)
    assert res.decision == "non_compliant"
    assert res.to_dict()["metadata"]["rules_evaluated"] == ["f@1.0.0"]
