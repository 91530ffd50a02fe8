"""Error texts, as data: articles before type names, YAML indentation errors, values in
`rule test` output written as JSON, and NaN/Infinity refusals that name their path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import arka
from arka.base import values as V
from arka.base.boundary import BoundaryError
from arka.base.errors import CompileError
from arka.lang import types as T
from arka.rules.source import SourceFault, load_document
from arka.testing import RuleTestCase, run_case, show
from tests.helpers import expression_rule

# ------------------------------------------------------------------ articles

@pytest.mark.parametrize(("name", "phrase"), [
    ("object", "an object"), ("integer", "an integer"), ("list", "a list"),
    ("decimal", "a decimal"), ("string", "a string"), ("boolean", "a boolean"),
    ("datetime", "a datetime"), ("date", "a date"), ("duration", "a duration"),
    ("function", "a function"), ("list<object>", "a list<object>"), ("null", "null"),
    ("any", "a value of any type"),
])
def test_type_names_take_the_right_article(name: str, phrase: str) -> None:
    assert V.with_article(name) == phrase


@pytest.mark.parametrize(("value", "phrase"), [
    ({}, "an object"), ([], "a list"), (Decimal(1), "a decimal"), ("x", "a string"),
    (True, "a boolean"), (None, "null"),
])
def test_value_type_names_take_the_right_article(value: Any, phrase: str) -> None:
    assert V.a_type_name(value) == phrase


@pytest.mark.parametrize(("t", "phrase"), [
    (T.OBJECT, "an object"), (T.list_of(T.OBJECT), "a list<object>"), (T.DECIMAL, "a decimal"),
    (T.function(1), "a lambda/1"),
])
def test_static_types_take_the_right_article(t: T.Type, phrase: str) -> None:
    assert t.a == phrase


@pytest.mark.parametrize(("expr", "message"), [
    ("abs({a: 1})", "argument 'value' of abs() needs a decimal, got an object"),
    ("-{a: 1}", "cannot negate an object"),
    ("{a: 1} + 1", "cannot apply + to an object and a decimal"),
    ("{a: 1} < 2", "cannot order an object with <"),
    ("if {a: 1} then 1 else 2", "an if condition needs a boolean, got an object"),
    ("[1] == 'a'", "comparing a list<decimal> with a string is always false"),
])
def test_compile_messages_use_the_right_article(expr: str, message: str) -> None:
    with pytest.raises(CompileError) as err:
        arka.compile_rule(expression_rule(expr), "case.yaml")
    assert message in str(err.value)
    assert " a object" not in str(err.value) and " a integer" not in str(err.value)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: V.truthy({}), "expected a boolean, got an object"),
    (lambda: V.index_value({}, Decimal(1)), "an object key must be a string, got a decimal"),
    (lambda: V.neg({}), "cannot negate an object"),
])
def test_runtime_messages_use_the_right_article(call: Any, message: str) -> None:
    with pytest.raises(arka.EvalError) as err:
        call()
    assert message in str(err.value)


# ------------------------------------------------------------------ YAML indentation

HEAD = "rule:\n  metadata: {name: x, version: 1.0.0}\n  inputs: []\n"
TAIL = "  conditions:\n    - {id: c, expression: a > 1}\n"


@pytest.mark.parametrize(("body", "line", "column", "words"), [
    # a let value on its own line, not indented more than its key
    ("  let:\n    a:\n   1 + 2\n", 6, 4, ["indented 3 spaces", "not the value of 'a'",
                                        "more than its key"]),
    ("  let:\n    a:\n    1 + 2\n", 6, 5, ["indented 4 spaces", "not the value of 'a'"]),
    # a `|` block whose text is not indented more than its key
    ("  let:\n    a: |\n   1 + 2\n", 6, 4, ["'|' block of 'a' ends before it"]),
    ("  let:\n    a: |\n    1 + 2\n", 6, 5, ["'|' block of 'a' ends before it"]),
    ("  let:\n    a: >\n  1\n", 6, 3, ["'>' block of 'a'"]),
    # a block line less indented than the block's first line
    ("  let:\n    a: |\n        1 +\n      2\n", 7, 7, ["less than line 6 (8 spaces)",
                                                     "at least 8 spaces"]),
    # a key that lines up with nothing
    ("  let:\n    a: 1\n   b: 2\n", 6, 4, ["lines up with no key above it"]),
    ("  let:\n    a: |\n      x + 1\n   b: 2\n", 7, 4, ["lines up with no key above it"]),
    # a key indented under the previous value
    ("  let:\n    a: 1\n      b: 2\n", 6, 7, ["part of the value of 'a'", "line a new key up"]),
    # a tab
    ("  let:\n\ta: 1\n", 5, 1, ["tab"]),
])
def test_yaml_indentation_errors_say_what_is_wrong(body: str, line: int, column: int,
                                                   words: list[str]) -> None:
    with pytest.raises(SourceFault) as err:
        load_document(HEAD + body + TAIL, "r.yaml")
    d = err.value.diagnostic
    assert (d.code, d.span.line, d.span.column) == ("E_YAML", line, column), d.message
    assert d.message.startswith("YAML indentation error:"), d.message
    assert "quote" not in d.message or "part of the value" in d.message
    for w in words:
        assert w in d.message, d.message


@pytest.mark.parametrize("body", [
    '  let:\n    a: threshold(type: "ctr")\n',
    '  let:\n    a:\n      threshold(type: "ctr")\n',
])
def test_an_unquoted_colon_still_suggests_quoting(body: str) -> None:
    with pytest.raises(SourceFault) as err:
        load_document(HEAD + body + TAIL, "r.yaml")
    assert "quote it" in err.value.diagnostic.message


# ------------------------------------------------------------------ rule test output

@pytest.mark.parametrize(("value", "text"), [
    (True, "true"), (False, "false"), (None, "null"), (Decimal("10000.50"), "10000.5"),
    ("x", '"x"'), ([True, None], "[true,null]"), ({"a": None}, '{"a":null}'),
])
def test_values_are_shown_as_json(value: Any, text: str) -> None:
    assert show(value) == text


RULE = """rule:
  metadata: {name: r, version: 1.0.0}
  inputs: [{name: tx, schema: {properties: {amount: {type: decimal}}}}]
  conditions:
    - {id: big, expression: tx.amount > 10}
  actions:
    - {trigger: big, type: annotate, config: {annotations: {ok: true, none: null}}}
"""


def test_rule_test_failures_print_json_literals_not_python() -> None:
    rs = arka.RuleSet([arka.compile_rule(RULE, "r.yaml")])
    case = RuleTestCase("t", {"timestamp": "2024-01-01T00:00:00Z"}, {"tx": {"amount": 20}},
                        {"blocked": True, "conditions": {"big": False, "nope": True},
                         "annotations": {"ok": False, "none": Decimal(1)}}, "r.test.yaml", 1)
    out = run_case(rs, case)
    text = "\n".join(out.problems)
    assert not out.passed
    assert "blocked: expected true, got false" in text
    assert "condition big: expected false, got true" in text
    assert "condition nope: expected true, got null" in text
    assert "expected false, got true" in text and "expected 1, got null" in text
    for python in ("True", "False", "None"):
        assert python not in text, text


# ------------------------------------------------------------------ non-finite numbers

@pytest.mark.parametrize(("call", "path"), [
    (lambda: V.from_json({"transaction": {"amount": float("nan")}}, "input"),
     "input.transaction.amount"),
    (lambda: V.from_json({"a": [1, {"b": Decimal("Infinity")}]}, "input"), "input.a[1].b"),
    (lambda: V.load_json_text('{"transaction": {"amount": NaN}}', "input"),
     "input.transaction.amount"),
    (lambda: V.from_json(float("inf")), "body"),
])
def test_non_finite_numbers_name_their_path(call: Any, path: str) -> None:
    with pytest.raises(BoundaryError) as err:
        call()
    assert err.value.code == "E_NUMBER" and err.value.path == path
    assert path in err.value.reason and "finite" in err.value.reason
    assert err.value.details[0]["message"] == err.value.reason
