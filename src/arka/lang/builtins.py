"""The standard library, declared once.

Each `Builtin` names its parameters and their types, its return type, a docstring and
its implementation. The type checker, the compiler (builtin ids), the VM, the reference
evaluator and `docs/functions.md` all read this one table. Builtin ids are positions in
`BUILTINS`: append new builtins at the end, never reorder (the bytecode refers to ids).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Protocol

import holidays
import re2

from arka.base import values as V
from arka.base.errors import EvalError
from arka.lang import types as T
from arka.lang.types import Type


class Runtime(Protocol):
    """What a builtin may read from the running evaluation (never the outside world)."""

    now: datetime
    jurisdiction: str | None
    division_scale: int

    def threshold(self, type_: str, jurisdiction: str | None, default: Any, table: str | None
                  ) -> Any: ...

    def convert_currency(self, amount: Decimal, src: str, dst: str) -> Decimal: ...

    def table_rows(self, name: str) -> list[Any]: ...

    def rule_result(self, name: str) -> Any: ...


# Parameter type specs beyond plain types: a lambda over the list's elements, and
# reduce's `(acc, x)` lambda.
FN1 = "fn1"
FN_ACC = "fn_acc"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Type | str  # a Type, or FN1 / FN_ACC
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    params: tuple[Param, ...]
    returns: Callable[[list[Type]], Type]
    doc: str
    impl: Callable[..., Any]
    variadic: bool = False  # the last param repeats
    null_in_null_out: bool = False  # a null first argument gives null without calling impl

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.optional)

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)

    def signature(self) -> str:
        parts = [f"{p.name}{'?' if p.optional else ''}: {_type_label(p.type)}"
                 for p in self.params]
        if self.variadic:
            parts[-1] += "..."
        return f"{self.name}({', '.join(parts)})"


def _type_label(t: Type | str) -> str:
    if not isinstance(t, Type):
        return "lambda"
    return "date|datetime" if t is TIME else str(t)


def _const(t: Type) -> Callable[[list[Type]], Type]:
    return lambda _args: t


def _elem(args: list[Type]) -> Type:
    t = args[0] if args else T.ANY
    return t.elem if t.kind == "list" and t.elem is not None else T.ANY


def _same_list(args: list[Type]) -> Type:
    return args[0] if args and args[0].kind == "list" else T.LIST


def _lambda_ret(args: list[Type], i: int = 1) -> Type:
    t = args[i] if len(args) > i else T.ANY
    return t.ret if t.kind == "function" and t.ret is not None else T.ANY


def _items(xs: Any, fname: str) -> list[Any]:
    if xs is None:
        return []
    if not isinstance(xs, list):
        raise EvalError(f"{fname}() needs a list, got {V.type_name(xs)}", code="E_TYPE")
    return xs


def _need(v: Any, kind: type | tuple[type, ...], fname: str, what: str) -> Any:
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise EvalError(f"{fname}() {what} must be {_kind_name(kind)}, got {V.type_name(v)}",
                        code="E_TYPE")
    return v


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {Decimal: "a decimal", str: "a string", list: "a list", datetime: "a datetime",
             date: "a date", dict: "an object", timedelta: "a duration", bool: "a boolean"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _int(v: Any, fname: str, what: str) -> int:
    _need(v, Decimal, fname, what)
    if v != v.to_integral_value():
        raise EvalError(f"{fname}() {what} must be a whole number, got {V.decimal_text(v)}",
                        code="E_ARGUMENT")
    if abs(v) > 10**9:
        raise EvalError(f"{fname}() {what} is out of range", code="E_ARGUMENT")
    return int(v)


# ------------------------------------------------------------------ collections

def _any(rt: Runtime, xs: Any, f: Callable[..., Any]) -> bool:
    return any(V.truthy(f(x)) for x in _items(xs, "any"))


def _all(rt: Runtime, xs: Any, f: Callable[..., Any]) -> bool:
    return all(V.truthy(f(x)) for x in _items(xs, "all"))


def _none(rt: Runtime, xs: Any, f: Callable[..., Any]) -> bool:
    return not any(V.truthy(f(x)) for x in _items(xs, "none"))


def _mapped(xs: Any, f: Callable[..., Any] | None, fname: str) -> list[Any]:
    items = _items(xs, fname)
    return [f(x) for x in items] if f is not None else items


def _count(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Decimal:
    if f is not None:
        return Decimal(sum(1 for x in _items(xs, "count") if V.truthy(f(x))))
    return Decimal(sum(1 for x in _items(xs, "count") if x is not None))


def _numbers(xs: Any, f: Callable[..., Any] | None, fname: str) -> list[Decimal]:
    out = []
    for v in _mapped(xs, f, fname):
        if v is None:
            continue
        out.append(_need(v, Decimal, fname, "elements"))
    return out


def _sum(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Decimal:
    total = V.ZERO
    for v in _numbers(xs, f, "sum"):
        total = V.add(total, v)
    return total


def _avg(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Decimal | None:
    nums = _numbers(xs, f, "avg")
    if not nums:
        return None
    total = V.ZERO
    for v in nums:
        total = V.add(total, v)
    return V.div(total, Decimal(len(nums)), rt.division_scale)


def _extreme(xs: Any, f: Callable[..., Any] | None, fname: str, op: str) -> Any:
    best = None
    for v in _mapped(xs, f, fname):
        if v is None:
            continue
        if best is None or V.compare(op, v, best):
            best = v
    return best


def _min(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Any:
    return _extreme(xs, f, "min", "<")


def _max(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Any:
    return _extreme(xs, f, "max", ">")


def _filter(rt: Runtime, xs: Any, f: Callable[..., Any]) -> list[Any]:
    return [x for x in _items(xs, "filter") if V.truthy(f(x))]


def _map(rt: Runtime, xs: Any, f: Callable[..., Any]) -> list[Any]:
    return [f(x) for x in _items(xs, "map")]


def _flat_map(rt: Runtime, xs: Any, f: Callable[..., Any]) -> list[Any]:
    out: list[Any] = []
    for x in _items(xs, "flat_map"):
        r = f(x)
        if r is None:
            continue
        out.extend(_need(r, list, "flat_map", "lambda result"))
    return out


def _reduce(rt: Runtime, xs: Any, init: Any, f: Callable[..., Any]) -> Any:
    acc = init
    for x in _items(xs, "reduce"):
        acc = f(acc, x)
    return acc


def _sort_by(rt: Runtime, xs: Any, f: Callable[..., Any], order: Any = "asc") -> list[Any]:
    order = "asc" if order is None else order
    if order not in ("asc", "desc"):
        raise EvalError('sort_by() order must be "asc" or "desc"', code="E_ARGUMENT")
    items = _items(xs, "sort_by")
    keys = [f(x) for x in items]
    sign = 1 if order == "asc" else -1

    def cmp(i: int, j: int) -> int:  # stable; null keys last in either order
        a, b = keys[i], keys[j]
        if a is None or b is None:
            return ((a is None) - (b is None)) or (i - j)
        if V.compare("<", a, b):
            return -sign
        if V.compare(">", a, b):
            return sign
        return i - j

    return [items[i] for i in sorted(range(len(items)), key=functools.cmp_to_key(cmp))]


def _group_by(rt: Runtime, xs: Any, f: Callable[..., Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for x in _items(xs, "group_by"):
        groups.setdefault(V.to_text(f(x)), []).append(x)
    return {k: groups[k] for k in sorted(groups)}


def _distinct(rt: Runtime, xs: Any) -> list[Any]:
    out: list[Any] = []
    for x in _items(xs, "distinct"):
        if not V.contains(out, x):
            out.append(x)
    return out


def _first(rt: Runtime, xs: Any) -> Any:
    items = _items(xs, "first")
    return items[0] if items else None


def _last(rt: Runtime, xs: Any) -> Any:
    items = _items(xs, "last")
    return items[-1] if items else None


def _size(rt: Runtime, xs: Any) -> Decimal:
    if xs is None:
        return V.ZERO
    if isinstance(xs, list | str | dict):
        return Decimal(len(xs))
    raise EvalError(f"size() needs a list, string or object, got {V.type_name(xs)}",
                    code="E_TYPE")


def _contains(rt: Runtime, xs: Any, item: Any) -> bool:
    return V.contains(xs, item)


# ------------------------------------------------------------------ strings

def _str_fn(name: str, fn: Callable[[str], Any]) -> Callable[..., Any]:
    def impl(rt: Runtime, s: Any) -> Any:
        return fn(_need(s, str, name, "argument"))
    return impl


def _starts_with(rt: Runtime, s: Any, prefix: Any) -> bool:
    return _need(s, str, "starts_with", "text").startswith(
        _need(prefix, str, "starts_with", "prefix"))


def _ends_with(rt: Runtime, s: Any, suffix: Any) -> bool:
    return _need(s, str, "ends_with", "text").endswith(_need(suffix, str, "ends_with", "suffix"))


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """RE2 only: linear time in the input, no backtracking, no catastrophic patterns."""
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise EvalError(f"invalid regular expression {pattern!r}: {exc}",
                        code="E_ARGUMENT") from None


def _regex_match(rt: Runtime, s: Any, pattern: Any) -> bool:
    text = _need(s, str, "regex_match", "text")
    return compile_regex(_need(pattern, str, "regex_match", "pattern")).search(text) is not None


def _to_string(rt: Runtime, v: Any) -> str:
    return V.to_text(v)


def _to_decimal(rt: Runtime, v: Any) -> Decimal | None:
    if v is None or isinstance(v, Decimal):
        return v
    if isinstance(v, str):
        return V.parse_decimal(v)
    raise EvalError(f"to_decimal() cannot convert {V.type_name(v)}", code="E_TYPE")


_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}
_ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK"}


def _format_currency(rt: Runtime, amount: Any, currency: Any = "USD") -> str:
    amt = _need(amount, Decimal, "format_currency", "amount")
    code = _need(currency, str, "format_currency", "currency").upper()
    places = 0 if code in _ZERO_DECIMAL_CURRENCIES else 2
    q = V.round_half_even(amt, places)
    body = f"{abs(q):,.{places}f}"
    sign = "-" if q < 0 else ""
    symbol = _CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {code}"


# ------------------------------------------------------------------ numbers

def _round(rt: Runtime, x: Any, places: Any = V.ZERO) -> Decimal:
    return V.round_half_even(_need(x, Decimal, "round", "value"), _int(places, "round", "places"))


def _abs(rt: Runtime, x: Any) -> Decimal:
    return abs(_need(x, Decimal, "abs", "value"))


def _floor(rt: Runtime, x: Any) -> Decimal:
    return _need(x, Decimal, "floor", "value").to_integral_value(rounding=ROUND_FLOOR)


def _ceil(rt: Runtime, x: Any) -> Decimal:
    return _need(x, Decimal, "ceil", "value").to_integral_value(rounding=ROUND_CEILING)


def _coalesce(rt: Runtime, *vs: Any) -> Any:
    for v in vs:
        if v is not None:
            return v
    return None


# ------------------------------------------------------------------ time

def _as_datetime(v: Any, fname: str) -> datetime:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime.combine(v, time(0), tzinfo=UTC)
    raise EvalError(f"{fname}() needs a date or datetime, got {V.type_name(v)}", code="E_TYPE")


def _as_date(v: Any, fname: str) -> date:
    if isinstance(v, datetime):
        return v.astimezone(UTC).date()
    if isinstance(v, date):
        return v
    raise EvalError(f"{fname}() needs a date or datetime, got {V.type_name(v)}", code="E_TYPE")


def _now(rt: Runtime) -> datetime:
    return rt.now


def _date(rt: Runtime, s: Any) -> date:
    if isinstance(s, datetime | date):
        return _as_date(s, "date")
    return V.parse_date(_need(s, str, "date", "argument"))


def _datetime(rt: Runtime, s: Any) -> datetime:
    if isinstance(s, datetime | date):
        return _as_datetime(s, "datetime")
    return V.parse_datetime(_need(s, str, "datetime", "argument"))


def _duration(rt: Runtime, s: Any) -> timedelta:
    return V.parse_duration(_need(s, str, "duration", "argument"))


def _parse_date(rt: Runtime, s: Any, fmt: Any = "%Y-%m-%d") -> date:
    text = _need(s, str, "parse_date", "text")
    try:
        return datetime.strptime(text, _need(fmt, str, "parse_date", "format")).date()
    except ValueError:
        raise EvalError(f"parse_date(): {text!r} does not match format {fmt!r}",
                        code="E_ARGUMENT") from None


def _format_date(rt: Runtime, d: Any, fmt: Any = "%Y-%m-%d") -> str:
    if not isinstance(d, datetime | date):
        raise EvalError(f"format_date() needs a date or datetime, got {V.type_name(d)}",
                        code="E_TYPE")
    f = _need(fmt, str, "format_date", "format")
    if any(code in f for code in ("%c", "%x", "%X", "%a", "%A", "%b", "%B", "%p")):
        raise EvalError("format_date(): locale-dependent directives are not allowed",
                        code="E_ARGUMENT")
    return d.strftime(f)


def _part(name: str, fn: Callable[[datetime], int]) -> Callable[..., Decimal]:
    def impl(rt: Runtime, d: Any) -> Decimal:
        return Decimal(fn(_as_datetime(d, name)))
    return impl


def _same_day(rt: Runtime, a: Any, b: Any) -> bool:
    return _as_date(a, "same_day") == _as_date(b, "same_day")


def _between(unit_seconds: int, name: str) -> Callable[..., Decimal]:
    def impl(rt: Runtime, a: Any, b: Any) -> Decimal:
        if type(a) is date and type(b) is date:
            delta = (b - a).days * 86400
        else:
            d = _as_datetime(b, name) - _as_datetime(a, name)
            delta = d.days * 86400 + d.seconds
        q = abs(delta) // unit_seconds
        return Decimal(q if delta >= 0 else -q)
    return impl


def _months_between(rt: Runtime, a: Any, b: Any) -> Decimal:
    x, y = _as_datetime(a, "months_between"), _as_datetime(b, "months_between")
    sign = 1
    if y < x:
        x, y, sign = y, x, -1
    months = (y.year - x.year) * 12 + (y.month - x.month)
    if (y.day, y.time()) < (x.day, x.time()):
        months -= 1
    return Decimal(sign * months)


@functools.lru_cache(maxsize=256)
def holiday_calendar(jurisdiction: str | None) -> Any:
    """The public-holiday calendar of a jurisdiction (`US`, `US-CA`); None = weekends only."""
    if not jurisdiction or jurisdiction.upper() == "ALL":
        return None
    country, _, subdiv = jurisdiction.upper().partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError:
        raise EvalError(f"no holiday calendar for jurisdiction {jurisdiction!r}",
                        code="E_ARGUMENT") from None


def _is_business_day(d: date, cal: Any) -> bool:
    return d.weekday() < 5 and (cal is None or d not in cal)


def _business_days_between(rt: Runtime, a: Any, b: Any, jurisdiction: Any = None) -> Decimal:
    cal = holiday_calendar(jurisdiction if jurisdiction is not None else rt.jurisdiction)
    x, y = _as_date(a, "business_days_between"), _as_date(b, "business_days_between")
    sign = 1
    if y < x:
        x, y, sign = y, x, -1
    if (y - x).days > 366 * 200:
        raise EvalError("business_days_between(): range longer than 200 years",
                        code="E_ARGUMENT")
    count = sum(1 for i in range(1, (y - x).days + 1) if _is_business_day(x + timedelta(i), cal))
    return Decimal(sign * count)


def _add_days(rt: Runtime, d: Any, n: Any) -> Any:
    return V.add(_need(d, (datetime, date), "add_days", "date"), timedelta(days=_int(n, "add_days",
                                                                                   "days")))


def _add_hours(rt: Runtime, d: Any, n: Any) -> datetime:
    return _as_datetime(d, "add_hours") + timedelta(hours=_int(n, "add_hours", "hours"))


def _add_business_days(rt: Runtime, d: Any, n: Any, jurisdiction: Any = None) -> Any:
    cal = holiday_calendar(jurisdiction if jurisdiction is not None else rt.jurisdiction)
    steps = _int(n, "add_business_days", "days")
    if abs(steps) > 100_000:
        raise EvalError("add_business_days(): too many days", code="E_ARGUMENT")
    start = _need(d, (datetime, date), "add_business_days", "date")
    day = _as_date(start, "add_business_days")
    step = 1 if steps >= 0 else -1
    remaining = abs(steps)
    while remaining:
        day += timedelta(days=step)
        if _is_business_day(day, cal):
            remaining -= 1
    if isinstance(start, datetime):
        return datetime.combine(day, start.timetz())
    return day


def _fiscal_quarter(rt: Runtime, d: Any, start_month: Any = V.ONE) -> Decimal:
    month = _as_datetime(d, "fiscal_quarter").month
    first = _int(start_month, "fiscal_quarter", "start_month")
    if not 1 <= first <= 12:
        raise EvalError("fiscal_quarter() start_month must be 1..12", code="E_ARGUMENT")
    return Decimal((month - first) % 12 // 3 + 1)


# ------------------------------------------------------------------ domain

def _threshold(rt: Runtime, type_: Any = "default", jurisdiction: Any = None, default: Any = None,
               table: Any = None) -> Any:
    type_ = "default" if type_ is None else type_
    return rt.threshold(_need(type_, str, "threshold", "type"),
                        jurisdiction if jurisdiction is not None else rt.jurisdiction,
                        default, table)


def _convert_currency(rt: Runtime, amount: Any, src: Any, dst: Any) -> Decimal:
    return rt.convert_currency(_need(amount, Decimal, "convert_currency", "amount"),
                               _need(src, str, "convert_currency", "from").upper(),
                               _need(dst, str, "convert_currency", "to").upper())


def _table(rt: Runtime, name: Any) -> list[Any]:
    return rt.table_rows(_need(name, str, "table", "name"))


def _rule_result(rt: Runtime, name: Any) -> Any:
    return rt.rule_result(_need(name, str, "rule_result", "rule name"))


RULE_RESULT_TYPE = T.object_of({
    "status": T.STRING, "flagged": T.BOOLEAN, "blocked": T.BOOLEAN,
    "conditions": T.OBJECT, "flags": T.list_of(T.OBJECT),
})

D, S, B = T.DECIMAL, T.STRING, T.BOOLEAN
TIME = T.Type("any")  # date or datetime, checked at run time (a distinct instance for the docs)
_TIME_KINDS = ("date", "datetime")


def P(name: str, type_: Type | str, optional: bool = False) -> Param:
    return Param(name, type_, optional)


BUILTINS: tuple[Builtin, ...] = (
    # collections
    Builtin("any", (P("list", T.LIST), P("predicate", FN1)), _const(B),
            "True when the predicate holds for some element.", _any),
    Builtin("all", (P("list", T.LIST), P("predicate", FN1)), _const(B),
            "True when the predicate holds for every element (true for an empty list).", _all),
    Builtin("none", (P("list", T.LIST), P("predicate", FN1)), _const(B),
            "True when the predicate holds for no element.", _none),
    Builtin("count", (P("list", T.LIST), P("predicate", FN1, True)), _const(D),
            "Number of non-null elements, or of elements matching the predicate.", _count),
    Builtin("sum", (P("list", T.LIST), P("value", FN1, True)), _const(D),
            "Exact sum of the (mapped) elements, nulls skipped; sum([]) = 0.", _sum),
    Builtin("avg", (P("list", T.LIST), P("value", FN1, True)), _const(D),
            "Average of the (mapped) elements, nulls skipped; avg([]) = null.", _avg),
    Builtin("min", (P("list", T.LIST), P("value", FN1, True)),
            lambda a: _lambda_ret(a) if len(a) > 1 else _elem(a),
            "Smallest (mapped) element, nulls skipped; null for an empty list.", _min),
    Builtin("max", (P("list", T.LIST), P("value", FN1, True)),
            lambda a: _lambda_ret(a) if len(a) > 1 else _elem(a),
            "Largest (mapped) element, nulls skipped; null for an empty list.", _max),
    Builtin("filter", (P("list", T.LIST), P("predicate", FN1)), _same_list,
            "Elements for which the predicate holds, in order.", _filter),
    Builtin("map", (P("list", T.LIST), P("transform", FN1)), lambda a: T.list_of(_lambda_ret(a)),
            "The transform applied to every element.", _map),
    Builtin("flat_map", (P("list", T.LIST), P("transform", FN1)), _const(T.LIST),
            "The transform's lists, concatenated.", _flat_map),
    Builtin("reduce", (P("list", T.LIST), P("init", T.ANY), P("step", FN_ACC)),
            lambda a: a[1] if len(a) > 1 and T.is_known(a[1]) else T.ANY,
            "Folds the list: `reduce(xs, 0, (acc, x) => acc + x)`.", _reduce),
    Builtin("sort_by", (P("list", T.LIST), P("key", FN1), P("order", S, True)), _same_list,
            'Stable sort by key, "asc" (default) or "desc"; null keys last.', _sort_by),
    Builtin("group_by", (P("list", T.LIST), P("key", FN1)), _const(T.OBJECT),
            "Object from each key's text to the elements with that key.", _group_by),
    Builtin("distinct", (P("list", T.LIST),), _same_list,
            "Elements without repeats, first occurrence kept.", _distinct),
    Builtin("first", (P("list", T.LIST),), _elem, "First element, or null.", _first),
    Builtin("last", (P("list", T.LIST),), _elem, "Last element, or null.", _last),
    Builtin("size", (P("value", T.ANY),), _const(D),
            "Length of a list, string or object; size(null) = 0.", _size),
    Builtin("contains", (P("container", T.ANY), P("item", T.ANY)), _const(B),
            "List element, substring or object key test (same as `item in container`).",
            _contains),
    # strings
    Builtin("upper", (P("text", S),), _const(S), "Upper case.", _str_fn("upper", str.upper),
            null_in_null_out=True),
    Builtin("lower", (P("text", S),), _const(S), "Lower case.", _str_fn("lower", str.lower),
            null_in_null_out=True),
    Builtin("trim", (P("text", S),), _const(S), "Without leading and trailing whitespace.",
            _str_fn("trim", str.strip), null_in_null_out=True),
    Builtin("starts_with", (P("text", S), P("prefix", S)), _const(B), "Prefix test.",
            _starts_with, null_in_null_out=True),
    Builtin("ends_with", (P("text", S), P("suffix", S)), _const(B), "Suffix test.", _ends_with,
            null_in_null_out=True),
    Builtin("regex_match", (P("text", S), P("pattern", S)), _const(B),
            "RE2 search (linear time; no backreferences or lookaround).", _regex_match,
            null_in_null_out=True),
    Builtin("to_string", (P("value", T.ANY),), _const(S),
            "Text form of any value (decimals in plain notation).", _to_string),
    Builtin("to_decimal", (P("value", T.ANY),), _const(D),
            "Decimal from a string or decimal; null stays null.", _to_decimal),
    Builtin("format_currency", (P("amount", D), P("currency", S, True)), _const(S),
            'Amount rounded to the currency\'s minor unit with separators: "$15,000.00".',
            _format_currency, null_in_null_out=True),
    # numbers
    Builtin("round", (P("value", D), P("places", D, True)), _const(D),
            "Round HALF_EVEN to `places` decimals (default 0).", _round, null_in_null_out=True),
    Builtin("abs", (P("value", D),), _const(D), "Absolute value.", _abs, null_in_null_out=True),
    Builtin("floor", (P("value", D),), _const(D), "Largest integer not above.", _floor,
            null_in_null_out=True),
    Builtin("ceil", (P("value", D),), _const(D), "Smallest integer not below.", _ceil,
            null_in_null_out=True),
    Builtin("coalesce", (P("values", T.ANY),),
            lambda a: functools.reduce(T.join, a, T.NULL) if a else T.NULL,
            "First argument that is not null.", _coalesce, variadic=True),
    # time
    Builtin("now", (), _const(T.DATETIME),
            "The evaluation's context timestamp (never the wall clock).", _now),
    Builtin("date", (P("value", T.ANY),), _const(T.DATE),
            "Date from YYYY-MM-DD text or from a datetime (UTC).", _date, null_in_null_out=True),
    Builtin("datetime", (P("value", T.ANY),), _const(T.DATETIME),
            "Datetime from RFC 3339 text (no offset = UTC) or from a date (midnight UTC).",
            _datetime, null_in_null_out=True),
    Builtin("duration", (P("text", S),), _const(T.DURATION),
            "Duration from ISO 8601 text: P30D, PT12H, P1W, P1DT2H30M.", _duration,
            null_in_null_out=True),
    Builtin("parse_date", (P("text", S), P("format", S, True)), _const(T.DATE),
            'Date from text in a strptime format (default "%Y-%m-%d").', _parse_date,
            null_in_null_out=True),
    Builtin("format_date", (P("value", TIME), P("format", S, True)), _const(S),
            'Date or datetime as text in a strftime format (default "%Y-%m-%d").', _format_date,
            null_in_null_out=True),
    Builtin("year", (P("value", TIME),), _const(D), "Calendar year (UTC).",
            _part("year", lambda t: t.year), null_in_null_out=True),
    Builtin("month", (P("value", TIME),), _const(D), "Month 1-12 (UTC).",
            _part("month", lambda t: t.month), null_in_null_out=True),
    Builtin("day", (P("value", TIME),), _const(D), "Day of month 1-31 (UTC).",
            _part("day", lambda t: t.day), null_in_null_out=True),
    Builtin("day_of_week", (P("value", TIME),), _const(D), "ISO weekday: 1 = Monday … 7 = Sunday.",
            _part("day_of_week", lambda t: t.isoweekday()), null_in_null_out=True),
    Builtin("hour_of_day", (P("value", TIME),), _const(D), "Hour 0-23 (UTC).",
            _part("hour_of_day", lambda t: t.hour), null_in_null_out=True),
    Builtin("same_day", (P("a", TIME), P("b", TIME)), _const(B),
            "Same UTC calendar day.", _same_day, null_in_null_out=True),
    Builtin("days_between", (P("from", TIME), P("to", TIME)), _const(D),
            "Whole days from `from` to `to` (to − from, truncated toward zero).",
            _between(86400, "days_between"), null_in_null_out=True),
    Builtin("hours_between", (P("from", TIME), P("to", TIME)), _const(D),
            "Whole hours from `from` to `to`, truncated toward zero.",
            _between(3600, "hours_between"), null_in_null_out=True),
    Builtin("minutes_between", (P("from", TIME), P("to", TIME)), _const(D),
            "Whole minutes from `from` to `to`, truncated toward zero.",
            _between(60, "minutes_between"), null_in_null_out=True),
    Builtin("months_between", (P("from", TIME), P("to", TIME)), _const(D),
            "Whole calendar months from `from` to `to`, truncated toward zero.",
            _months_between, null_in_null_out=True),
    Builtin("business_days_between",
            (P("from", TIME), P("to", TIME), P("jurisdiction", S, True)), _const(D),
            "Business days d with from < d ≤ to (negative if to < from), skipping weekends and "
            "the jurisdiction's public holidays (default: context.jurisdiction).",
            _business_days_between, null_in_null_out=True),
    Builtin("add_days", (P("value", TIME), P("days", D)), lambda a: a[0] if a else T.ANY,
            "Date or datetime plus whole days (negative allowed).", _add_days,
            null_in_null_out=True),
    Builtin("add_hours", (P("value", TIME), P("hours", D)), _const(T.DATETIME),
            "Datetime plus whole hours (negative allowed).", _add_hours, null_in_null_out=True),
    Builtin("add_business_days", (P("value", TIME), P("days", D), P("jurisdiction", S, True)),
            lambda a: a[0] if a else T.ANY,
            "Steps whole business days forward or back (weekends and holidays skipped).",
            _add_business_days, null_in_null_out=True),
    Builtin("fiscal_quarter", (P("value", TIME), P("start_month", D, True)), _const(D),
            "Fiscal quarter 1-4 for a fiscal year starting in `start_month` (default 1).",
            _fiscal_quarter, null_in_null_out=True),
    # domain
    Builtin("threshold", (P("type", S, True), P("jurisdiction", S, True), P("default", D, True),
                          P("table", S, True)), _const(D),
            "Threshold from the `threshold` reference tables for the jurisdiction (default: "
            "context.jurisdiction, falling back US-CA → US → ALL) in force at the context date; "
            "`default` when no row matches.", _threshold),
    Builtin("convert_currency", (P("amount", D), P("from", S), P("to", S)), _const(D),
            "Amount converted with the `fx_rate` reference tables as of the context date.",
            _convert_currency, null_in_null_out=True),
    Builtin("table", (P("name", S),), _const(T.LIST),
            "Rows of a `list` reference table, for `x in table(\"name\")`.", _table),
    Builtin("rule_result", (P("rule", S),), _const(RULE_RESULT_TYPE),
            "Result of a rule named in `depends_on`: status, flagged, blocked, conditions, flags.",
            _rule_result),
)

BY_NAME: dict[str, int] = {b.name: i for i, b in enumerate(BUILTINS)}


def bind_arguments(b: Builtin, npos: int, names: Sequence[str]) -> list[int | None] | str:
    """Map call-site arguments to parameter slots.

    Returns, per parameter slot, the index of the call argument that fills it (positional
    ones first, then named ones in call order), or an error message.
    """
    if b.variadic:
        if names:
            return f"{b.name}() takes no named arguments"
        if npos < b.min_args:
            return f"{b.name}() takes at least {b.min_args} argument(s), got {npos}"
        return list(range(npos))
    nparams = len(b.params)
    if npos > nparams:
        return (f"{b.name}() takes at most {nparams} argument(s), got {npos}: "
                f"{b.signature()}")
    slots: list[int | None] = [i if i < npos else None for i in range(nparams)]
    for k, name in enumerate(names):
        idx = next((i for i, p in enumerate(b.params) if p.name == name), None)
        if idx is None:
            return f"{b.name}() has no parameter {name!r}: {b.signature()}"
        if slots[idx] is not None:
            return f"{b.name}() got {name!r} twice"
        slots[idx] = npos + k
    missing = [p.name for p, s in zip(b.params, slots, strict=True) if s is None and not p.optional]
    if missing:
        return f"{b.name}() is missing argument {missing[0]!r}: {b.signature()}"
    # trailing unfilled optional slots are dropped; inner gaps are filled with null
    while slots and slots[-1] is None:
        slots.pop()
    return slots
