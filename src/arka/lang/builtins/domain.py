"""Domain: reference tables (thresholds, FX rates, lists) and the results of rules this
one depends on, all read through the `Runtime` (docs: "Domain")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arka.lang import types as T
from arka.lang.builtins.declaration import Builtin, D, P, Runtime, S, const, need


def _threshold(rt: Runtime, type_: Any = "default", jurisdiction: Any = None, default: Any = None,
               table: Any = None) -> Any:
    type_ = "default" if type_ is None else type_
    return rt.threshold(need(type_, str, "threshold", "type"),
                        jurisdiction if jurisdiction is not None else rt.jurisdiction,
                        default, table)


def _convert_currency(rt: Runtime, amount: Any, src: Any, dst: Any) -> Decimal:
    return rt.convert_currency(need(amount, Decimal, "convert_currency", "amount"),
                               need(src, str, "convert_currency", "from").upper(),
                               need(dst, str, "convert_currency", "to").upper())


def _table(rt: Runtime, name: Any) -> list[Any]:
    return rt.table_rows(need(name, str, "table", "name"))


def _rule_result(rt: Runtime, name: Any) -> Any:
    return rt.rule_result(need(name, str, "rule_result", "rule name"))


RULE_RESULT_TYPE = T.object_of({
    "status": T.STRING, "flagged": T.BOOLEAN, "blocked": T.BOOLEAN,
    "conditions": T.OBJECT, "flags": T.list_of(T.OBJECT),
})

BUILTINS: tuple[Builtin, ...] = (
    Builtin("threshold", (P("type", S, True), P("jurisdiction", S, True), P("default", D, True),
                          P("table", S, True)), const(D),
            "Threshold from the `threshold` reference tables for the jurisdiction (default: "
            "context.jurisdiction, falling back US-CA → US → ALL) in force at the context date; "
            "`default` when no row matches.", _threshold),
    Builtin("convert_currency", (P("amount", D), P("from", S), P("to", S)), const(D),
            "Amount converted with the `fx_rate` reference tables as of the context date.",
            _convert_currency, null_in_null_out=True),
    Builtin("table", (P("name", S),), const(T.LIST),
            "Rows of a `list` reference table, for `x in table(\"name\")`.", _table),
    Builtin("rule_result", (P("rule", S),), const(RULE_RESULT_TYPE),
            "Result of a rule named in `depends_on`: status, flagged, blocked, conditions, flags.",
            _rule_result),)
