"""ARKA Core HTTP API (`docs/api.md`). Thin: each router parses and authorizes, calls
one application service of `Core` and answers its result; `errors` maps every error to
its status.

    middleware   request id, body size and read timeout, access log
    deps         Core, credentials (guard), bodies, pagination
    errors       the exception handlers
    schemas      response models and the OpenAPI publication of request models
    routers/     one module per resource
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from arka import observability as OBS
from arka.app.core import Core
from arka.interfaces.http import dashboard, errors, routers
from arka.interfaces.http import schemas as S
from arka.interfaces.http.guard import Guard
from arka.interfaces.http.middleware import RequestContext
from arka.interfaces.http.routers import metrics
from arka.version import __version__

log = logging.getLogger("arka.api")


# While a background job keeps failing (a database outage), how often it is logged again.
REPEAT_LOG_SECONDS = 60.0
CASE_METRICS_SECONDS = 15.0  # how often the case gauges are refreshed from the database


async def _every(interval: float, job: Callable[[], Any], what: str) -> None:
    """Run `job` every `interval` seconds. The first failure is logged with its traceback;
    while it keeps failing, one line per REPEAT_LOG_SECONDS; recovery is logged once."""
    failing_since: float | None = None
    last_logged = 0.0
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(job)
        except Exception as exc:  # noqa: BLE001 - keep going; the failure is logged
            now = time.monotonic()
            if failing_since is None:
                failing_since = last_logged = now
                log.exception("background %s failed", what)
            elif now - last_logged >= REPEAT_LOG_SECONDS:
                last_logged = now
                log.warning("background %s still failing after %.0f s: %s", what,
                            now - failing_since, exc)
        else:
            if failing_since is not None:
                log.warning("background %s recovered after %.0f s", what,
                            time.monotonic() - failing_since)
                failing_since = None


def create_app(core: Core, sth_interval: float = 1.0, guard: Guard | None = None,
               delivery: bool = True) -> FastAPI:
    """The ARKA Core app. A background task signs a new tree head every `sth_interval`
    seconds when the log has grown (0 disables it; heads are also made on demand), the
    witness cosigning every `transparency.cosign_interval` when witnesses are configured,
    the anchoring worker runs when chains are configured, and the delivery worker (outbox
    dispatch, cases, webhooks, e-mail) every `webhooks.poll_interval` unless `delivery`
    is False. Every endpoint but health,
    metrics, the OpenAPI document and the public signing keys needs a credential with
    the endpoint's permission (see `arka.interfaces.http.guard`)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if sth_interval > 0:
            tasks.append(asyncio.create_task(_every(sth_interval, core.transparency.sth,
                                                    "tree head")))
        if core.witnessing is not None:
            tasks.append(asyncio.create_task(_every(
                core.settings.transparency.cosign_interval, core.witnessing.run_once,
                "witness cosigning")))
        if core.anchoring is not None:
            tasks.append(asyncio.create_task(_every(core.settings.anchor_poll_seconds,
                                                    core.anchoring.run_once, "anchoring")))
        if delivery:
            tasks.append(asyncio.create_task(_every(core.settings.webhooks.poll_interval,
                                                    core.delivery.run_once, "delivery")))
            tasks.append(asyncio.create_task(_every(CASE_METRICS_SECONDS,
                                                    core.cases.refresh_metrics,
                                                    "case metrics")))
        try:
            await run_in_threadpool(core.record_config)
        except Exception:  # noqa: BLE001 - e.g. not migrated yet; the startup probe says so
            log.warning("could not record the configuration in the audit log")
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(core.close)

    app = FastAPI(title="ARKA Core", version=__version__, openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None, responses=S.ERROR_RESPONSES,
                  lifespan=lifespan, telemetry=OBS.fastapi_telemetry())
    app.state.core = core
    app.state.guard = guard or Guard(core)

    if core.settings.cors:
        app.add_middleware(CORSMiddleware, **core.settings.cors)
    app.add_middleware(RequestContext, limit=core.settings.max_request_size,
                       read_timeout=core.settings.read_timeout)
    errors.install(app)

    for router in routers.ALL:
        app.include_router(router)
    if core.settings.metrics_enabled and core.settings.metrics_port is None:
        app.include_router(metrics.router(core.settings.metrics_path))
    if core.settings.dashboard:
        if dashboard.available():
            dashboard.mount(app)
        else:  # a source checkout whose ui/ was never built
            log.warning("the dashboard is not built (run `npm ci && npm run build` in ui/); "
                        "/ui/ is off")

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = S.complete_openapi(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
