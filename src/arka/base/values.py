"""Runtime values of the rule language and their exact, deterministic semantics.

Values are plain Python objects: ``None``, ``bool``, ``Decimal`` (never float), ``str``,
``datetime`` (aware, UTC), ``date``, ``timedelta`` (duration), ``list`` and ``dict``
(string keys). Every operation that both the VM and the reference evaluator need lives
here, so the two can only differ in how they walk the program, not in what it means.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from arka.base.boundary import (
    MAX_DEPTH,
    NUMBER_BOUNDS,
    BoundaryError,
    child_path,
    finite_problem,
    load_json,
    number_from_text,
    number_problem,
    text_problem,
)
from arka.base.errors import EvalError

MAX_DIVISION_SCALE = 38
DEFAULT_DIVISION_SCALE = 18

# Exact arithmetic: +, -, * must never round. 200 digits is far past any amount a rule
# handles; past it an operation is an error, not a silent rounding.
EXACT = decimal.Context(
    prec=200,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999999,
    Emin=-999999,
    traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation, decimal.DivisionByZero],
)
# Division and rounding: results are quantized HALF_EVEN, so only the quantize may round.
ROUNDING = decimal.Context(
    prec=200,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999999,
    Emin=-999999,
    traps=[decimal.Overflow, decimal.InvalidOperation, decimal.DivisionByZero],
)

ZERO = Decimal(0)
ONE = Decimal(1)


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if v is True or v is False:
        return "boolean"
    if isinstance(v, Decimal):
        return "decimal"
    if isinstance(v, str):
        return "string"
    if isinstance(v, datetime):
        return "datetime"
    if isinstance(v, date):
        return "date"
    if isinstance(v, timedelta):
        return "duration"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    if callable(v):
        return "function"
    return type(v).__name__


def with_article(name: str) -> str:
    """A type name as a phrase with its indefinite article: `an object`, `an integer`,
    `a list<decimal>`, `a decimal`; `null` takes none (`got null`)."""
    if name == "null":
        return name
    if name == "any":
        return "a value of any type"
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def a_type_name(v: Any) -> str:
    """The type of `v` with its article, for messages: `an object`, `a string`, `null`."""
    return with_article(type_name(v))


# ---------------------------------------------------------------- truthiness, equality

def truthy(v: Any) -> bool:
    """Boolean positions: null is false; anything but a boolean is a type error."""
    if v is True:
        return True
    if v is False or v is None:
        return False
    raise EvalError(f"expected a boolean, got {a_type_name(v)}", code="E_TYPE")


Charge = Callable[[int], None]
"""A budget callback: called with a number of elements visited, it raises to stop the work."""

# How often the walks below report to their budget callback (elements visited).
_CHARGE_EVERY = 1024
# Nesting a value may have where it is turned into text, written as JSON or handed out of
# the VM: values rules compute may nest deeper than input may (MAX_DEPTH).
MAX_VALUE_DEPTH = 2 * MAX_DEPTH


def _scalar_equals(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if a is None or b is None:
        return a is b
    if ta is bool or tb is bool:
        return ta is tb and a is b
    if ta is not tb:
        return False
    return bool(a == b)


def equals(a: Any, b: Any, charge: Charge | None = None) -> bool:
    """Structural equality with no cross-type surprises (True != 1, date != datetime).

    Lists and objects are compared without recursion; `charge`, when given, is told how
    many element pairs were visited (every 1024 and at the end)."""
    ta = type(a)
    if ta is not list and ta is not dict:
        return _scalar_equals(a, b)
    pending = [(a, b)]
    visited = 0
    try:
        while pending:
            x, y = pending.pop()
            if x is y:
                continue
            tx = type(x)
            if tx is list:
                if type(y) is not list or len(x) != len(y):
                    return False
                visited += len(x)
                pending.extend(zip(x, y, strict=True))
            elif tx is dict:
                if type(y) is not dict or x.keys() != y.keys():
                    return False
                visited += len(x)
                pending.extend((x[k], y[k]) for k in x)
            elif not _scalar_equals(x, y):
                return False
            if charge is not None and visited >= _CHARGE_EVERY:
                charge(visited)
                visited = 0
        return True
    finally:
        if charge is not None and visited:
            charge(visited)


def walk(v: Any, charge: Charge | None = None, max_depth: int = MAX_VALUE_DEPTH) -> int:
    """Elements of a value counted as the tree it prints as (a part shared n times counts
    n times), without recursion. A list or object nested deeper than `max_depth` is an
    E_LIMIT_VALUE_DEPTH error; `charge` is told the elements visited as the walk goes."""
    tv = type(v)
    if tv is not list and tv is not dict:
        return 1
    total = 1
    pending: list[tuple[Any, int]] = [(v, 1)]
    visited = 0
    while pending:
        x, depth = pending.pop()
        if depth > max_depth:
            raise EvalError(f"a value is nested deeper than {max_depth} lists/objects",
                            code="E_LIMIT_VALUE_DEPTH")
        items = x if type(x) is list else x.values()
        visited += len(x)
        for y in items:
            ty = type(y)
            if ty is list or ty is dict:
                pending.append((y, depth + 1))
        if charge is not None and visited >= _CHARGE_EVERY:
            charge(visited)
            total += visited
            visited = 0
    if charge is not None and visited:
        charge(visited)
    return total + visited


def equality_key(v: Any, charge: Charge | None = None) -> Any:
    """A hashable key with `equality_key(a) == equality_key(b)` exactly when `equals(a, b)`
    (for `distinct`: one dictionary lookup per element instead of a scan)."""
    tv = type(v)
    if tv is list or tv is dict:
        walk(v, charge)  # bounds the depth the recursion below can reach
        return _key(v)
    return _key(v)


def _key(v: Any) -> Any:
    tv = type(v)
    if v is None:
        return ("n",)
    if tv is bool:
        return ("b", v)
    if tv is list:
        return ("l", tuple(_key(x) for x in v))
    if tv is dict:
        return ("o", tuple(sorted((k, _key(x)) for k, x in v.items())))
    if tv in (Decimal, str, datetime, date, timedelta):
        return (tv.__name__, v)  # equal values of these types hash alike (1.0 and 1 too)
    return ("id", id(v))  # functions: equal only to themselves


_ORDERED = (Decimal, str, datetime, date, timedelta)


def compare(op: str, a: Any, b: Any) -> bool:
    """Ordering comparison. A null operand gives false; mixed types are a type error."""
    if a is None or b is None:
        return False
    ta, tb = type(a), type(b)
    if ta is not tb or ta not in _ORDERED:
        hint = " (use datetime(s) or date(s) to convert)" if {ta, tb} & {datetime, date} else ""
        raise EvalError(f"cannot compare {a_type_name(a)} {op} {a_type_name(b)}{hint}", code="E_TYPE")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def contains(container: Any, item: Any, charge: Charge | None = None) -> bool:
    """`item in container` for lists (element equality), strings (substring), objects (key).

    `charge`, when given, is told the list elements compared."""
    if container is None:
        return False
    if isinstance(container, list):
        if charge is None:
            return any(equals(item, x) for x in container)
        seen = 0
        try:
            for x in container:
                seen += 1
                if seen >= _CHARGE_EVERY:
                    charge(seen)
                    seen = 0
                if equals(item, x, charge):
                    return True
            return False
        finally:
            if seen:
                charge(seen)
    if isinstance(container, str):
        if item is None:
            return False
        if not isinstance(item, str):
            raise EvalError(f"`in` a string needs a string, got {a_type_name(item)}", code="E_TYPE")
        return item in container
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise EvalError(f"`in` needs a list, string or object, got {a_type_name(container)}",
                    code="E_TYPE")


def index_value(obj: Any, idx: Any) -> Any:
    if obj is None or idx is None:
        return None
    if type(obj) is list or type(obj) is str:
        if not isinstance(idx, Decimal) or idx != idx.to_integral_value():
            raise EvalError(f"{a_type_name(obj)} index must be a whole number, got "
                            f"{a_type_name(idx)}", code="E_TYPE")
        n = len(obj)
        if not -n <= idx < n:  # compared as a decimal: a huge index is never converted
            return None
        i = int(idx)
        return obj[i + n if i < 0 else i]
    if type(obj) is dict:
        if not isinstance(idx, str):
            raise EvalError(f"an object key must be a string, got {a_type_name(idx)}",
                            code="E_TYPE")
        return obj.get(idx)
    raise EvalError(f"cannot index {a_type_name(obj)}", code="E_TYPE")


# ---------------------------------------------------------------- arithmetic

def _numeric_error(what: str, exc: decimal.DecimalException) -> EvalError:
    if isinstance(exc, decimal.Overflow):  # Overflow is also an Inexact: ask it first
        return EvalError(f"{what} is out of range: above 1E+{EXACT.Emax}", code="E_NUMERIC")
    if isinstance(exc, decimal.Inexact):
        return EvalError(f"{what} exceeds 200 significant digits", code="E_NUMERIC")
    return EvalError(f"{what} is out of range: {type(exc).__name__}", code="E_NUMERIC")


def _exact(fn: Callable[[], Any], what: str) -> Any:
    try:
        return fn()
    except decimal.DecimalException as exc:
        raise _numeric_error(what, exc) from None


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is Decimal and tb is Decimal:
        try:
            return EXACT.add(a, b)
        except decimal.DecimalException as exc:
            raise _numeric_error("sum", exc) from None
    if ta is str and tb is str:
        return a + b
    if ta in (datetime, date) and tb is timedelta:
        return _shift(a, b)
    if ta is timedelta and tb in (datetime, date):
        return _shift(b, a)
    if ta is timedelta and tb is timedelta:
        return _duration(lambda: a + b)
    if ta is list and tb is list:
        return a + b
    raise EvalError(f"cannot add {type_name(a)} + {type_name(b)}", code="E_TYPE")


# A duration holds at most 999,999,999 days; a larger factor can only overflow.
_MAX_DURATION_FACTOR = 10**15


def _duration(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except OverflowError:
        raise EvalError("duration arithmetic out of range (at most 999999999 days)",
                        code="E_NUMERIC") from None


def _shift(t: Any, d: timedelta) -> Any:
    try:
        if type(t) is date and d.seconds == 0 and d.microseconds == 0:
            return t + timedelta(days=d.days)
        if type(t) is date:
            raise EvalError("adding hours/minutes to a date; convert it with datetime()",
                            code="E_TYPE")
        return t + d
    except OverflowError:
        raise EvalError("date arithmetic out of range", code="E_NUMERIC") from None


def sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is Decimal and tb is Decimal:
        try:
            return EXACT.subtract(a, b)
        except decimal.DecimalException as exc:
            raise _numeric_error("difference", exc) from None
    if ta in (datetime, date) and tb is timedelta:
        return _shift(a, -b)
    if ta is tb and ta in (datetime, date, timedelta):
        return _duration(lambda: a - b)
    raise EvalError(f"cannot subtract {type_name(a)} - {type_name(b)}", code="E_TYPE")


def mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is Decimal and tb is Decimal:
        try:
            return EXACT.multiply(a, b)
        except decimal.DecimalException as exc:
            raise _numeric_error("product", exc) from None
    if ta is timedelta and tb is Decimal and b == b.to_integral_value():
        if abs(b) > _MAX_DURATION_FACTOR:  # never convert a huge decimal to an integer
            raise EvalError("duration product is out of range", code="E_NUMERIC")
        return _duration(lambda: a * int(b))
    raise EvalError(f"cannot multiply {type_name(a)} * {type_name(b)}", code="E_TYPE")


def div(a: Any, b: Any, scale: int = DEFAULT_DIVISION_SCALE) -> Any:
    if a is None or b is None:
        return None
    if type(a) is not Decimal or type(b) is not Decimal:
        raise EvalError(f"cannot divide {type_name(a)} / {type_name(b)}", code="E_TYPE")
    if b.is_zero():
        raise EvalError("division by zero", code="E_DIVISION_BY_ZERO")
    return _exact(lambda: ROUNDING.quantize(ROUNDING.divide(a, b), Decimal(1).scaleb(-scale)),
                  "quotient")


def mod(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if type(a) is not Decimal or type(b) is not Decimal:
        raise EvalError(f"cannot take {type_name(a)} % {type_name(b)}", code="E_TYPE")
    if b.is_zero():
        raise EvalError("modulo by zero", code="E_DIVISION_BY_ZERO")
    return _exact(lambda: EXACT.remainder(a, b), "remainder")


def neg(a: Any) -> Any:
    if a is None:
        return None
    if type(a) is Decimal:
        return EXACT.minus(a) if not a.is_zero() else ZERO
    if type(a) is timedelta:
        return _duration(lambda: -a)
    raise EvalError(f"cannot negate {a_type_name(a)}", code="E_TYPE")


def round_half_even(x: Decimal, places: int) -> Decimal:
    if not -MAX_DIVISION_SCALE <= places <= MAX_DIVISION_SCALE:
        raise EvalError(f"round() places must be within ±{MAX_DIVISION_SCALE}", code="E_ARGUMENT")
    return _exact(lambda: ROUNDING.quantize(x, Decimal(1).scaleb(-places)), "rounded value")


# ---------------------------------------------------------------- text forms

def decimal_text(d: Decimal) -> str:
    """Canonical decimal text: plain notation, no exponent, no trailing zeros, no -0."""
    if d.is_zero():
        return "0"
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def duration_text(d: timedelta) -> str:
    """ISO 8601 duration, e.g. P1DT2H30M; negative durations get a leading minus."""
    sign = "-" if d < timedelta(0) else ""
    d = abs(d)
    days, rem = d.days, d.seconds
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = "P"
    if days:
        out += f"{days}D"
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if seconds or d.microseconds:
        frac = f".{d.microseconds:06d}".rstrip("0") if d.microseconds else ""
        time_part += f"{seconds}{frac}S"
    if time_part:
        out += "T" + time_part
    if out == "P":
        out = "PT0S"
    return sign + out


def datetime_text(t: datetime) -> str:
    """RFC 3339 in UTC, `Z`; the year always has four digits (strftime's `%Y` does not
    pad years before 1000 on every platform)."""
    t = t.astimezone(UTC)
    base = (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d}")
    if t.microsecond:
        base += f".{t.microsecond:06d}".rstrip("0")
    return base + "Z"


def to_text(v: Any) -> str:
    """The string form used by `to_string` and `${...}` interpolation."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Decimal):
        return decimal_text(v)
    if isinstance(v, str):
        return v
    if isinstance(v, datetime):
        return datetime_text(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return duration_text(v)
    return json.dumps(to_json(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- parsing

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d{1,6})?)S)?)?$"
)
MAX_DURATION_DAYS = 999_999_999  # what a timedelta holds
_DURATION_TEXT = 100  # characters; any longer duration text is beyond the range anyway


def parse_duration(s: str) -> timedelta:
    m = _DURATION.match(s) if isinstance(s, str) and len(s) <= _DURATION_TEXT else None
    if not m or s in ("P", "-P") or s.endswith("T"):
        raise EvalError(
            f"invalid duration {_clip(s)}: use ISO 8601 weeks/days/time, e.g. P30D, PT12H, "
            "P1DT2H (years and months have no fixed length; use months_between or add_days)",
            code="E_ARGUMENT")
    parts = {k: v for k, v in m.groupdict().items() if k != "sign" and v}
    seconds = Decimal(parts.pop("seconds", "0"))
    try:
        td = timedelta(
            weeks=int(parts.get("weeks", 0)), days=int(parts.get("days", 0)),
            hours=int(parts.get("hours", 0)), minutes=int(parts.get("minutes", 0)),
            seconds=int(seconds), microseconds=int((seconds % 1) * 1_000_000),
        )
    except (ArithmeticError, ValueError):  # OverflowError, decimal.InvalidOperation
        raise EvalError(f"duration {_clip(s)} is out of range: at most {MAX_DURATION_DAYS} "
                        "days", code="E_ARGUMENT") from None
    return -td if m.group("sign") else td


def _clip(s: Any) -> str:
    """A bad argument as an error message shows it: at most about 60 characters."""
    text = repr(s)
    return text if len(text) <= 60 else text[:40] + "..." + text[-15:]


def parse_datetime(s: str) -> datetime:
    """RFC 3339 / ISO 8601 date-time. A value without an offset is read as UTC; one that
    leaves years 1-9999 once moved to UTC is an error (E_ARGUMENT)."""
    try:
        t = datetime.fromisoformat(s)
    except (ValueError, TypeError):
        raise EvalError(f"invalid datetime {_clip(s)}: expected RFC 3339, e.g. "
                        "2024-01-15T10:30:00Z", code="E_ARGUMENT") from None
    tz = t.tzinfo
    if tz is UTC:
        return t
    if tz is None:
        return t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC)
    except (OverflowError, ValueError):
        raise EvalError(f"datetime {_clip(s)} is out of range: in UTC it must fall within "
                        "years 1 to 9999", code="E_ARGUMENT") from None


def parse_date(s: str) -> date:
    try:
        if len(s) == 10:
            return date.fromisoformat(s)
        return parse_datetime(s).date()
    except (ValueError, TypeError, OverflowError, EvalError):
        raise EvalError(f"invalid date {_clip(s)}: expected YYYY-MM-DD",
                        code="E_ARGUMENT") from None


def parse_decimal(s: str) -> Decimal:
    """Decimal text, within the number bounds of `arka.base.boundary` (E_ARGUMENT)."""
    try:
        d = number_from_text(s.strip())
    except AttributeError:
        raise EvalError(f"invalid decimal {_clip(s)}", code="E_ARGUMENT") from None
    if isinstance(d, str):
        if d.startswith("invalid number"):
            d = "not a number"
        raise EvalError(f"invalid decimal {_clip(s)}: {d}", code="E_ARGUMENT")
    return d


# ---------------------------------------------------------------- JSON boundary

_PASS_THROUGH = frozenset({bool, type(None), datetime, date, timedelta})
# a Python int beyond this many bits has more than 61 digits: refused before converting
_INT_BITS = 203


def from_json(v: Any, path: str = "") -> Any:
    """Plain JSON data (numbers Decimal, int or float) into language values; a fresh copy.

    The data must be within the bounds of `arka.base.boundary` (nesting, numbers, text);
    otherwise BoundaryError (an InputError) names the path of the first value that is not.
    """
    return _from_json(v, path, 0)


def _from_json(v: Any, path: str, depth: int) -> Any:
    t = type(v)
    if t is dict or t is list or t is tuple or isinstance(v, dict | list | tuple):
        if depth >= MAX_DEPTH:
            raise BoundaryError("E_NESTING", path,
                                f"nested deeper than {MAX_DEPTH} lists/objects")
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                key = k if type(k) is str else str(k)
                if not key.isascii() or "\x00" in key:
                    problem = text_problem(key, key=True)
                    if problem:
                        raise BoundaryError("E_UNICODE", child_path(path, key), problem)
                tx = type(x)
                if tx is bool or x is None:
                    out[key] = x
                elif tx is str and x.isascii():
                    out[key] = x
                else:
                    out[key] = _from_json(x, child_path(path, key), depth + 1)
            return out
        return [_from_json(x, child_path(path, i), depth + 1) for i, x in enumerate(v)]
    if t is Decimal:
        return _number(v, path)
    if t is str or isinstance(v, str):
        problem = text_problem(v)
        if problem:
            raise BoundaryError("E_UNICODE", path, problem)
        return str(v)
    if t in _PASS_THROUGH:
        return v
    if t is int:
        if v.bit_length() > _INT_BITS:
            raise BoundaryError("E_NUMBER", path, f"number is out of range: {NUMBER_BOUNDS}")
        return _number(Decimal(v), path)
    if t is float:
        # A float reaching the boundary (Python callers, our own JSON output) is read by its
        # shortest repr, which is exactly the text it was written as; never computed with.
        if v != v or v in (float("inf"), float("-inf")):
            raise BoundaryError("E_NUMBER", path, finite_problem(path or "body"))
        return _number(Decimal(repr(v)), path)
    raise BoundaryError("E_INPUT", path, f"unsupported input value of type {t.__name__}")


def _number(d: Decimal, path: str) -> Decimal:
    problem = number_problem(d, path or "body")
    if problem:
        raise BoundaryError("E_NUMBER", path, problem)
    return d


def decimal_json(d: Decimal) -> int | float | str:
    """A decimal as JSON: a number when a double holds it exactly, otherwise its exact text.

    RFC 8785 serialises numbers as IEEE 754 doubles, so a decimal that a double cannot hold
    exactly is emitted as a string to keep every hash exact and portable.
    """
    text = decimal_text(d)
    if d == d.to_integral_value() and abs(d) <= 2**53:
        return int(d)
    f = float(d)
    return f if repr(f) == text else text


def to_json(v: Any) -> Any:
    """Language values into plain JSON-ready data, deterministically. A value nested
    deeper than MAX_VALUE_DEPTH is an error (E_NESTING), never a RecursionError."""
    return _to_json(v, 0)


def _to_json(v: Any, depth: int) -> Any:
    if v is None or v is True or v is False or isinstance(v, str):
        return v
    if isinstance(v, Decimal):
        return decimal_json(v)
    if isinstance(v, int):
        return v
    if isinstance(v, datetime):
        return datetime_text(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return duration_text(v)
    if isinstance(v, list | dict):
        if depth >= MAX_VALUE_DEPTH:
            raise EvalError(f"value nested deeper than {MAX_VALUE_DEPTH} lists/objects",
                            code="E_NESTING")
        if isinstance(v, list):
            return [_to_json(x, depth + 1) for x in v]
        return {k: _to_json(v[k], depth + 1) for k in sorted(v)}
    return type_name(v)


def load_json_text(text: str, path: str = "") -> Any:
    """Parse JSON reading every number as an exact Decimal, within the bounds of
    `arka.base.boundary`: BoundaryError (E_JSON, E_NESTING, E_NUMBER, E_DUPLICATE_KEY,
    E_UNICODE, E_TOO_LARGE) names the path of what is refused."""
    return load_json(text, path)


def dumps(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False,
                      separators=None if indent else (",", ":"))


def value_size(v: Any) -> int:
    """Approximate bytes a value occupies, for the heap limit. Deterministic by design."""
    if isinstance(v, str):
        return 16 + len(v)
    if isinstance(v, list):
        return 16 + 8 * len(v)
    if isinstance(v, dict):
        return 32 + 16 * len(v)
    return 16
