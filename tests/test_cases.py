"""Data-driven cases (tests/cases/**/*.yaml), each run through every executor.

A case has `expr` (an expression, wrapped in a generated rule) or `rule` (a whole rule
file), optional `input`, `context` and `tables: true` (the example tables), and one of:
- `expect`: the expression's value as JSON;
- `expect_error`: a runtime error code (the rule fails closed);
- `expect_compile`: [code, line, column] of the first compile error, relative to the
  expression (line 1 = its first line) or to the rule text;
- `expect_errors`: every compile error of a rule text, [[code, line, column], ...];
- `expect_result`: for rule cases, a rule-test `expected` block (SPEC §2.2).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import arka
from arka.base import values as V
from arka.engine import RuleSet
from arka.rules.source import load_document
from arka.testing import RuleTestCase, run_case
from tests.helpers import (
    DEFAULT_CONTEXT,
    EXAMPLES,
    EXECUTORS,
    EXPR_COLUMN,
    EXPR_LINE,
    compile_errors,
    evaluate_expression,
    expression_rule,
    normalize,
)

CASES_DIR = Path(__file__).parent / "cases"
TABLES = arka.load_tables([EXAMPLES / "tables"])


def _load_cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.rglob("*.yaml")):
        doc = load_document(path.read_text(encoding="utf-8"), str(path)).plain()
        for case in doc["cases"]:
            rel = path.relative_to(CASES_DIR).with_suffix("")
            out.append(pytest.param(case, id=f"{rel}:{case['name']}"))
    return out


CASES = _load_cases()


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("case", CASES)
def test_case(case: dict[str, Any], executor: str) -> None:
    tables = TABLES if case.get("tables") else None
    context = case.get("context", DEFAULT_CONTEXT)
    if "expr" in case:
        _expression_case(case, executor, tables, context)
    else:
        _rule_case(case, executor, tables, context)


def _expression_case(case: dict[str, Any], executor: str, tables: Any, context: Any) -> None:
    expr = case["expr"]
    if "expect_compile" in case:
        code, line, column = case["expect_compile"]
        errors = compile_errors(expression_rule(expr, list(case.get("input", {}))))
        assert errors, "expected a compile error"
        first = errors[0]
        assert (first["code"], first["line"] - EXPR_LINE + 1,
                first["column"] - EXPR_COLUMN + 1) == (code, line, column), errors
        return
    value = evaluate_expression(expr, case.get("input"), context, executor, tables)
    if "expect_error" in case:
        assert isinstance(value, dict) and "__error__" in value, f"expected an error, got {value!r}"
        assert value["__error__"]["code"] == case["expect_error"], value
        return
    assert not (isinstance(value, dict) and "__error__" in value), value
    # Typed: Python's == alone takes True for 1, and 0 for False or 0.0.
    assert _typed(value) == _typed(normalize(case["expect"])), value


def _typed(v: Any) -> Any:
    """A JSON value with each scalar tagged by its type."""
    if isinstance(v, dict):
        return {k: _typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_typed(x) for x in v]
    return (type(v).__name__, v)


def _rule_case(case: dict[str, Any], executor: str, tables: Any, context: Any) -> None:
    text = case["rule"]
    if "expect_errors" in case or "expect_compile" in case:
        errors = compile_errors(text)
        got = [[e["code"], e["line"], e["column"]] for e in errors]
        if "expect_errors" in case:
            assert got == case["expect_errors"], errors
        else:
            assert got and got[0] == case["expect_compile"], errors
        return
    compiled = arka.compile_rule(text, "case.yaml")
    ruleset = RuleSet([compiled], tables)
    tc = RuleTestCase(case["name"], context, case.get("input", {}), case["expect_result"], "case", 1)
    outcome = run_case(ruleset, tc, executor=executor)
    assert outcome.passed, outcome.problems


def test_expected_values_are_compared_with_their_types() -> None:
    assert _typed([1, {"a": True}]) != _typed([True, {"a": 1}])
    assert _typed(0) != _typed(0.0) and _typed(0) != _typed(False)
    assert _typed({"a": [1, "x"]}) == _typed({"a": [1, "x"]})


def test_values_are_decimal_not_float() -> None:
    # JSON numbers, int or float, become exact decimals (never floats) ...
    for raw, exact in ((0, "0"), (7, "7"), (0.1, "0.1"), (2.5, "2.5"), (-0.0, "-0.0")):
        value = V.from_json(raw)
        assert type(value) is Decimal and value == Decimal(exact), (raw, value)
    nested = V.from_json({"a": [1, 0.25]})
    assert [type(x) for x in nested["a"]] == [Decimal, Decimal]
    # ... and come back as ints when integral, as text when a double cannot hold them.
    zero = V.to_json(V.from_json(0))
    assert type(zero) is int and zero == 0
    whole = V.to_json(V.from_json(2.0))
    assert type(whole) is int and whole == 2
    assert V.to_json(Decimal("0.1000000000000000000001")) == "0.1000000000000000000001"
