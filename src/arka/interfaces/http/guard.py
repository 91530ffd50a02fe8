"""The API's gate: who is calling (authentication), may they (permissions of their roles),
how often (rate limits), and an audit event for every refusal.

Order on each protected request: authenticate; on failure charge the caller's address
bucket, audit `auth.failure` (in the `_system` chain) and answer 401. Then charge the
credential's bucket (429 when empty), then check the permission (403 and an
`access.denied` event in the caller's tenant chain).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from arka.app.core import Core
from arka.interfaces.http.errors import HttpError
from arka.security.auth import AuthError
from arka.security.principal import ROLES, SYSTEM_TENANT, Actor, Principal
from arka.security.ratelimit import Limiter, LocalLimiter, RedisLimiter, Verdict

log = logging.getLogger("arka.auth")

DEV_PRINCIPAL = Principal("default", "dev:no-auth", frozenset(ROLES), "none")


class Refused(HttpError):
    """A refusal at the gate: its API code (AUTHENTICATION_ERROR, AUTHORIZATION_ERROR or
    RATE_LIMITED) set per instance, response headers, and the audit event to record."""

    def __init__(self, api_code: str, message: str, headers: dict[str, str] | None = None,
                 audit: tuple[str, str, str, str, dict[str, Any]] | None = None):
        super().__init__(message, headers)
        self.api_code = api_code
        self.code = api_code
        self.audit = audit  # (tenant, action, resource, actor, details) to record


def make_limiter(core: Core) -> Limiter | None:
    s = core.settings
    if not s.rate_limit.enabled:
        return None
    if s.redis_url:
        import redis
        client = redis.Redis.from_url(s.redis_url, max_connections=s.redis_max_connections,
                                      socket_timeout=2, socket_connect_timeout=2)
        return RedisLimiter(s.rate_limit, client)
    return LocalLimiter(s.rate_limit)


class Guard:
    def __init__(self, core: Core, limiter: Limiter | None = None):
        self.core = core
        self.enabled = core.settings.auth.enabled
        self.auth = core.auth
        self.limiter = limiter if limiter is not None else make_limiter(core)

    def _limit(self, request: Request, bucket: str, tenant: str | None = None) -> None:
        """Take a token from the bucket (and from the tenant's shared bucket when one is
        configured); the headers describe the tighter of the two."""
        if self.limiter is None:
            return
        s = self.limiter.settings
        verdict: Verdict = self.limiter.hit(bucket)
        what = f"{s.requests_per_minute} requests per minute, burst {s.burst}"
        shared = s.for_tenant()
        if verdict.allowed and tenant is not None and shared is not None:
            tenant_verdict = self.limiter.hit("tenant:" + tenant, shared)
            if not tenant_verdict.allowed or tenant_verdict.remaining < verdict.remaining:
                verdict = tenant_verdict
                what = (f"{shared.requests_per_minute} requests per minute, burst "
                        f"{shared.burst}, for the whole tenant")
        request.state.ratelimit_headers = verdict.headers()
        if not verdict.allowed:
            raise Refused("RATE_LIMITED", f"rate limit exceeded: {what}; retry after "
                          f"{verdict.retry_after} s")  # headers: from request.state

    def _audit(self, request: Request, tenant: str, action: str, resource: str, actor: str,
               details: dict[str, Any]) -> None:
        try:
            self.core.audit.record(tenant, action, resource, outcome="denied",
                                   actor=Actor(actor, getattr(request.state, "request_id",
                                                              None)), details=details)
        except Exception:  # noqa: BLE001 - the refusal stands even if auditing failed
            log.exception("could not write the audit event for a refused request")

    async def public(self, request: Request) -> None:
        """Endpoints without credentials are still rate-limited per client address."""
        await run_in_threadpool(self._limit, request, "ip:" + _client(request))

    async def check(self, request: Request, permission: str | None) -> Principal:
        """The authenticated principal, who must hold `permission` (None: any credential)."""
        if not self.enabled:
            request.state.principal = DEV_PRINCIPAL
            return DEV_PRINCIPAL
        h = request.headers
        try:
            if isinstance(self.limiter, RedisLimiter) or \
                    self.auth.needs_io(h.get("authorization"), h.get("x-api-key")):
                return await run_in_threadpool(self._check, request, permission)
            return self._check(request, permission)  # memory only: no thread hop
        except Refused as refusal:
            if refusal.audit is not None:
                await run_in_threadpool(self._audit, request, *refusal.audit)
            raise

    def _check(self, request: Request, permission: str | None) -> Principal:
        h = request.headers
        try:
            principal = self.auth.authenticate(h.get("authorization"), h.get("x-api-key"))
        except AuthError as exc:
            self._limit(request, "ip:" + _client(request))
            raise Refused("AUTHENTICATION_ERROR", exc.message,
                          {"WWW-Authenticate": 'Bearer realm="arka"'},
                          audit=(SYSTEM_TENANT, "auth.failure",
                                 f"{request.method} {request.url.path}", "anonymous",
                                 {"reason": exc.message, "client": _client(request)})
                          ) from None
        request.state.principal = principal
        self._limit(request, principal.bucket, principal.tenant)
        if permission is not None and not principal.can(permission):
            roles = ", ".join(sorted(principal.roles)) or "none"
            raise Refused("AUTHORIZATION_ERROR", f"this needs the {permission} permission, "
                          f"which your roles ({roles}) do not grant",
                          audit=(principal.tenant, "access.denied",
                                 f"{request.method} {request.url.path}", principal.subject,
                                 {"permission": permission,
                                  "roles": sorted(principal.roles)}))
        return principal


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
