"""Canonical JSON (RFC 8785, JCS), the SHA-256 hashes over it, base64url.

Everything signed or logged is hashed over these bytes. Nesting is bounded
(`MAX_DEPTH`) and measured without recursion, so a value too deep for the
canonicaliser is refused with `E_CANONICAL` instead of overflowing the stack.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import rfc8785

from arka.base.errors import ArkaError

#: The deepest JSON value canonical() accepts (an object or list is one level). Far above
#: what the request boundary lets an input carry, plus the record and trace wrappers.
MAX_DEPTH = 256

_SAFE_INT = 2**53


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when `value` nests objects/lists more than `limit` levels (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, level = stack.pop()
        if type(v) is dict:
            children: Any = v.values()
        elif type(v) is list or type(v) is tuple:
            children = v
        else:
            continue
        if level > limit:
            return True
        stack.extend((x, level + 1) for x in children if type(x) in (dict, list, tuple))
    return False


def _plain(value: Any) -> bool | None:
    """True when `json.dumps` already writes `value` exactly as RFC 8785 would: keys are
    ordered the same (no key outside the Basic Multilingual Plane, where UTF-16 order
    differs from code-point order), integers are exact in a double, floats print the same
    in ECMAScript (shortest round trip, no exponent) and no string holds a lone surrogate.
    None when it nests deeper than MAX_DEPTH."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, level = stack.pop()
        t = type(v)
        if t is dict or t is list:
            if level >= MAX_DEPTH:
                return None
            if t is dict:
                for k in v:
                    if type(k) is not str or not k.isascii() and (
                            any(ord(c) > 0xFFFF or 0xD800 <= ord(c) <= 0xDFFF for c in k)):
                        return False
                items: Any = v.values()
            else:
                items = v
            for x in items:
                tx = type(x)
                if tx is dict or tx is list:
                    stack.append((x, level + 1))
                elif not _plain_scalar(x, tx):
                    return False
        elif not _plain_scalar(v, t):
            return False
    return True


def _plain_scalar(v: Any, t: type) -> bool:
    if t is str:
        return v.isascii() or not any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    if t is int:
        return bool(-_SAFE_INT <= v <= _SAFE_INT)
    if t is float:
        r = repr(v)  # ECMAScript prints 1.0 as 1 and uses exponents differently
        return not ("e" in r or "inf" in r or "nan" in r or r.endswith(".0"))
    return v is None or t is bool


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value; `E_CANONICAL` when it has none (NaN, an
    integer beyond 2**53, a lone surrogate, a non-JSON type, nesting beyond MAX_DEPTH).

    Values that `json.dumps` already writes canonically take that (C) path; anything else
    goes through the `rfc8785` implementation. Tests check both paths give the same bytes.
    """
    plain = _plain(value)
    if plain is None or plain is False and depth_exceeds(value, MAX_DEPTH):
        raise ArkaError(f"value cannot be canonicalised: nested deeper than {MAX_DEPTH} "
                        "levels", code="E_CANONICAL")
    if plain:
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
    try:
        return rfc8785.dumps(_edges_as_doubles(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        raise ArkaError(f"value cannot be canonicalised: {exc}", code="E_CANONICAL") from None


def _edges_as_doubles(value: Any) -> Any:
    """±2**53 as doubles, which hold them exactly and print them the same: `rfc8785`
    refuses those two integers, the fast path (and ECMAScript) accepts them, and a value
    must not canonicalise or fail depending on what else the document holds."""
    t = type(value)
    if t is int and abs(value) == _SAFE_INT:
        return float(value)
    if t is dict:
        return {k: _edges_as_doubles(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_edges_as_doubles(v) for v in value]
    return value


def digest(value: Any) -> str:
    """`sha256:` + lowercase hex SHA-256 of the canonical bytes."""
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
