"""The evaluation context: language values, a timestamp always present, jurisdiction
and domain normalised (`US`, `US-NY`; domains upper-cased) or refused."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from arka.base import values as V
from arka.base.calendar import CodeError, normalize_domain, normalize_jurisdiction
from arka.base.errors import EvalError, InputError


@functools.lru_cache(maxsize=4096)
def _parse_timestamp(text: str) -> datetime:
    return V.parse_datetime(text)


def normalize_context(context: dict[str, Any] | None, received_at: datetime | None = None
                      ) -> dict[str, Any]:
    """Context as language values; a missing timestamp becomes the time received."""
    if context is not None and not isinstance(context, dict):
        raise InputError("context must be a JSON object")
    try:
        ctx = V.from_json(context or {})
    except EvalError as exc:
        raise InputError(f"context: {exc.message}") from None
    ts = ctx.get("timestamp")
    if ts is None:
        ctx["timestamp"] = (received_at or datetime.now(UTC)).replace(microsecond=0)
    elif isinstance(ts, str):
        try:
            ctx["timestamp"] = _parse_timestamp(ts)
        except EvalError as exc:
            raise InputError(f"context.timestamp: {exc.message}") from None
    elif not isinstance(ts, datetime):
        raise InputError("context.timestamp must be an RFC 3339 datetime")
    for key in ("jurisdiction", "domain"):
        value = ctx.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(f"context.{key} must be text", code="E_CONTEXT",
                             details=[{"path": f"context.{key}", "code": "E_CONTEXT",
                                       "message": f"context.{key} must be text"}])
        try:
            ctx[key] = normalize_jurisdiction(value, allow_all=False) \
                if key == "jurisdiction" else normalize_domain(value)
        except CodeError as exc:
            hint = "; omit it to run the rules of every jurisdiction" \
                if key == "jurisdiction" else ""
            message = f"context.{key}: {exc}{hint}"
            raise InputError(message, code="E_CONTEXT",
                             details=[{"path": f"context.{key}", "code": "E_CONTEXT",
                                       "message": message}]) from None
    return ctx
