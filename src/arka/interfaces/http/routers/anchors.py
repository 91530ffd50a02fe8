"""Anchors of tree heads on chains, with each configured chain's health."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.base.errors import NotFound
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, PathText, QueryText, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/anchors", tags=["anchors"])

Status = Literal["pending", "submitted", "confirmed", "failed"]


@router.get("", response_model=None, responses=S.ok(S.AnchorList))
async def anchors(p: Annotated[Principal, need("log:read")], core: CoreDep, page: PageDep,
                  chain: Annotated[str | None, QueryText(64)] = None,
                  status: Annotated[Status | None, Query()] = None) -> Response:
    return S.reply(await run_in_threadpool(core.anchors.list, page.page, page.per_page,
                                           chain, status))


@router.get("/{anchor_id}", response_model=None, responses=S.ok(S.AnchorView))
async def anchor(anchor_id: PathText, p: Annotated[Principal, need("log:read")],
                 core: CoreDep) -> Response:
    # str.isdigit() takes '²'; ids are 32-bit integers in the database
    if not re.fullmatch(r"[0-9]{1,10}", anchor_id) or int(anchor_id) > 2**31 - 1:
        raise NotFound(f"anchor {anchor_id} not found")
    return S.reply(await run_in_threadpool(core.anchors.get, int(anchor_id)))
