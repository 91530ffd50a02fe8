"""API keys of the caller's tenant: create (the key is shown once; for the caller's person
or a named `owner`), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app.requests import ApiKeyRequest
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PathText, actor, datetimes, json_body, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/apikeys", tags=["apikeys"])


@router.post("", status_code=201, response_model=None,
             responses={201: {"model": S.ApiKeyCreated, "description": "Created"}},
             openapi_extra=S.body(ApiKeyRequest))
async def create_api_key(request: Request, p: Annotated[Principal, need("keys:manage")],
                         core: CoreDep) -> Response:
    body = await json_body(request, ApiKeyRequest)
    expires_at = datetimes(body.expiry, "expires_at")
    view = await run_in_threadpool(core.apikeys.create, p.tenant, body.name, body.roles,
                                   expires_at, actor(request, p), granted=p.permissions,
                                   owner=body.owner)
    return S.reply(view, 201)


@router.get("", response_model=None, responses=S.ok(S.ApiKeyList))
async def list_api_keys(p: Annotated[Principal, need("keys:manage")],
                        core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.apikeys.list, p.tenant))


@router.delete("/{key_id}", response_model=None, responses=S.ok(S.ApiKeyView))
async def revoke_api_key(key_id: PathText, request: Request,
                         p: Annotated[Principal, need("keys:manage")],
                         core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.apikeys.revoke, p.tenant, key_id,
                                           actor(request, p)))
