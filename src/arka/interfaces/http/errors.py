"""Errors as API answers (`docs/api.md`): `{"error": {code, message, details, request_id}}`.

One handler serves every ArkaError: its `api_code` is the answer's code and fixes the
HTTP status (`arka.base.errors.API_STATUS`). The others serve only what is not an
ArkaError: Starlette's unknown route or method, FastAPI's checks of declared parameters,
and any other exception (a fault: 500, logged with the request id).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from arka.app.requests import NO_NUL
from arka.base.errors import API_STATUS, ArkaError

log = logging.getLogger("arka.api")


class HttpError(ArkaError):
    """An error of the HTTP exchange itself, with response headers to send."""

    headers: dict[str, str] = {}

    def __init__(self, message: str, headers: dict[str, str] | None = None,
                 details: list[dict[str, Any]] | None = None):
        super().__init__(message, details=details)
        self.headers = dict(headers or {})


class PayloadTooLarge(HttpError):
    code = "E_PAYLOAD_TOO_LARGE"
    api_code = "PAYLOAD_TOO_LARGE"


class RequestTimeout(HttpError):
    code = "E_REQUEST_TIMEOUT"
    api_code = "REQUEST_TIMEOUT"


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_body(code: str, message: str, details: list[dict[str, Any]] | None,
               request_id: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": list(details or []),
                      "request_id": request_id}}


class ErrorJSON(JSONResponse):
    """An error answer that always renders: a message quoting text without a UTF-8 form
    (a lone surrogate) is written with \\u escapes instead of failing into a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, default=str).encode("ascii")


def error_response(exc: ArkaError, request_id: str | None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return ErrorJSON(error_body(exc.api_code, exc.api_message(), exc.details, request_id),
                     status_code=exc.http_status, headers=headers)


def _answer(request: Request, code: str, message: str,
            details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return ErrorJSON(error_body(code, message, details, request_id_of(request)),
                     status_code=API_STATUS[code])


RETRY_AFTER = 5  # seconds, for a 503 whose error names no hint of its own


async def arka_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ArkaError)
    if exc.api_code == "INTERNAL_ERROR":
        log.error("%s %s (request %s)", exc.code, exc.message, request_id_of(request) or "-")
    headers = dict(exc.headers) if isinstance(exc, HttpError) else {}
    if exc.api_code == "SERVICE_UNAVAILABLE":  # an outage: tell the caller when to retry
        log.warning("%s %s (request %s)", exc.code, exc.message,
                    request_id_of(request) or "-")
        headers.setdefault("Retry-After", str(getattr(exc, "retry_after", RETRY_AFTER)))
    return error_response(exc, request_id_of(request), headers or None)


async def no_route(request: Request, exc: Exception) -> JSONResponse:
    return _answer(request, "NOT_FOUND", f"no such resource: {request.url.path}")


async def bad_method(request: Request, exc: Exception) -> JSONResponse:
    return _answer(request, "NOT_FOUND",
                   f"{request.method} is not supported on {request.url.path}")


async def bad_parameter(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(e) for e in exc.errors()] or [
        {"path": "request", "message": "the request does not fit its declaration"}]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return _answer(request, "VALIDATION_ERROR", problems[0]["message"] + more, problems)


async def internal(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error (request %s)", request_id_of(request) or "-")
    return _answer(request, "INTERNAL_ERROR",
                   "internal error; see the server log with the request_id")


_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
           "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}


def _problem(e: Any) -> dict[str, Any]:
    """One failed parameter check as {path, message}: `page must be an integer >= 1`."""
    loc = [str(p) for p in e.get("loc", ())]
    name = loc[-1] if loc else "request"
    kind, ctx = e.get("type", ""), e.get("ctx") or {}
    if kind == "missing":
        message = f"{name} is required"
    elif kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        message = f"{name} must be an integer {op} {ctx.get(key)}"
    elif kind.startswith("int_"):
        message = f"{name} must be an integer"
    elif kind in ("literal_error", "enum"):
        allowed = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        message = f"{name} must be one of {allowed}"
    elif kind == "string_too_short":
        message = f"{name} must not be empty"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == NO_NUL:
        message = f"{name} holds a NUL character; remove it"
    elif kind == "string_pattern_mismatch":
        message = f"{name} must match the pattern {ctx.get('pattern')}"
    elif kind == "string_too_long":
        message = f"{name} must be at most {ctx.get('max_length')} characters"
    else:
        message = f"{name}: {e.get('msg', 'invalid')}"
    return {"path": ".".join(loc) or "request", "message": message}


def install(app: FastAPI) -> None:
    app.add_exception_handler(ArkaError, arka_error)
    app.add_exception_handler(RequestValidationError, bad_parameter)
    app.add_exception_handler(404, no_route)
    app.add_exception_handler(405, bad_method)
    app.add_exception_handler(Exception, internal)
