"""uvicorn's HTTP/1.1 protocol with the two deadlines uvicorn itself does not have.

- Headers: a request's head (request line and headers) must be complete within
  `read_timeout` of its first byte (or of the connection, for the first request). A
  client that connects and sends nothing, or drips its headers, is answered 408 and
  disconnected instead of holding the connection for ever. (The body's deadline is kept
  by `middleware.RequestContext`, which can still answer with the API's error body.)
- Writes: when the client stops reading, the transport's buffer fills and uvicorn waits
  for it to drain. If it has not drained within `write_timeout`, the connection is
  aborted: the response is dropped and the request's task ends, so a slow or stalled
  reader cannot pin the worker or its memory.

`arka-cli serve` runs uvicorn with `http=TimedHTTP` after `configure(settings)`; the
workers of `--workers N` configure it in `asgi.app_from_env`, before they listen.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

try:  # the implementation uvicorn's "auto" picks
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - without httptools
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

log = logging.getLogger("arka.api")


def _timeout_answer(seconds: float) -> bytes:
    body = json.dumps({"error": {
        "code": "REQUEST_TIMEOUT", "message": f"the request headers did not arrive within "
        f"read_timeout ({seconds:g} s)", "details": [], "request_id": None}}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() +
            b"\r\n\r\n" + body)


class TimedHTTP(_Base):
    header_timeout: float = 30.0
    write_timeout: float = 30.0

    @classmethod
    def configure(cls, header_timeout: float, write_timeout: float) -> type[TimedHTTP]:
        cls.header_timeout = header_timeout
        cls.write_timeout = write_timeout
        return cls

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._armed_cycle: Any = None
        super().connection_made(transport)
        self._arm_headers()

    # ------------------------------------------------------------ headers
    def _between_requests(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _arm_headers(self) -> None:
        self._armed_cycle = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_headers(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm_headers()  # the first byte of the next request
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._armed_cycle:
            self._disarm_headers()  # its head is complete: a new cycle runs

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.cycle is not self._armed_cycle or self.transport.is_closing():
            return
        if self._between_requests():  # nothing of an answer was sent on it yet
            self.transport.write(_timeout_answer(self.header_timeout))
        self.transport.close()

    # ------------------------------------------------------------ writes
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_timeout, self._write_late)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_late(self) -> None:
        self._write_timer = None  # still paused: resume_writing would have cancelled it
        log.warning("aborted a response the client did not read within write_timeout "
                    "(%g s)", self.write_timeout)
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_headers()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)
