"""Everything a route depends on, in one place: ARKA Core, who is calling (and may they),
the request body, pagination.

Bodies are read here as bytes and parsed by us, not by FastAPI: every JSON number stays
an exact Decimal, and a body over `max_request_size` is refused (413) while it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel

from arka.app.core import Core
from arka.app.requests import parse, rfc3339
from arka.base import values as V
from arka.base.errors import InputError
from arka.interfaces.http.errors import PayloadTooLarge
from arka.interfaces.http.guard import Guard
from arka.security.principal import Actor, Principal

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_PAGE = 1_000_000_000
NO_NUL = r"^[^\x00]*$"  # no name or id holds a NUL (PostgreSQL text cannot)


def core_of(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


CoreDep = Annotated[Core, Depends(core_of)]


# ------------------------------------------------------------------ credentials

bearer = HTTPBearer(auto_error=False, description="JWT (HS256 with the jwt-secret, or "
                    "RS256/ES256 via the configured JWKS URL)")
api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="API key (arka-cli apikey create)")


def need(permission: str) -> Any:
    """The calling principal, who must hold `permission` (see `guard`)."""
    async def principal(request: Request, _b: Any = Security(bearer),
                        _k: Any = Security(api_key)) -> Principal:
        guard: Guard = request.app.state.guard
        return await guard.check(request, permission)
    return Depends(principal)


async def public(request: Request) -> None:
    """Endpoints without credentials are still rate-limited per client address."""
    guard: Guard = request.app.state.guard
    await guard.public(request)


def actor(request: Request, principal: Principal) -> Actor:
    return principal.actor(getattr(request.state, "request_id", None))


# ------------------------------------------------------------------ bodies

async def body_bytes(request: Request) -> bytes:
    limit = core_of(request).settings.max_request_size
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds max_request_size ({limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("request body is not UTF-8") from None


async def json_body(request: Request, model: type[M], optional: bool = False) -> M:
    """The body as `model`: JSON with exact decimals, then `arka.app.requests.parse`.
    `optional`: an empty body is the model's defaults."""
    raw = await body_bytes(request)
    if optional and not raw.strip():
        return parse(model, {})
    try:
        data = V.load_json_text(_text(raw))
    except json.JSONDecodeError as exc:
        raise InputError(f"request body is not valid JSON: {exc.msg}",
                         details=[{"path": "body", "line": exc.lineno, "column": exc.colno,
                                   "message": exc.msg}]) from None
    except RecursionError:
        raise InputError("request body is nested too deeply") from None
    return parse(model, data)


async def document(request: Request) -> tuple[str, str]:
    """A rule, table or ruleset document: its text and format (json or yaml)."""
    text = _text(await body_bytes(request))
    if not text.strip():
        raise InputError("request body is empty; send a rule document")
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    return text, "json" if kind == "application/json" else "yaml"


# ------------------------------------------------------------------ parameters

@dataclass(frozen=True)
class Page:
    page: int
    per_page: int


def pagination(page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based")] = 1,
               per_page: Annotated[int, Query(ge=1, le=100)] = 20) -> Page:
    return Page(page, per_page)


PageDep = Annotated[Page, Depends(pagination)]

PathText = Annotated[str, Path(pattern=NO_NUL)]


def datetimes(make: Callable[[], T], what: str) -> T:
    """`make()`, which reads RFC 3339 datetimes: one beyond the calendar's range once
    moved to UTC (year 1 with a positive offset) is the caller's mistake, not a fault."""
    try:
        return make()
    except (OverflowError, ValueError):
        raise InputError(f"{what} must be an RFC 3339 datetime") from None


def instant(text: str | None, what: str) -> str | None:
    """A datetime query parameter in canonical form (UTC, `Z`)."""
    return None if text is None else datetimes(lambda: rfc3339(text, what), what)
