"""Input schemas (`docs/language.md`) compiled into converter functions, once per rule.

Fields declared decimal/integer/datetime/date/duration are converted on entry; a value
that does not convert, a missing required field, an enum violation or (with
`additionalProperties: false`) an undeclared field rejects the evaluation with an
InputError naming the field path, e.g. `transaction_history[3].timestamp`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from arka.base import values as V
from arka.base.errors import EvalError, InputError

Converter = Callable[[Any], Any]


class _Fault(Exception):
    """A conversion failure; containers prepend their key or index on the way out."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _fail(message: str) -> _Fault:
    return _Fault(message)


def _number(integer: bool) -> Converter:
    def convert(v: Any) -> Any:
        t = type(v)
        if t is not Decimal:
            if t is bool:
                raise _fail("expected a number, got a boolean")
            if t is str:
                try:
                    v = V.parse_decimal(v)
                except EvalError as exc:
                    raise _fail(exc.message) from None
            elif t is int:
                v = Decimal(v)
            else:
                raise _fail(f"expected a number, got {V.a_type_name(v)}")
        if integer and v != v.to_integral_value():
            raise _fail(f"expected a whole number, got {V.decimal_text(v)}")
        return v
    return convert


def _string(v: Any) -> Any:
    if type(v) is not str:
        raise _fail(f"expected text, got {V.a_type_name(v)}")
    return v


def _boolean(v: Any) -> Any:
    if v is not True and v is not False:
        raise _fail(f"expected true or false, got {V.a_type_name(v)}")
    return v


def _datetime(v: Any) -> Any:
    t = type(v)
    if t is str:
        try:
            return V.parse_datetime(v)
        except EvalError as exc:
            raise _fail(exc.message) from None
    if t is date:
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    if t is not datetime:
        raise _fail(f"expected an RFC 3339 datetime, got {V.a_type_name(v)}")
    return v


def _date(v: Any) -> Any:
    t = type(v)
    if t is str:
        try:
            return V.parse_date(v)
        except EvalError as exc:
            raise _fail(exc.message) from None
    if t is datetime:
        return v.date()
    if t is not date:
        raise _fail(f"expected a date YYYY-MM-DD, got {V.a_type_name(v)}")
    return v


def _duration(v: Any) -> Any:
    if type(v) is str:
        try:
            return V.parse_duration(v)
        except EvalError as exc:
            raise _fail(exc.message) from None
    if not isinstance(v, timedelta):
        raise _fail(f"expected an ISO 8601 duration, got {V.a_type_name(v)}")
    return v


def _any(v: Any) -> Any:
    return v


def _array(items: Converter | None) -> Converter:
    def convert(v: Any) -> Any:
        if type(v) is not list:
            raise _fail(f"expected a list, got {V.a_type_name(v)}")
        if items is None:
            return v
        out: list[Any] = []
        for i, x in enumerate(v):
            if x is None:
                out.append(None)
                continue
            try:
                out.append(items(x))
            except _Fault as fault:
                fault.path.insert(0, f"[{i}]")
                raise
        return out
    return convert


def _object(props: dict[str, Converter], required: tuple[str, ...], closed: bool) -> Converter:
    prop_items = tuple(props.items())

    def convert(v: Any) -> Any:
        if type(v) is not dict:
            raise _fail(f"expected an object, got {V.a_type_name(v)}")
        for name in required:
            if v.get(name) is None:
                fault = _fail("required field is missing")
                fault.path.insert(0, f".{name}")
                raise fault
        if closed:
            extra = sorted(set(v) - set(props))
            if extra:
                fault = _fail("field is not allowed by the schema")
                fault.path.insert(0, f".{extra[0]}")
                raise fault
        if not prop_items:
            return v
        out = dict(v)
        for name, conv in prop_items:
            x = out.get(name)
            if x is not None:
                try:
                    out[name] = conv(x)
                except _Fault as fault:
                    fault.path.insert(0, f".{name}")
                    raise
        return out
    return convert


def _with_enum(conv: Converter, enum: list[Any]) -> Converter:
    allowed = [V.from_json(e) for e in enum]
    shown = ", ".join(V.to_text(a) for a in allowed)

    def convert(v: Any) -> Any:
        v = conv(v)
        if not any(V.equals(v, a) for a in allowed):
            raise _fail(f"{V.to_text(v)!r} is not one of {shown}")
        return v
    return convert


_SCALARS: dict[str, Converter] = {
    "decimal": _number(False), "number": _number(False), "integer": _number(True),
    "string": _string, "boolean": _boolean, "datetime": _datetime, "date": _date,
    "duration": _duration, "any": _any,
}


def compile_schema(spec: dict[str, Any]) -> Converter:
    """A converter for values of this (already validated) schema; None values never reach it."""
    kind = spec.get("type", "any")
    props = spec.get("properties") or {}
    if kind == "array":
        conv = _array(compile_schema(spec["items"]) if spec.get("items") else None)
    elif kind == "object" or props:
        conv = _object({k: compile_schema(s) for k, s in props.items()},
                       tuple(spec.get("required", ())), spec.get("additionalProperties") is False)
    else:
        conv = _SCALARS[kind]
    if spec.get("enum") is not None:
        conv = _with_enum(conv, spec["enum"])
    return conv


def convert_input(name: str, converter: Converter, value: Any) -> Any:
    """Run a converter; failures become an InputError naming the field path."""
    try:
        return converter(value)
    except _Fault as fault:
        raise InputError(f"{name}{''.join(fault.path)}: {fault.message}") from None
