"""Rules: deploy (YAML or JSON), validate (both typed with the tenant's schemas, answering
their warnings), list, versions, one version with its disassembly."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app.registry import warnings_of
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, PathText, actor, document, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])


@router.post("", status_code=201, response_model=None, responses=S.created(S.RuleDeployed),
             openapi_extra=S.DOCUMENT_BODY)
async def deploy_rule(request: Request, p: Annotated[Principal, need("rules:write")],
                      core: CoreDep) -> Response:
    text, fmt = await document(request)
    view, created = await run_in_threadpool(core.registry.deploy_rule, p.tenant, text, fmt,
                                            actor(request, p))
    return S.reply(view, 201 if created else 200)


@router.post("/validate", response_model=None, responses=S.ok(S.RuleValidation),
             openapi_extra=S.DOCUMENT_BODY)
async def validate_rule(request: Request, p: Annotated[Principal, need("rules:read")],
                        core: CoreDep) -> Response:
    text, _ = await document(request)
    compiled = await run_in_threadpool(partial(core.registry.validate_rule, text,
                                               tenant=p.tenant))
    return S.reply({"valid": True, "name": compiled.name, "version": compiled.version,
                    "bytecode_hash": compiled.bytecode_hash,
                    "warnings": warnings_of(compiled)})


@router.get("", response_model=None, responses=S.ok(S.RuleList))
async def list_rules(p: Annotated[Principal, need("rules:read")], core: CoreDep,
                     page: PageDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.list_rules, p.tenant, page.page,
                                           page.per_page))


@router.get("/{name}", response_model=None, responses=S.ok(S.RuleView))
async def get_rule(name: PathText, p: Annotated[Principal, need("rules:read")],
                   core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.rule, p.tenant, name))


@router.get("/{name}/versions", response_model=None, responses=S.ok(S.RuleVersionList))
async def rule_versions(name: PathText, p: Annotated[Principal, need("rules:read")],
                        core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.rule_versions, p.tenant, name))


@router.get("/{name}/versions/{version}", response_model=None,
            responses=S.ok(S.RuleVersionDetail))
async def rule_version(name: PathText, version: PathText,
                       p: Annotated[Principal, need("rules:read")], core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.registry.rule_version, p.tenant, name,
                                           version))
