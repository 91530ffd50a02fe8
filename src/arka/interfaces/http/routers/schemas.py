"""Named schemas: deploy (YAML or JSON), list, the latest version with its source, one
version. Rules name them in an input's `type:` (`Transaction`, `Transaction@1.2.0`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, PathText, actor, document, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/schemas", tags=["schemas"])


@router.post("", status_code=201, response_model=None, responses=S.created(S.SchemaVersionView),
             openapi_extra=S.DOCUMENT_BODY)
async def deploy_schema(request: Request, p: Annotated[Principal, need("rules:write")],
                        core: CoreDep) -> Response:
    text, _ = await document(request)
    view, created = await run_in_threadpool(core.registry.deploy_schema, p.tenant, text,
                                            actor(request, p))
    return S.reply(view, 201 if created else 200)


@router.get("", response_model=None, responses=S.ok(S.SchemaList))
async def list_schemas(p: Annotated[Principal, need("rules:read")], core: CoreDep,
                       page: PageDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.list_schemas, p.tenant, page.page,
                                           page.per_page))


@router.get("/{name}", response_model=None, responses=S.ok(S.SchemaView))
async def get_schema(name: PathText, p: Annotated[Principal, need("rules:read")],
                     core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.schema, p.tenant, name))


@router.get("/{name}/versions/{version}", response_model=None,
            responses=S.ok(S.SchemaVersionDetail))
async def schema_version(name: PathText, version: PathText,
                         p: Annotated[Principal, need("rules:read")],
                         core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.schema_version, p.tenant, name,
                                           version))
