"""Rate limits: a token bucket per credential (or per client address before one is known).

A bucket holds at most `burst` tokens and refills at `requests_per_minute / 60` per second;
each request takes one token or is refused (429). Headers on every limited response:

- `X-RateLimit-Limit`: requests_per_minute;
- `X-RateLimit-Remaining`: whole tokens left now (requests that would pass at once);
- `X-RateLimit-Reset`: seconds until the bucket is full again;
- `Retry-After` (on 429): seconds until the next token.

The same arithmetic runs in process (`LocalLimiter`) or in Redis (`RedisLimiter`, one Lua
script using the Redis server's clock, so all workers and replicas share buckets). If
Redis cannot be reached the request is let through and the failure logged: the limit
protects capacity, it is not a compliance control.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("arka.ratelimit")


@dataclass(frozen=True)
class RateLimitSettings:
    enabled: bool = True
    requests_per_minute: int = 1000
    burst: int = 100
    # optional: one more bucket shared by all credentials of a tenant
    tenant_requests_per_minute: int | None = None
    tenant_burst: int | None = None

    def for_tenant(self) -> RateLimitSettings | None:
        if self.tenant_requests_per_minute is None:
            return None
        return RateLimitSettings(True, self.tenant_requests_per_minute,
                                 self.tenant_burst or self.burst)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until full
    retry_after: int  # seconds until one token (0 when allowed)

    def headers(self) -> dict[str, str]:
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
               "X-RateLimit-Reset": str(self.reset)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class Limiter(Protocol):
    settings: RateLimitSettings

    def hit(self, bucket: str, limits: RateLimitSettings | None = None) -> Verdict: ...


def _verdict(s: RateLimitSettings, allowed: bool, tokens: float) -> Verdict:
    rate = s.requests_per_minute / 60.0
    return Verdict(allowed, s.requests_per_minute, int(tokens),
                   math.ceil((s.burst - tokens) / rate),
                   0 if allowed else max(1, math.ceil((1 - tokens) / rate)))


def take(tokens: float, elapsed: float, s: RateLimitSettings) -> tuple[bool, float]:
    """The bucket arithmetic: refill for `elapsed` seconds, then take one token."""
    tokens = min(float(s.burst), tokens + max(0.0, elapsed) * s.requests_per_minute / 60.0)
    if tokens >= 1.0:
        return True, tokens - 1.0
    return False, tokens


class LocalLimiter:
    def __init__(self, settings: RateLimitSettings, clock: Any = time.monotonic):
        self.settings = settings
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, limits: RateLimitSettings | None = None) -> Verdict:
        s = limits or self.settings
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(bucket, (float(s.burst), now))
            allowed, tokens = take(tokens, now - at, s)
            self._buckets[bucket] = (tokens, now)
            if len(self._buckets) > 100_000:  # forget full buckets
                full = [k for k, (t, a) in self._buckets.items()
                        if t + (now - a) * s.requests_per_minute / 60 >= s.burst]
                for k in full:
                    del self._buckets[k]
        return _verdict(s, allowed, tokens)


# KEYS[1] bucket; ARGV rate (tokens/s), burst. Returns {allowed, tokens as a string}.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisLimiter:
    def __init__(self, settings: RateLimitSettings, client: Any, prefix: str = "arka:rl:"):
        self.settings = settings
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_LUA)
        self._warned = 0.0

    def hit(self, bucket: str, limits: RateLimitSettings | None = None) -> Verdict:
        s = limits or self.settings
        try:
            allowed, tokens = self._script(keys=[self.prefix + bucket],
                                           args=[s.requests_per_minute / 60.0, s.burst])
        except Exception as exc:  # noqa: BLE001 - fail open, loudly
            now = time.monotonic()
            if now - self._warned > 10:
                self._warned = now
                log.error("rate limiter: Redis unavailable (%s); requests pass unlimited",
                          type(exc).__name__)
            return Verdict(True, s.requests_per_minute, s.burst, 0, 0)
        return _verdict(s, bool(int(allowed)), float(tokens))
