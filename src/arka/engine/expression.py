"""Stand-alone expressions: `arka.compile_expression("tx.amount >= 10000")`.

The expression is checked and compiled like a rule's `let` (its free names become
optional inputs of any type) and runs on the RTVM fast path, or the interpreter when the
fast path does not apply. Useful for tools, notebooks and benchmarks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arka.base import values as V
from arka.base.errors import CompileError, Diagnostic, EvalError, Span
from arka.compiler.check import check_rule
from arka.compiler.codegen import Codegen
from arka.lang import ast
from arka.lang.parser import Origin, parse_or_diagnose
from arka.lang.types import ANY
from arka.rtvm import bytecode as bc
from arka.rtvm.fastpath import FastProgram, translate
from arka.rtvm.loader import LoadedProgram, load
from arka.rtvm.vm import Execution, Limits
from arka.rules.model import FieldSpec, InputDef, LetDef, Metadata, RuleDef
from arka.rules.tables import TableLookup, TableSet

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _ExpressionRuntime:
    def __init__(self, now: datetime, jurisdiction: str | None, scale: int):
        self.now = now
        self.jurisdiction = jurisdiction
        self.division_scale = scale
        self.lookup = TableLookup(TableSet(), now.date())

    def threshold(self, type_: str, jurisdiction: str | None, default: Any, table: str | None
                  ) -> Any:
        return self.lookup.threshold(type_, jurisdiction, default, table)

    def convert_currency(self, amount: Any, src: str, dst: str) -> Any:
        return self.lookup.convert_currency(amount, src, dst)

    def table_rows(self, name: str) -> list[Any]:
        return self.lookup.table_rows(name)

    def rule_result(self, name: str) -> Any:
        raise EvalError("rule_result() is only available inside rules", code="E_DEPENDENCY")

    def plugin_call(self, spec: dict[str, Any], args: dict[str, Any]) -> tuple[Any, int]:
        raise EvalError("plugin calls are only available inside rules", code="E_PLUGIN")


_DEFAULT_CONTEXT: dict[str, Any] = {"timestamp": _EPOCH}
_DEFAULT_RUNTIME = _ExpressionRuntime(_EPOCH, None, V.DEFAULT_DIVISION_SCALE)


@dataclass(frozen=True)
class CompiledExpression:
    text: str
    names: tuple[str, ...]
    program: LoadedProgram
    fast: FastProgram | None
    limits: Limits

    def evaluate(self, values: dict[str, Any] | None = None,
                 context: dict[str, Any] | None = None) -> Any:
        """The expression's value for the given named inputs (JSON-like values).

        Without a context, `now()` is 1970-01-01T00:00:00Z and context fields are null.
        """
        inputs = {k: V.from_json(v) for k, v in values.items()} if values else {}
        if context is None:
            ctx, rt = _DEFAULT_CONTEXT, _DEFAULT_RUNTIME
        else:
            ctx = V.from_json(context)
            now = ctx.get("timestamp")
            now = V.parse_datetime(now) if isinstance(now, str) else (now or _EPOCH)
            ctx["timestamp"] = now
            rt = _ExpressionRuntime(now, ctx.get("jurisdiction"), V.DEFAULT_DIVISION_SCALE)
        if self.fast is not None:
            state = self.fast.state(inputs, ctx, rt)
            try:
                return self.fast.functions[1](state)
            except EvalError:
                pass  # the interpreter reports the position
        ex = Execution(self.program, inputs, ctx, rt, self.limits)
        ex.deadline = time.monotonic() + self.limits.max_execution_time
        return ex.call(1, ())


def compile_expression(text: str, *, limits: Limits | None = None) -> CompiledExpression:
    """Check and compile one expression. Raises CompileError with positions."""
    origin = Origin("<expression>")
    node = parse_or_diagnose(text, origin)
    if isinstance(node, Diagnostic):
        raise CompileError([node], text)
    names = tuple(sorted({n.name for n in ast.free_names(node)} - {"context"}))
    span = Span("<expression>", 1, 1)
    rule = RuleDef(
        Metadata("expression", "0.0.0"),
        tuple(InputDef(n, "any", False, FieldSpec("any"), ANY, span) for n in names),
        (LetDef("value", node, span),), (), (), "<expression>", text)
    diags = check_rule(rule)
    if diags:
        raise CompileError(diags, text)
    limits = limits or Limits()
    program = load(bc.encode(Codegen(rule, V.DEFAULT_DIVISION_SCALE).compile()))
    return CompiledExpression(text, names, program, translate(program, limits), limits)
