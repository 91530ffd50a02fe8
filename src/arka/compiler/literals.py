"""Bounds on the constants written in a rule, checked before any code is generated.

A literal is part of the program: it is bounded like input (numbers to the input number
bounds of `arka.base.boundary`), list and object literals to MAX_LITERAL_ITEMS entries,
and literal arguments of the builtins that take a count, a number of places or a month to
the range the builtin accepts (whether a
value is whole is left to the builtin, which reports it when it runs). Each problem is a positioned diagnostic, so a rule with an
absurd constant is refused at validate/deploy time instead of failing (or running long)
at evaluation. The walk uses an explicit stack: any tree the parser built can be checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from arka.base import boundary
from arka.base import values as V
from arka.base.errors import CompileError, Diagnostic
from arka.lang import ast
from arka.rules.model import RuleDef

MAX_LITERAL_ITEMS = 10_000  # elements of one list literal, entries of one object literal


def _within(low: int, high: int) -> Callable[[Decimal], str | None]:
    def check(d: Decimal) -> str | None:
        if not low <= d <= high:
            return f"is out of range: it must lie from {low} to {high}"
        return None
    return check


# (builtin, positional slot, parameter name) -> what the builtin itself accepts at run time
_COUNT_ARGUMENTS: dict[tuple[str, int, str], Callable[[Decimal], str | None]] = {
    ("round", 1, "places"): _within(-V.MAX_DIVISION_SCALE, V.MAX_DIVISION_SCALE),
    ("add_days", 1, "days"): _within(-10**9, 10**9),
    ("add_hours", 1, "hours"): _within(-10**9, 10**9),
    ("add_business_days", 1, "days"): _within(-100_000, 100_000),
    ("fiscal_quarter", 1, "start_month"): _within(1, 12),
}


def _literal_number(node: ast.Node) -> Decimal | None:
    if isinstance(node, ast.Literal) and type(node.value) is Decimal:
        return node.value
    if isinstance(node, ast.Unary) and node.op == "-" and isinstance(node.operand, ast.Literal) \
            and type(node.operand.value) is Decimal:
        return -node.operand.value
    return None


def _check_call(node: ast.Call, diags: list[Diagnostic]) -> None:
    for (func, slot, name), check in _COUNT_ARGUMENTS.items():
        if node.func != func:
            continue
        arg = node.args[slot] if slot < len(node.args) else dict(node.kwargs).get(name)
        value = _literal_number(arg) if arg is not None else None
        if value is None:
            continue
        problem = check(value)
        if problem is not None:
            diags.append(Diagnostic("E_ARGUMENT", arg.span,  # type: ignore[union-attr]
                                    f"{func}() {name} {V.decimal_text(value)} {problem}"))


def _expressions(rule: RuleDef) -> Iterable[ast.Node]:
    for let in rule.lets:
        yield let.expr
    for cond in rule.conditions:
        yield cond.expr
    for action in rule.actions:
        yield action.trigger
        yield action.config


def check_literals(rule: RuleDef) -> list[Diagnostic]:
    """Every out-of-bounds constant of the rule, in source order of discovery."""
    diags: list[Diagnostic] = []
    todo = list(_expressions(rule))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Literal) and type(node.value) is Decimal:
            problem = boundary.number_problem(node.value)
            if problem is not None:
                diags.append(Diagnostic("E_NUMBER", node.span, f"number literal: {problem}"))
        elif isinstance(node, ast.ListLit | ast.ObjectLit) and \
                len(node.items) > MAX_LITERAL_ITEMS:
            what = "list" if isinstance(node, ast.ListLit) else "object"
            diags.append(Diagnostic("E_LITERAL_SIZE", node.span,
                                    f"{what} literal of {len(node.items)} entries is larger than "
                                    f"{MAX_LITERAL_ITEMS}; put long lists in a reference table "
                                    "(table(\"name\"))"))
        elif isinstance(node, ast.Call):
            _check_call(node, diags)
        todo.extend(ast.children(node))
    return sorted(diags, key=Diagnostic.sort_key)


def require_literals(rule: RuleDef) -> None:
    """Raise CompileError when a constant of the rule is out of bounds."""
    diags = check_literals(rule)
    if diags:
        raise CompileError(diags, rule.source or None)
