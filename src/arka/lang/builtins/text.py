"""Strings: case, prefixes, RE2 matching and conversions to and from text (docs: "Strings")."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import re2

from arka.base import values as V
from arka.base.errors import EvalError
from arka.lang import types as T
from arka.lang.builtins.declaration import (
    B,
    Builtin,
    D,
    P,
    Runtime,
    S,
    const,
    meter,
    need,
    text_cost,
)

# Each builtin charges the characters it reads (`text_cost`) before reading them.

def _str_fn(name: str, fn: Callable[[str], Any]) -> Callable[..., Any]:
    def impl(rt: Runtime, s: Any) -> Any:
        text = need(s, str, name, "argument")
        meter(rt).step(text_cost(text))
        return fn(text)
    return impl


def _starts_with(rt: Runtime, s: Any, prefix: Any) -> bool:
    p = need(prefix, str, "starts_with", "prefix")
    meter(rt).step(text_cost(p))
    return need(s, str, "starts_with", "text").startswith(p)


def _ends_with(rt: Runtime, s: Any, suffix: Any) -> bool:
    p = need(suffix, str, "ends_with", "suffix")
    meter(rt).step(text_cost(p))
    return need(s, str, "ends_with", "text").endswith(p)


MAX_REGEX_LENGTH = 1000  # characters of a regular expression (literal or computed)
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 8 << 20  # bytes RE2 may use for one compiled pattern
_RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """RE2 only: linear time in the input, no backtracking, no catastrophic patterns; the
    pattern is at most MAX_REGEX_LENGTH characters and its compiled form at most 8 MiB."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise EvalError(f"regular expression of {len(pattern)} characters is longer than "
                        f"{MAX_REGEX_LENGTH}", code="E_ARGUMENT")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        raise EvalError(f"invalid regular expression {pattern!r}: {exc}",
                        code="E_ARGUMENT") from None


def _regex_match(rt: Runtime, s: Any, pattern: Any) -> bool:
    text = need(s, str, "regex_match", "text")
    regex = compile_regex(need(pattern, str, "regex_match", "pattern"))
    meter(rt).step(text_cost(text))
    return regex.search(text) is not None


def _to_string(rt: Runtime, v: Any) -> str:
    if isinstance(v, list | dict):
        V.walk(v, meter(rt).step)  # its text visits every element; nesting is bounded
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
    amt = need(amount, Decimal, "format_currency", "amount")
    code = need(currency, str, "format_currency", "currency").upper()
    places = 0 if code in _ZERO_DECIMAL_CURRENCIES else 2
    q = V.round_half_even(amt, places)
    body = f"{abs(q):,.{places}f}"
    sign = "-" if q < 0 else ""
    symbol = _CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {code}"


BUILTINS: tuple[Builtin, ...] = (
    Builtin("upper", (P("text", S),), const(S), "Upper case.", _str_fn("upper", str.upper),
            null_in_null_out=True),
    Builtin("lower", (P("text", S),), const(S), "Lower case.", _str_fn("lower", str.lower),
            null_in_null_out=True),
    Builtin("trim", (P("text", S),), const(S), "Without leading and trailing whitespace.",
            _str_fn("trim", str.strip), null_in_null_out=True),
    Builtin("starts_with", (P("text", S), P("prefix", S)), const(B), "Prefix test.",
            _starts_with, null_in_null_out=True),
    Builtin("ends_with", (P("text", S), P("suffix", S)), const(B), "Suffix test.", _ends_with,
            null_in_null_out=True),
    Builtin("regex_match", (P("text", S), P("pattern", S)), const(B),
            "RE2 search (linear time; no backreferences or lookaround).", _regex_match,
            null_in_null_out=True),
    Builtin("to_string", (P("value", T.ANY),), const(S),
            "Text form of any value (decimals in plain notation).", _to_string),
    Builtin("to_decimal", (P("value", T.ANY),), const(D),
            "Decimal from a string or decimal; null stays null.", _to_decimal),
    Builtin("format_currency", (P("amount", D), P("currency", S, True)), const(S),
            'Amount rounded to the currency\'s minor unit with separators: "$15,000.00".',
            _format_currency, null_in_null_out=True),
)
