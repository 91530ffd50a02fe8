"""Idempotency keys across processes and replicas.

The database is the source of truth (a key is unique per tenant there). This adds two
things: requests that carry the same key at the same moment are serialised, so the
evaluation runs once and every caller gets the one stored record instead of racing to the
unique constraint; and a key already answered is found without evaluating again. With
Redis configured both work across every process and replica (a redis-py lock per key, and
`arka:idem:<tenant>:<sha256(key)>` → {request_hash, evaluation_id} kept for `ttl`);
without it, within the process. If Redis fails, the process falls back to its own locks
and the database decides.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("arka.idempotency")

LOCK_SECONDS = 60.0


class Idempotency:
    def __init__(self, redis_url: str | None = None, ttl: int = 7 * 86400,
                 max_connections: int = 50):
        self.ttl = ttl
        self._redis: Any = None
        if redis_url:
            import redis
            self._redis = redis.Redis.from_url(redis_url, max_connections=max_connections,
                                               socket_timeout=2, socket_connect_timeout=2)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._warned = 0.0

    @staticmethod
    def _name(tenant: str, key: str) -> str:
        return f"{tenant}:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned > 10:
            self._warned = now
            log.error("idempotency: Redis unavailable (%s); using process-local locks",
                      type(exc).__name__)

    def recall(self, tenant: str, key: str) -> dict[str, str] | None:
        if self._redis is None:
            return None
        try:
            raw = self._redis.get("arka:idem:" + self._name(tenant, key))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return None
        return json.loads(raw) if raw else None

    def remember(self, tenant: str, key: str, request_hash: str | None,
                 evaluation_id: str) -> None:
        if self._redis is None:
            return
        try:
            self._redis.set("arka:idem:" + self._name(tenant, key),
                            json.dumps({"request_hash": request_hash,
                                        "evaluation_id": evaluation_id}), ex=self.ttl)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    @contextlib.contextmanager
    def claim(self, tenant: str, key: str) -> Iterator[None]:
        """Hold the key: other holders of the same key wait until this one is done."""
        name = self._name(tenant, key)
        with self._guard:
            local = self._locks.setdefault(name, threading.Lock())
        with local:
            lock = None
            if self._redis is not None:
                try:
                    lock = self._redis.lock("arka:idem-lock:" + name, timeout=LOCK_SECONDS,
                                            blocking_timeout=LOCK_SECONDS)
                    if not lock.acquire():
                        lock = None
                except Exception as exc:  # noqa: BLE001
                    self._failed(exc)
                    lock = None
            try:
                yield
            finally:
                if lock is not None:
                    with contextlib.suppress(Exception):
                        lock.release()
                with self._guard:
                    if not local.locked():
                        self._locks.pop(name, None)
