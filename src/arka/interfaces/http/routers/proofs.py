"""Verification of a stored evaluation's trust proof."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PathText, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/proofs", tags=["proofs"])


@router.post("/{evaluation_id}/verify", response_model=None, responses=S.ok(S.Verification))
async def verify(evaluation_id: PathText, p: Annotated[Principal, need("proofs:read")],
                 core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.evaluations.verify, p.tenant, evaluation_id))
