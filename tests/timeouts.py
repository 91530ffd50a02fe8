"""A hard time bound for one test example.

A Hypothesis `deadline` only judges examples that finish; `within(seconds)` interrupts
one that does not (SIGALRM, so only in the main thread, and only between Python bytecodes),
failing the test with `ExampleTimeout` instead of hanging the run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class ExampleTimeout(AssertionError):
    """The example ran past its time bound."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; the Hypothesis deadline still applies
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ExampleTimeout(f"example still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
