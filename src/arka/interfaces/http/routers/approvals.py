"""Four-eyes review: approve or reject a pending rule, ruleset, table or schema version, and
the list of versions waiting for it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from arka.app.requests import ReviewRequest
from arka.base.errors import InputError
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PathText, actor, json_body, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["approvals"])

KINDS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("rule", "rules", S.RuleVersionView), ("ruleset", "rulesets", S.RulesetVersionView),
    ("table", "tables", S.TableVersionView), ("schema", "schemas", S.SchemaVersionView))


def _review(kind: str, approve: bool) -> Any:
    async def review(name: PathText, version: PathText, request: Request,
                     p: Annotated[Principal, need("rules:approve")],
                     core: CoreDep) -> Response:
        try:
            body = await json_body(request, ReviewRequest, optional=True)
        except InputError as exc:
            raise InputError('the body may be empty or {"note": "..."}',
                             details=exc.details) from None
        return S.reply(await run_in_threadpool(core.approvals.review, p.tenant, kind, name,
                                               version, approve, actor(request, p),
                                               body.note or None))
    return review


for _kind, _collection, _view in KINDS:
    for _verdict in ("approve", "reject"):
        router.add_api_route(
            f"/{_collection}/{{name}}/versions/{{version}}/{_verdict}",
            _review(_kind, _verdict == "approve"), methods=["POST"],
            name=f"{_verdict}_{_kind}", response_model=None, responses=S.ok(_view),
            summary=f"{_verdict.capitalize()} a pending {_kind} version",
            openapi_extra=S.body(ReviewRequest, required=False))


@router.get("/approvals", response_model=None, responses=S.ok(S.ApprovalList))
async def approvals(request: Request, p: Annotated[Principal, need("rules:read")],
                    core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.approvals.pending, p.tenant,
                                           actor(request, p)))
