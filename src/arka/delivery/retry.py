"""When to try a delivery again: exponential backoff with jitter, and the circuit that
holds back deliveries to an endpoint that keeps failing. Pure arithmetic, no I/O."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

CIRCUIT_MAX = 3600.0  # seconds an open circuit holds at most


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first attempt).

    Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))], so many deliveries that
    failed together do not retry together; but never below `base / 2` (nor above the
    ceiling), so a retry is never immediate. Attempt 0 or less waits 0."""
    if attempt < 1:
        return 0.0
    if base < 0 or cap < 0:
        raise ValueError(f"backoff base ({base}) and cap ({cap}) must not be negative")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    floor = min(base / 2, ceiling)
    draw = (rng or random).uniform(0.0, ceiling)
    return max(floor, draw)


class Circuit:
    """The circuit breaker of one endpoint: after `threshold` consecutive failures it opens
    for `seconds`; every further `threshold` failures double that, up to one hour."""

    @staticmethod
    def after_failure(failures: int, threshold: int, seconds: float,
                      now: datetime) -> datetime | None:
        """The time the circuit stays open until, given the count of consecutive failures
        including this one; None while the count is below the threshold (or the breaker
        is switched off with a threshold below 1)."""
        if threshold < 1 or failures < threshold:
            return None
        doublings = min((failures - threshold) // threshold, 32)
        hold = min(CIRCUIT_MAX, max(0.0, seconds) * 2.0 ** doublings)
        return now + timedelta(seconds=hold)
