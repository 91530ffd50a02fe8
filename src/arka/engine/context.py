"""The evaluation context: language values, a timestamp always present."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from arka.base import values as V
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
        if key in ctx and ctx[key] is not None and not isinstance(ctx[key], str):
            raise InputError(f"context.{key} must be text")
    return ctx
