"""Numbers: exact decimal rounding and null handling (docs: "Numbers")."""

from __future__ import annotations

import functools
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from arka.base import values as V
from arka.lang import types as T
from arka.lang.builtins.declaration import Builtin, D, P, Runtime, const, need, need_int


def _round(rt: Runtime, x: Any, places: Any = V.ZERO) -> Decimal:
    return V.round_half_even(need(x, Decimal, "round", "value"),
                             need_int(places, "round", "places"))


def _abs(rt: Runtime, x: Any) -> Decimal:
    return abs(need(x, Decimal, "abs", "value"))


def _floor(rt: Runtime, x: Any) -> Decimal:
    return need(x, Decimal, "floor", "value").to_integral_value(rounding=ROUND_FLOOR)


def _ceil(rt: Runtime, x: Any) -> Decimal:
    return need(x, Decimal, "ceil", "value").to_integral_value(rounding=ROUND_CEILING)


def _coalesce(rt: Runtime, *vs: Any) -> Any:
    for v in vs:
        if v is not None:
            return v
    return None


BUILTINS: tuple[Builtin, ...] = (
    Builtin("round", (P("value", D), P("places", D, True)), const(D),
            "Round HALF_EVEN to `places` decimals (default 0).", _round, null_in_null_out=True),
    Builtin("abs", (P("value", D),), const(D), "Absolute value.", _abs, null_in_null_out=True),
    Builtin("floor", (P("value", D),), const(D), "Largest integer not above.", _floor,
            null_in_null_out=True),
    Builtin("ceil", (P("value", D),), const(D), "Smallest integer not below.", _ceil,
            null_in_null_out=True),
    Builtin("coalesce", (P("values", T.ANY),),
            lambda a: functools.reduce(T.join, a, T.NULL) if a else T.NULL,
            "First argument that is not null.", _coalesce, variadic=True),
)
