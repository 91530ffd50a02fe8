"""Reference tables: deploy, list, a version (the latest by default) with its source."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PathText, actor, document, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/tables", tags=["tables"])


@router.post("", status_code=201, response_model=None, responses=S.created(S.TableVersionView),
             openapi_extra=S.DOCUMENT_BODY)
async def deploy_table(request: Request, p: Annotated[Principal, need("rules:write")],
                       core: CoreDep) -> Response:
    text, _ = await document(request)
    view, created = await run_in_threadpool(core.registry.deploy_table, p.tenant, text,
                                            actor(request, p))
    return S.reply(view, 201 if created else 200)


@router.get("", response_model=None, responses=S.ok(S.TableList))
async def list_tables(p: Annotated[Principal, need("rules:read")], core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.list_tables, p.tenant))


@router.get("/{name}", response_model=None, responses=S.ok(S.TableView))
async def get_table(name: PathText, p: Annotated[Principal, need("rules:read")],
                    core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.table, p.tenant, name))


@router.get("/{name}/versions/{version}", response_model=None, responses=S.ok(S.TableView))
async def get_table_version(name: PathText, version: PathText,
                            p: Annotated[Principal, need("rules:read")],
                            core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.table, p.tenant, name, version))
