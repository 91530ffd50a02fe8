"""Everything a route depends on, in one place: ARKA Core, who is calling (and may they),
the request body, pagination.

Bodies are read here as bytes and parsed by us, not by FastAPI: every JSON number stays
an exact Decimal, a body over `max_request_size` is refused (413) while it arrives, and
JSON is read within the input bounds of `arka.base.boundary` (400 naming the path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from arka.app.core import Core
from arka.app.requests import MAX_ID, NO_NUL, instant, parse
from arka.base import values as V
from arka.base.errors import InputError
from arka.interfaces.http.errors import PayloadTooLarge
from arka.interfaces.http.guard import Guard
from arka.rules.source import MAX_DOCUMENT_BYTES
from arka.security.principal import Actor, Principal

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# every list's offset, (MAX_PAGE - 1) * 100, stays far inside a 64-bit BIGINT
MAX_PAGE = 1_000_000_000
MAX_PATH_TEXT = 256  # names, versions and ids in paths
OFF_LOOP_BYTES = 256 * 1024  # JSON texts from this size on are parsed in a worker thread


def core_of(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


CoreDep = Annotated[Core, Depends(core_of)]


# ------------------------------------------------------------------ credentials

bearer = HTTPBearer(auto_error=False, description="JWT (HS256 with the jwt-secret, or "
                    "RS256/ES256 via the configured JWKS URL)")
api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="API key (arka-cli apikey create)")


def need(permission: str | None) -> Any:
    """The calling principal, who must hold `permission` (see `guard`); None: any valid
    credential."""
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


def _parse_json(text: str) -> Any:
    return V.load_json_text(text)


async def _json(text: str) -> Any:
    """JSON within the input bounds (`arka.base.boundary`): nesting, value count, numbers,
    duplicate keys, text. A refusal is an InputError (400) naming the path and its code.
    Large texts are parsed off the event loop."""
    if len(text) < OFF_LOOP_BYTES:
        return _parse_json(text)
    return await run_in_threadpool(_parse_json, text)


async def json_body(request: Request, model: type[M], optional: bool = False) -> M:
    """The body as `model`: JSON with exact decimals, then `arka.app.requests.parse`.
    `optional`: an empty body is the model's defaults."""
    raw = await body_bytes(request)
    if optional and not raw.strip():
        return parse(model, {})
    return parse(model, await _json(_text(raw)))


async def document(request: Request) -> tuple[str, str]:
    """A rule, table or ruleset document: its text and format (json or yaml). A JSON
    document must be JSON within the input bounds (no NaN, duplicate keys, ...); both
    formats are then read by the YAML/JSON loader of the rules, which bounds them too."""
    text = _text(await body_bytes(request))
    if not text.strip():
        raise InputError("request body is empty; send a rule document")
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind == "application/json":
        if len(text) <= MAX_DOCUMENT_BYTES:  # larger: the loader refuses it (E_TOO_LARGE)
            await _json(text)
        return text, "json"
    return text, "yaml"


# ------------------------------------------------------------------ parameters

@dataclass(frozen=True)
class Page:
    page: int
    per_page: int


def pagination(page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based")] = 1,
               per_page: Annotated[int, Query(ge=1, le=100)] = 20) -> Page:
    return Page(page, per_page)


PageDep = Annotated[Page, Depends(pagination)]

PathText = Annotated[str, Path(pattern=NO_NUL, max_length=MAX_PATH_TEXT)]


def QueryText(max_length: int = MAX_ID, min_length: int | None = None,  # noqa: N802
              format: str | None = None, **kw: Any) -> Any:
    """A text query parameter: bounded, without NUL (a lone surrogate cannot arrive: the
    query string is decoded as UTF-8 with replacement)."""
    return Query(pattern=NO_NUL, max_length=max_length, min_length=min_length,
                 json_schema_extra={"format": format} if format else None, **kw)


def datetimes(make: Callable[[], T], what: str) -> T:
    """`make()`, which reads RFC 3339 datetimes: one beyond the calendar's range once
    moved to UTC (year 1 with a positive offset) is the caller's mistake, not a fault."""
    try:
        return make()
    except (OverflowError, ValueError):
        raise InputError(f"{what} must be an RFC 3339 datetime") from None


def time_range(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    """The `from` and `to` query parameters in canonical form (UTC, `Z`). `from` after
    `to` is an empty range: nothing matches (the parameters are each valid)."""
    return instant(start, "from"), instant(end, "to")
