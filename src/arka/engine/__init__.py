"""The engine: evaluate compiled rules against an input and shape the decision.

    RuleSet(rules, tables).evaluate(input, context)   -> EvaluationResult
    InProcessExecutor / Executor                       groups of inputs under one rule set
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arka.compiler import CompiledRule
from arka.engine.context import normalize_context
from arka.engine.files import load_rules, rule_files, schema_paths
from arka.engine.result import EvaluationResult
from arka.engine.ruleset import (
    CALENDAR_VERSION,
    ENGINE_VERSION,
    STRATEGIES,
    RuleSet,
    register_runner,
)
from arka.rules.tables import TableSet

__all__ = ["CALENDAR_VERSION", "ENGINE_VERSION", "STRATEGIES", "EvaluationResult", "RuleSet",
           "evaluate", "load_rules", "normalize_context", "register_runner", "rule_files",
           "schema_paths"]


def evaluate(rules: Sequence[CompiledRule], input: dict[str, Any],
             context: dict[str, Any] | None = None, *, tables: TableSet | None = None,
             trace: str = "none") -> EvaluationResult:
    """One-shot evaluation: `arka.evaluate([rule], {"transaction": {...}}, {"jurisdiction": "US"})`."""
    return RuleSet(rules, tables).evaluate(input, context, trace=trace)
