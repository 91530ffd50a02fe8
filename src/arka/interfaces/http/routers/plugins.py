"""The plugins rules may call: their manifests (functions with typed parameters and
results, permissions) and where they run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, PathText, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/plugins", tags=["plugins"])


@router.get("", response_model=None, responses=S.ok(S.PluginList))
async def list_plugins(p: Annotated[Principal, need("rules:read")], core: CoreDep,
                       page: PageDep) -> Response:
    return S.reply(await run_in_threadpool(core.plugins.list, page.page, page.per_page))


@router.get("/{name}", response_model=None, responses=S.ok(S.PluginView))
async def get_plugin(name: PathText, p: Annotated[Principal, need("rules:read")],
                     core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.plugins.get, name))
