"""Shared test helpers: build rules around expressions, run them on every executor."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import arka
from arka.base import values as V
from arka.base.errors import CompileError
from arka.engine import RuleSet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# The example schemas, each after the schemas it names (the order a service deploys them in).
EXAMPLE_SCHEMAS = tuple(EXAMPLES / "schemas" / f"{n}.yaml"
                        for n in ("customer", "transaction", "transaction-history", "loan"))
EXECUTORS = ("vm", "interpreter", "reference")
DEFAULT_CONTEXT = {"jurisdiction": "US", "timestamp": "2024-01-15T10:30:00Z"}
#: The time bound of one generated example that goes through a real server or a generated
#: hostile program: far above what a correct answer needs, far below a hang.
HOSTILE_DEADLINE = timedelta(seconds=30)

# The expression goes on line EXPR_LINE of the generated rule, starting at EXPR_COLUMN.
EXPR_LINE = 12
EXPR_COLUMN = 7


def expression_rule(expr: str, input_names: list[str] | tuple[str, ...] = ()) -> str:
    inputs = "".join(f"    - {{name: {n}, required: false}}\n" for n in input_names)
    body = textwrap.indent(expr.strip("\n"), " " * (EXPR_COLUMN - 1))
    rule = (
        "rule:\n"
        "  metadata: {name: expression-case, version: 1.0.0}\n"
        "  inputs:\n"
        f"{inputs or '    []' + chr(10)}"
    )
    # pad so the expression always starts on EXPR_LINE
    lines = rule.count("\n")
    rule += "  # pad\n" * (EXPR_LINE - 3 - lines)
    rule += (
        "  let:\n"
        "    result: |\n"
        f"{body}\n"
        "  conditions:\n"
        "    - {id: always, expression: 'true'}\n"
        "  actions:\n"
        "    - trigger: always\n"
        "      type: annotate\n"
        "      config: {annotations: {value: '${result}'}}\n"
    )
    return rule


def evaluate_expression(expr: str, input: dict[str, Any] | None = None,
                        context: dict[str, Any] | None = None, executor: str = "vm",
                        tables: arka.TableSet | None = None) -> Any:
    """The expression's value as JSON, or the rule error dict (status error)."""
    input = input or {}
    compiled = arka.compile_rule(expression_rule(expr, list(input)), "case.yaml")
    res = RuleSet([compiled], tables).evaluate(V.from_json(input), context or DEFAULT_CONTEXT,
                                               executor=executor)
    rr = res.rule_results[0]
    if rr["status"] == "error":
        return {"__error__": rr["error"]}
    return res.result["annotations"]["value"]


def compile_errors(text: str, file: str = "case.yaml") -> list[dict[str, Any]]:
    try:
        arka.compile_rule(text, file)
    except CompileError as exc:
        return [d.to_dict() for d in exc.diagnostics]
    return []


def normalize(expected: Any) -> Any:
    """An expected value written in YAML, as the engine's JSON would show it."""
    return V.to_json(V.from_json(expected))


def evaluate_body(core: Any, tenant: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Evaluate an API-shaped body through ARKA Core's evaluation service."""
    from arka.app.requests import EvaluateRequest, parse
    return core.evaluations.evaluate(tenant, parse(EvaluateRequest, body))  # type: ignore[no-any-return]
