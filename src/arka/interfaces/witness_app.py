"""The witness's HTTP interface (C2SP `tlog-witness`), an ASGI app over a `Witness`:

    POST /add-checkpoint                  cosign a checkpoint (200, 400, 403, 404, 409, 422)
    GET  /<sha256 hex of origin>/checkpoint   the latest cosigned checkpoint (404: none)
    GET  /healthz                         "ok"

Bodies are bounded (`max_body`, 1 MiB: 413 beyond it); errors are plain text saying what
is wrong. The decision and the state update run in a worker thread (the SQLite state
blocks).
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from arka.trust.witness import MAX_BODY, TEXT_TYPE, Witness
from arka.trust.witness import Response as WitnessResponse

__all__ = ["create_app"]

log = logging.getLogger("arka.witness")


def _text(status: int, body: str, content_type: str = TEXT_TYPE) -> Response:
    # the content type exactly as given (no charset appended to text/x.tlog.size)
    return Response(body.encode(), status_code=status, headers={"content-type": content_type})


def _answer(r: WitnessResponse) -> Response:
    return _text(r.status, r.body, r.content_type)


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _TooLarge
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(witness: Witness, max_body: int = MAX_BODY) -> Starlette:
    """The ASGI app of `witness`; request bodies over `max_body` bytes get 413."""

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _body(request, max_body)
        except _TooLarge:
            return _text(413, f"request body is larger than {max_body} bytes\n")
        try:
            answer = await run_in_threadpool(witness.add_checkpoint, body)
        except Exception:
            log.exception("add-checkpoint failed")
            return _text(500, "the witness could not decide or record the checkpoint (see "
                         "its log)\n")
        if answer.status != 200:
            log.info("add-checkpoint: %d %s", answer.status, answer.body.strip()[:200])
        return _answer(answer)

    async def checkpoint(request: Request) -> Response:
        try:
            answer = await run_in_threadpool(witness.checkpoint,
                                             request.path_params["origin_hash"])
        except Exception:
            log.exception("checkpoint read failed")
            return _text(500, "the witness could not read its state (see its log)\n")
        return _answer(answer)

    async def healthz(request: Request) -> Response:
        return _text(200, "ok\n")

    async def not_found(request: Request, exc: Exception) -> Response:
        return _text(404, f"no such endpoint: {request.method} {request.url.path}\n")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        response = _text(405, f"{request.method} is not allowed on {request.url.path}\n")
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    return Starlette(routes=[
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
    ], exception_handlers={404: not_found, 405: not_allowed})
