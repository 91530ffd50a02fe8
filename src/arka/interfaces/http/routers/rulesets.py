"""Rulesets: deploy, list, the latest version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PathText, actor, document, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/rulesets", tags=["rulesets"])


@router.post("", status_code=201, response_model=None,
             responses=S.created(S.RulesetVersionView), openapi_extra=S.DOCUMENT_BODY)
async def deploy_ruleset(request: Request, p: Annotated[Principal, need("rules:write")],
                         core: CoreDep) -> Response:
    text, _ = await document(request)
    view, created = await run_in_threadpool(core.registry.deploy_ruleset, p.tenant, text,
                                            actor(request, p))
    return S.reply(view, 201 if created else 200)


@router.get("", response_model=None, responses=S.ok(S.RulesetList))
async def list_rulesets(p: Annotated[Principal, need("rules:read")],
                        core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.list_rulesets, p.tenant))


@router.get("/{name}", response_model=None, responses=S.ok(S.RulesetView))
async def get_ruleset(name: PathText, p: Annotated[Principal, need("rules:read")],
                      core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.ruleset, p.tenant, name))
