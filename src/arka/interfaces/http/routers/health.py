"""Probes, without credentials: live, ready (store, RTVM when remote, object storage,
the integrity sample: newest log leaves vs their evaluations, latest tree head), startup (migrations applied, rules loaded)."""

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
    body: dict[str, Any] = {}
    if core.settings.integrity_sample and checks["store"]:
        problems = await run_in_threadpool(_integrity_problems, core)
        checks["integrity"] = not problems
        if problems:  # named, so an operator knows where
            body["problems"] = problems
    status = 200 if all(checks.values()) else 503
    return S.reply({"status": "ok" if status == 200 else "unavailable", "checks": checks,
                    **body}, status)


def _integrity_problems(core: Any) -> list[dict[str, str]]:
    """The problems of the integrity sample (newest log leaves vs their evaluations, the
    latest tree head, the row counts); cached by the service between intervals."""
    try:
        return [p.to_json() for p in core.integrity.sample().problems]
    except Exception as exc:  # noqa: BLE001 - a probe reports
        return [{"kind": "sample_failed", "where": "store",
                 "message": f"the integrity sample could not run: {type(exc).__name__}"}]


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
