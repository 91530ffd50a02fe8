"""The request context: a pure ASGI middleware around the whole app."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from arka import observability as OBS
from arka.interfaces.http.errors import PayloadTooLarge, RequestTimeout, error_response

access_log = logging.getLogger("arka.access")


class RequestContext:
    """A request id on every request and response (with the rate limit headers the guard
    left), 413 for a declared body over the limit before anything is read, 408 when the
    whole body has not arrived `read_timeout` seconds after the request started, and one
    access log line. (Headers and slow readers are bounded by `protocol`.)"""

    def __init__(self, app: Any, limit: int, read_timeout: float = 30.0):
        self.app = app
        self.limit = limit
        self.read_timeout = read_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:128]
        request_id = given or "req_" + uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            refusal = PayloadTooLarge(f"request body of {int(length)} bytes exceeds "
                                      f"max_request_size ({self.limit})")
            response = error_response(refusal, request_id, {"X-Request-ID": request_id})
            await response(scope, receive, send)
            return

        status = [500]

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                extra = [(b"x-request-id", request_id.encode("latin-1"))]
                for k, v in (state.get("ratelimit_headers") or {}).items():
                    extra.append((k.lower().encode("latin-1"), v.encode("latin-1")))
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        body_done = False
        deadline = asyncio.get_running_loop().time() + self.read_timeout

        async def receive_in_time() -> Any:
            # one deadline for the whole body, counted from the request's start: a body
            # dripped a byte at a time cannot renew it (a part that is already buffered
            # is still taken, even past the deadline)
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(f"the request body did not arrive within read_timeout "
                                     f"({self.read_timeout:g} s)") from None
            body_done = message.get("type") != "http.request" or not message.get("more_body")
            return message

        token = OBS.REQUEST_ID.set(request_id)
        started = time.perf_counter()
        method, path = scope.get("method", ""), scope.get("path", "")
        try:
            await self.app(scope, receive_in_time, send_with_id)  # inside the request span
        finally:
            if access_log.isEnabledFor(logging.INFO) and not path.startswith("/health"):
                access_log.info("%s %s %s", method, path, status[0], extra={
                    "method": method, "path": path, "status": status[0],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
            OBS.REQUEST_ID.reset(token)
