"""The caller's tenant's audit log: events (newest first) and chain verification."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, QueryText, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/events", response_model=None, responses=S.ok(S.AuditList))
async def audit_events(p: Annotated[Principal, need("audit:read")], core: CoreDep,
                       page: PageDep, action: Annotated[str | None, QueryText(128)] = None,
                       outcome: Annotated[Literal["success", "denied"] | None, Query()] = None
                       ) -> Response:
    return S.reply(await run_in_threadpool(core.audit.events, p.tenant, page.page,
                                           page.per_page, action, outcome))


@router.get("/verify", response_model=None, responses=S.ok(S.AuditVerification))
async def audit_verify(p: Annotated[Principal, need("audit:read")],
                       core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.audit.verify, p.tenant))
