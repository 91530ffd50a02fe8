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


# ---------------------------------------------------------------- truthiness, equality

def truthy(v: Any) -> bool:
    """Boolean positions: null is false; anything but a boolean is a type error."""
    if v is True:
        return True
    if v is False or v is None:
        return False
    raise EvalError(f"expected a boolean, got {type_name(v)}", code="E_TYPE")


def equals(a: Any, b: Any) -> bool:
    """Structural equality with no cross-type surprises (True != 1, date != datetime)."""
    ta, tb = type(a), type(b)
    if a is None or b is None:
        return a is b
    if ta is bool or tb is bool:
        return ta is tb and a is b
    if ta is not tb:
        return False
    if ta is list:
        return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(equals(a[k], b[k]) for k in a)
    return bool(a == b)


_ORDERED = (Decimal, str, datetime, date, timedelta)


def compare(op: str, a: Any, b: Any) -> bool:
    """Ordering comparison. A null operand gives false; mixed types are a type error."""
    if a is None or b is None:
        return False
    ta, tb = type(a), type(b)
    if ta is not tb or ta not in _ORDERED:
        hint = " (use datetime(s) or date(s) to convert)" if {ta, tb} & {datetime, date} else ""
        raise EvalError(f"cannot compare {type_name(a)} {op} {type_name(b)}{hint}", code="E_TYPE")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def contains(container: Any, item: Any) -> bool:
    """`item in container` for lists (element equality), strings (substring), objects (key)."""
    if container is None:
        return False
    if isinstance(container, list):
        return any(equals(item, x) for x in container)
    if isinstance(container, str):
        if item is None:
            return False
        if not isinstance(item, str):
            raise EvalError(f"`in` a string needs a string, got {type_name(item)}", code="E_TYPE")
        return item in container
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise EvalError(f"`in` needs a list, string or object, got {type_name(container)}",
                    code="E_TYPE")


def index_value(obj: Any, idx: Any) -> Any:
    if obj is None or idx is None:
        return None
    if type(obj) is list or type(obj) is str:
        if not isinstance(idx, Decimal) or idx != idx.to_integral_value():
            raise EvalError(f"a {type_name(obj)} index must be a whole number, got "
                            f"{type_name(idx)}", code="E_TYPE")
        i = int(idx)
        if i < 0:
            i += len(obj)
        return obj[i] if 0 <= i < len(obj) else None
    if type(obj) is dict:
        if not isinstance(idx, str):
            raise EvalError(f"an object key must be a string, got {type_name(idx)}",
                            code="E_TYPE")
        return obj.get(idx)
    raise EvalError(f"cannot index a {type_name(obj)}", code="E_TYPE")


# ---------------------------------------------------------------- arithmetic

def _numeric_error(what: str, exc: decimal.DecimalException) -> EvalError:
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
        return a + b
    if ta is list and tb is list:
        return a + b
    raise EvalError(f"cannot add {type_name(a)} + {type_name(b)}", code="E_TYPE")


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
        return a - b
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
        return a * int(b)
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
        return -a
    raise EvalError(f"cannot negate {type_name(a)}", code="E_TYPE")


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
    t = t.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
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


def parse_duration(s: str) -> timedelta:
    m = _DURATION.match(s)
    if not m or s in ("P", "-P") or s.endswith("T"):
        raise EvalError(
            f"invalid duration {s!r}: use ISO 8601 weeks/days/time, e.g. P30D, PT12H, P1DT2H "
            "(years and months have no fixed length; use months_between or add_days)",
            code="E_ARGUMENT")
    parts = {k: v for k, v in m.groupdict().items() if k != "sign" and v}
    seconds = Decimal(parts.pop("seconds", "0"))
    td = timedelta(
        weeks=int(parts.get("weeks", 0)), days=int(parts.get("days", 0)),
        hours=int(parts.get("hours", 0)), minutes=int(parts.get("minutes", 0)),
        seconds=int(seconds), microseconds=int((seconds % 1) * 1_000_000),
    )
    return -td if m.group("sign") else td


def parse_datetime(s: str) -> datetime:
    """RFC 3339 / ISO 8601 date-time. A value without an offset is read as UTC."""
    try:
        t = datetime.fromisoformat(s)
    except (ValueError, TypeError):
        raise EvalError(f"invalid datetime {s!r}: expected RFC 3339, e.g. 2024-01-15T10:30:00Z",
                        code="E_ARGUMENT") from None
    tz = t.tzinfo
    if tz is UTC:
        return t
    if tz is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def parse_date(s: str) -> date:
    try:
        if len(s) == 10:
            return date.fromisoformat(s)
        return parse_datetime(s).date()
    except (ValueError, TypeError, EvalError):
        raise EvalError(f"invalid date {s!r}: expected YYYY-MM-DD", code="E_ARGUMENT") from None


def parse_decimal(s: str) -> Decimal:
    try:
        d = Decimal(s.strip())
    except (decimal.InvalidOperation, ValueError, AttributeError):
        raise EvalError(f"invalid decimal {s!r}", code="E_ARGUMENT") from None
    if not d.is_finite():
        raise EvalError(f"invalid decimal {s!r}: must be finite", code="E_ARGUMENT")
    return d


# ---------------------------------------------------------------- JSON boundary

_PASS_THROUGH = frozenset({str, bool, type(None), datetime, date, timedelta})


def from_json(v: Any) -> Any:
    """Plain JSON data (numbers Decimal or int) into language values; a fresh copy."""
    t = type(v)
    if t is dict:
        out = {}
        for k, x in v.items():
            tx = type(x)
            if tx is str or x is None or tx is bool or (tx is Decimal and x.is_finite()):
                out[k if type(k) is str else str(k)] = x
            else:
                out[k if type(k) is str else str(k)] = from_json(x)
        return out
    if t is Decimal:
        if not v.is_finite():
            raise EvalError("numbers must be finite", code="E_INPUT")
        return v
    if t in _PASS_THROUGH:
        return v
    if t is list or t is tuple:
        return [from_json(x) for x in v]
    if t is int:
        return Decimal(v)
    if t is float:
        # A float reaching the boundary (Python callers, our own JSON output) is read by its
        # shortest repr, which is exactly the text it was written as; never computed with.
        if v != v or v in (float("inf"), float("-inf")):
            raise EvalError("numbers must be finite", code="E_INPUT")
        return Decimal(repr(v))
    if isinstance(v, dict):
        return {str(k): from_json(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [from_json(x) for x in v]
    if isinstance(v, str):
        return str(v)
    raise EvalError(f"unsupported input value of type {t.__name__}", code="E_INPUT")


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
    """Language values into plain JSON-ready data, deterministically."""
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
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(v[k]) for k in sorted(v)}
    return type_name(v)


def load_json_text(text: str) -> Any:
    """Parse JSON reading every number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


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
