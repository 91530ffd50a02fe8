"""Leader/follower batching: callers that arrive while a batch is being processed wait,
and the next of them processes everything queued by then in one go (one transaction,
one RPC). The lead passes from caller to caller, so no thread serves others forever.

Used by the store's group commit and the remote RTVM client."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Waiter(Generic[T, R]):
    __slots__ = ("item", "event", "lead", "result", "error")

    def __init__(self, item: T):
        self.item = item
        self.event = threading.Event()
        self.lead = False
        self.result: R | None = None
        self.error: BaseException | None = None


class Batcher(Generic[T, R]):
    """`submit(item)` returns `process(batch)[i]` for the batch the item ended up in.
    When `process` raises, every caller of that batch gets the exception."""

    def __init__(self, process: Callable[[list[T]], list[R]], max_batch: int = 256):
        self.process = process
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter[T, R]] = []
        self._busy = False

    def submit(self, item: T) -> R:
        me: _Waiter[T, R] = _Waiter(item)
        with self._lock:
            self._queue.append(me)
            if not self._busy:
                self._busy = me.lead = True
        if not me.lead:
            me.event.wait()
            if not me.lead:  # processed in another leader's batch
                return self._outcome(me)
        with self._lock:  # the leader is always at the head of the queue
            batch = self._queue[:self.max_batch]
            del self._queue[:self.max_batch]
        try:
            results = self.process([w.item for w in batch])
            for w, r in zip(batch, results, strict=True):
                w.result = r
        except BaseException as exc:  # every caller of the batch learns of the failure
            for w in batch:
                w.error = exc
        for w in batch:
            if w is not me:
                w.event.set()
        with self._lock:
            if self._queue:
                nxt = self._queue[0]
                nxt.lead = True
                nxt.event.set()
            else:
                self._busy = False
        return self._outcome(me)

    @staticmethod
    def _outcome(w: _Waiter[T, R]) -> R:
        if w.error is not None:
            raise w.error
        return w.result  # type: ignore[return-value]
