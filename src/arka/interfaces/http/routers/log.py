"""The transparency log: signed tree head, inclusion and consistency proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app.core import Core
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, QueryText, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/log", tags=["log"])

MAX_SIZE = 2**63 - 1  # tree sizes are BIGINT


@router.get("/sth", response_model=None, responses=S.ok(S.TreeHead))
async def log_sth(p: Annotated[Principal, need("log:read")], core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.transparency.sth))


def _inclusion(core: Core, tenant: str, evaluation_id: str, tree_size: int | None
               ) -> dict[str, Any]:
    core.evaluations.store.get(tenant, evaluation_id)  # another tenant's: NOT_FOUND
    return core.transparency.inclusion(evaluation_id, tree_size)


@router.get("/inclusion", response_model=None, responses=S.ok(S.Inclusion))
async def log_inclusion(
        p: Annotated[Principal, need("proofs:read")], core: CoreDep,
        evaluation_id: Annotated[str, QueryText(min_length=1)],
        tree_size: Annotated[int | None, Query(ge=0, le=MAX_SIZE, description="A published "
                                               "head's size; default: the latest")] = None,
) -> Response:
    return S.reply(await run_in_threadpool(_inclusion, core, p.tenant, evaluation_id,
                                           tree_size))


@router.get("/consistency", response_model=None, responses=S.ok(S.Consistency))
async def log_consistency(p: Annotated[Principal, need("log:read")], core: CoreDep,
                          first: Annotated[int, Query(ge=1, le=MAX_SIZE)],
                          second: Annotated[int, Query(ge=1, le=MAX_SIZE)]) -> Response:
    return S.reply(await run_in_threadpool(core.transparency.consistency, first, second))
