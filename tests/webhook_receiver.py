"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that checks every request
with its own implementation of the Standard Webhooks signature (written from the
specification, not with ARKA's code), de-duplicates by `webhook-id` as receivers must, and
answers with the status the test sets.

    with Receiver(secret) as rx:
        ... deliveries to rx.url ...
        rx.wait(3)            # 3 distinct events
        rx.events             # the CloudEvents, once each, in arrival order
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` + base64(HMAC-SHA256(base64-decoded secret after `whsec_`, "id.ts.body"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Receiver:
    def __init__(self, secrets: list[str] | str | None = None, status: int = 200):
        self.secrets = [secrets] if isinstance(secrets, str) else list(secrets or [])
        self.status = status
        self.requests: list[dict[str, Any]] = []  # every request, repeats included
        self.seen: dict[str, dict[str, Any]] = {}  # webhook-id -> the CloudEvent
        self.order: list[str] = []
        self.bad: list[str] = []  # why a request did not verify
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                receiver._receive(dict(self.headers.items()), body)
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # concurrent deliveries must not overflow the backlog
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _receive(self, headers: dict[str, str], body: bytes) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            self.requests.append({"headers": h, "body": body})
            if self.status >= 300:
                return
            problem = self._verify(h, body)
            if problem:
                self.bad.append(problem)
                return
            msg_id = h["webhook-id"]
            if msg_id not in self.seen:  # at-least-once delivery: de-duplicate
                self.seen[msg_id] = json.loads(body)
                self.order.append(msg_id)

    def _verify(self, h: dict[str, str], body: bytes) -> str | None:
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            if name not in h:
                return f"missing {name}"
        if abs(time.time() - int(h["webhook-timestamp"])) > 300:
            return "timestamp outside the tolerance"
        given = h["webhook-signature"].split(" ")
        for secret in self.secrets:
            want = expected_signature(secret, h["webhook-id"], h["webhook-timestamp"], body)
            if any(hmac.compare_digest(want, g) for g in given):
                return None
        return "no signature matches"

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.seen[i] for i in self.order]

    def wait(self, count: int, seconds: float = 20.0, step: Any = None) -> list[dict[str, Any]]:
        """Wait until `count` distinct events arrived (calling `step()` between looks, e.g.
        a delivery round of an in-process service)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if step is not None:
                step()
            if len(self.order) >= count:
                return self.events
            time.sleep(0.05)
        raise AssertionError(f"{len(self.order)} of {count} events arrived; bad: {self.bad}; "
                             f"requests: {len(self.requests)}")
