"""Sanctions screening outside rules (query by example) and the allowlist of
false-positive decisions (subject is not entity), with four-eyes review."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from arka.app.requests import (
    AllowlistRequest,
    ReviewRequest,
    ScreenBatchRequest,
    ScreenRequest,
    parse,
)
from arka.base.errors import InputError
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, PathText, QueryText, actor, json_body, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["screening"])

Status = Literal["pending", "active", "rejected", "revoked"]


@router.post("/screen", response_model=None, responses=S.ok(S.ScreenResultView),
             openapi_extra=S.body(ScreenRequest))
async def screen(request: Request, p: Annotated[Principal, need("screening:run")],
                 core: CoreDep) -> Response:
    """One query (`{"name": ...}`), or several queries by example in FollowTheMoney
    form (`{"queries": {"q1": {"schema", "properties"}}}`)."""
    raw = await json_body(request, _Any)
    if "queries" in raw.data:
        batch = parse(ScreenBatchRequest, raw.data)
        return S.reply(await run_in_threadpool(core.screening.screen_batch, p.tenant, batch))
    body = parse(ScreenRequest, raw.data)
    return S.reply(await run_in_threadpool(core.screening.screen, p.tenant, body))


class _Any(BaseModel):
    """Any JSON object, read with exact decimals; parsed by shape above."""

    model_config = ConfigDict(extra="allow")

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


@router.post("/screening/allowlist", status_code=201, response_model=None,
             responses=S.created(S.AllowlistEntryView),
             openapi_extra=S.body(AllowlistRequest))
async def add_entry(request: Request, p: Annotated[Principal, need("screening:write")],
                    core: CoreDep) -> Response:
    body = await json_body(request, AllowlistRequest)
    return S.reply(await run_in_threadpool(core.screening.add, p.tenant, body,
                                           actor(request, p)), 201)


@router.get("/screening/allowlist", response_model=None, responses=S.ok(S.AllowlistList))
async def list_entries(p: Annotated[Principal, need("screening:read")], core: CoreDep,
                       page: PageDep,
                       subject_id: Annotated[str | None, QueryText(min_length=1)] = None,
                       entity_id: Annotated[str | None, QueryText(min_length=1)] = None,
                       status: Annotated[Status | None, Query()] = None) -> Response:
    return S.reply(await run_in_threadpool(
        lambda: core.screening.list(p.tenant, subject_id=subject_id, entity_id=entity_id,
                                    status=status, page=page.page, per_page=page.per_page)))


@router.get("/screening/allowlist/{entry_id}", response_model=None,
            responses=S.ok(S.AllowlistEntryView))
async def get_entry(entry_id: PathText, p: Annotated[Principal, need("screening:read")],
                    core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.screening.get, p.tenant, entry_id))


async def _note(request: Request) -> str | None:
    try:
        body = await json_body(request, ReviewRequest, optional=True)
    except InputError as exc:
        raise InputError('the body may be empty or {"note": "..."}',
                         details=exc.details) from None
    return body.note or None


@router.post("/screening/allowlist/{entry_id}/approve", response_model=None,
             responses=S.ok(S.AllowlistEntryView))
async def approve_entry(entry_id: PathText, request: Request,
                        p: Annotated[Principal, need("screening:approve")],
                        core: CoreDep) -> Response:
    note = await _note(request)
    return S.reply(await run_in_threadpool(core.screening.review, p.tenant, entry_id, True,
                                           actor(request, p), note))


@router.post("/screening/allowlist/{entry_id}/reject", response_model=None,
             responses=S.ok(S.AllowlistEntryView))
async def reject_entry(entry_id: PathText, request: Request,
                       p: Annotated[Principal, need("screening:approve")],
                       core: CoreDep) -> Response:
    note = await _note(request)
    return S.reply(await run_in_threadpool(core.screening.review, p.tenant, entry_id, False,
                                           actor(request, p), note))


@router.post("/screening/allowlist/{entry_id}/revoke", response_model=None,
             responses=S.ok(S.AllowlistEntryView))
async def revoke_entry(entry_id: PathText, request: Request,
                       p: Annotated[Principal, need("screening:write")],
                       core: CoreDep) -> Response:
    note = await _note(request)
    return S.reply(await run_in_threadpool(core.screening.revoke, p.tenant, entry_id,
                                           actor(request, p), note))
