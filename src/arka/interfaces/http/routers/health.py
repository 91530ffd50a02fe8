"""Probes, without credentials: live, ready (store, RTVM when remote, object storage),
startup (migrations applied, rules loaded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep

router = APIRouter(prefix="/health", tags=["health"])

PROBE: dict[int | str, dict[str, Any]] = {200: {"model": S.Health, "description": "OK"},
         503: {"model": S.Health, "description": "Not (yet) able to serve"}}


@router.get("/live", response_model=None, responses=S.ok(S.Health))
async def live() -> Response:
    return S.reply({"status": "ok"})


@router.get("/ready", response_model=None, responses=PROBE)
async def ready(core: CoreDep) -> Response:
    checks = {"store": await run_in_threadpool(core.store.ping),
              "rtvm": True if not core.settings.rtvm_host else
              await run_in_threadpool(core.executor.ping)}
    if core.vault.objects is not None:
        checks["object_storage"] = await run_in_threadpool(core.vault.objects.ping)
    status = 200 if all(checks.values()) else 503
    return S.reply({"status": "ok" if status == 200 else "unavailable", "checks": checks},
                   status)


@router.get("/startup", response_model=None, responses=PROBE)
async def startup(core: CoreDep) -> Response:
    try:
        migrated = bool((await run_in_threadpool(core.store.status))["up_to_date"])
        if migrated and not core.rules_loaded:
            await run_in_threadpool(core.warm)
    except Exception:  # noqa: BLE001 - a probe reports
        migrated = False
    checks = {"migrations": migrated, "rules_loaded": core.rules_loaded}
    status = 200 if all(checks.values()) else 503
    return S.reply({"status": "ok" if status == 200 else "starting", "checks": checks},
                   status)
