"""Rate limits: a token bucket per credential (or per client address before one is known).

A bucket holds at most `burst` tokens and refills at `requests_per_minute / 60` per second;
each request takes one token or is refused (429). Headers on every limited response:

- `X-RateLimit-Limit`: requests_per_minute;
- `X-RateLimit-Remaining`: whole tokens left now (requests that would pass at once);
- `X-RateLimit-Reset`: seconds until the bucket is full again;
- `Retry-After` (on 429): seconds until the next token.

The same arithmetic runs in process (`LocalLimiter`) or in Redis (`RedisLimiter`, one Lua
script using the Redis server's clock, so all workers and replicas share buckets).

When Redis cannot be reached, `on_redis_error` decides (`api.rate_limiting.on_redis_error`):

- `local` (default): each worker process limits with its own in-process buckets (the
  same limits, so N workers let through at most N times the configured rate);
- `allow`: requests pass unlimited;
- `deny`: requests are refused with 503 SERVICE_UNAVAILABLE (Retry-After).

Every decision made without Redis counts in `pact_rate_limit_backend_errors_total{mode}`
and the outage is logged once when it starts and once when Redis answers again. After a
failure Redis is not asked again for `REDIS_RETRY_SECONDS`, so an unreachable Redis does
not cost every request a connection timeout; the first request after that tries it again,
and on success the shared buckets are used again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from arka.base.errors import ServiceUnavailable
from arka.observability import metrics as M

log = logging.getLogger("arka.ratelimit")

OnRedisError = Literal["local", "allow", "deny"]
ON_REDIS_ERROR: tuple[str, ...] = ("local", "allow", "deny")
REDIS_RETRY_SECONDS = 2.0  # after a Redis failure, the fallback decides for this long


class RateLimiterUnavailable(ServiceUnavailable):
    """`on_redis_error: deny` and Redis is unreachable."""

    code = "E_RATE_LIMIT_UNAVAILABLE"


@dataclass(frozen=True)
class RateLimitSettings:
    enabled: bool = True
    requests_per_minute: int = 1000
    burst: int = 100
    # optional: one more bucket shared by all credentials of a tenant
    tenant_requests_per_minute: int | None = None
    tenant_burst: int | None = None
    on_redis_error: OnRedisError = "local"  # what decides while Redis is unreachable

    def for_tenant(self) -> RateLimitSettings | None:
        if self.tenant_requests_per_minute is None:
            return None
        return RateLimitSettings(True, self.tenant_requests_per_minute,
                                 self.tenant_burst or self.burst,
                                 on_redis_error=self.on_redis_error)


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
    def __init__(self, settings: RateLimitSettings, client: Any, prefix: str = "arka:rl:",
                 clock: Any = time.monotonic):
        self.settings = settings
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_LUA)
        self._clock = clock
        self._down_until: float | None = None  # set while Redis is taken to be down
        self.fallback = LocalLimiter(settings, clock)

    def hit(self, bucket: str, limits: RateLimitSettings | None = None) -> Verdict:
        s = limits or self.settings
        down_until = self._down_until
        if down_until is None or self._clock() >= down_until:
            try:
                allowed, tokens = self._script(keys=[self.prefix + bucket],
                                               args=[s.requests_per_minute / 60.0, s.burst])
            except Exception as exc:  # noqa: BLE001 - any failure: the fallback decides
                if down_until is None:
                    log.error("rate limiter: Redis unavailable (%s: %s); on_redis_error=%s "
                              "decides until it answers again", type(exc).__name__,
                              str(exc)[:200], self.settings.on_redis_error)
                self._down_until = self._clock() + REDIS_RETRY_SECONDS
            else:
                if down_until is not None:
                    self._down_until = None
                    log.warning("rate limiter: Redis answers again; shared buckets in use")
                return _verdict(s, bool(int(allowed)), float(tokens))
        return self._without_redis(bucket, limits, s)

    def _without_redis(self, bucket: str, limits: RateLimitSettings | None,
                       s: RateLimitSettings) -> Verdict:
        mode = self.settings.on_redis_error
        M.RATE_LIMIT_BACKEND_ERRORS.labels(mode).inc()
        if mode == "allow":
            return Verdict(True, s.requests_per_minute, s.burst, 0, 0)
        if mode == "deny":
            raise RateLimiterUnavailable(
                "the rate limiter cannot reach Redis and is configured to refuse requests "
                "then (api.rate_limiting.on_redis_error: deny); retry later",
                retry_after=math.ceil(REDIS_RETRY_SECONDS))
        return self.fallback.hit(bucket, limits)
