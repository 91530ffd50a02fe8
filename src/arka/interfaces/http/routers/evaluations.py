"""Evaluations: evaluate (idempotent with a key), batch, replay, and the stored records
with their full traces."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app import stats
from arka.app.requests import BatchRequest, EvaluateRequest, ReplayRequest
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import (
    CoreDep,
    PageDep,
    PathText,
    QueryText,
    json_body,
    need,
    time_range,
)
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["evaluations"])

Decision = Literal["compliant", "needs_review", "non_compliant"]


@router.post("/evaluate", status_code=201, response_model=None,
             responses=S.created(S.EvaluationRecord), openapi_extra=S.body(EvaluateRequest))
async def evaluate(request: Request, p: Annotated[Principal, need("evaluations:create")],
                   core: CoreDep) -> Response:
    body = await json_body(request, EvaluateRequest)
    record, created = await run_in_threadpool(core.evaluations.evaluate, p.tenant, body)
    return S.reply(record, 201 if created else 200)


@router.post("/evaluate/batch", response_model=None, responses=S.ok(S.BatchResult),
             openapi_extra=S.body(BatchRequest))
async def evaluate_batch(request: Request,
                         p: Annotated[Principal, need("evaluations:create")],
                         core: CoreDep) -> Response:
    body = await json_body(request, BatchRequest)
    return S.reply(await run_in_threadpool(core.evaluations.evaluate_batch, p.tenant, body))


@router.post("/evaluate/replay", response_model=None, responses=S.ok(S.Replay),
             openapi_extra=S.body(ReplayRequest))
async def replay(request: Request, p: Annotated[Principal, need("evaluations:read")],
                 core: CoreDep) -> Response:
    body = await json_body(request, ReplayRequest)
    return S.reply(await run_in_threadpool(core.evaluations.replay, p.tenant,
                                           body.evaluation_id))


@router.get("/evaluations/{evaluation_id}", response_model=None,
            responses=S.ok(S.EvaluationRecord))
async def get_evaluation(evaluation_id: PathText,
                         p: Annotated[Principal, need("evaluations:read")],
                         core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.evaluations.get, p.tenant, evaluation_id))


@router.get("/evaluations", response_model=None, responses=S.ok(S.EvaluationList))
async def list_evaluations(
        p: Annotated[Principal, need("evaluations:read")], core: CoreDep, page: PageDep,
        decision: Annotated[Decision | None, Query()] = None,
        rule_id: Annotated[str | None, QueryText(description="Only evaluations in which "
                                                 "this rule ran (its exact name)")] = None,
        start: Annotated[str | None, QueryText(64, alias="from", description="RFC 3339, "
                                               "inclusive", format="date-time")] = None,
        end: Annotated[str | None, QueryText(64, alias="to", description="RFC 3339, "
                                             "inclusive", format="date-time")] = None,
        flag: Annotated[str | None, QueryText(description="Only evaluations whose result "
                                              "raised a flag of this category")] = None,
        entity: Annotated[str | None, QueryText(200, description="Only evaluations whose "
                                                "input carries this entity id (an `id` or "
                                                "`*_id` value)")] = None,
        order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first; "
                                                       "desc: newest first")] = "asc",
) -> Response:
    low, high = time_range(start, end)
    return S.reply(await run_in_threadpool(
        core.evaluations.list, p.tenant, decision=decision, rule_id=rule_id, flag=flag,
        entity=entity, start=low, end=high, page=page.page, per_page=page.per_page,
        newest_first=order == "desc"))


@router.get("/stats/evaluations", response_model=None, responses=S.ok(S.EvaluationStats))
async def get_evaluation_stats(
        p: Annotated[Principal, need("evaluations:read")], core: CoreDep,
        start: Annotated[str | None, QueryText(64, alias="from", description="RFC 3339; "
                                               "default: `to` less 24 hours (hour) or 30 "
                                               "days (day)", format="date-time")] = None,
        end: Annotated[str | None, QueryText(64, alias="to", description="RFC 3339, "
                                             "inclusive; default: now",
                                             format="date-time")] = None,
        bucket: Annotated[Literal["hour", "day"], Query(description="hour: windows of at "
                                                        "most 7 days; day: of at most 366 "
                                                        "days")] = "hour",
) -> Response:
    """Evaluations per decision in UTC hours or days of their timestamp, the rules and
    flag categories seen most in the window, and the service's error rate and latency."""
    low, high = time_range(start, end)
    return S.reply(await run_in_threadpool(stats.evaluation_stats, core.evaluations.store,
                                           p.tenant, low, high, bucket))


@router.get("/evaluations/{evaluation_id}/trace", response_model=None,
            responses=S.ok(S.FullTrace))
async def evaluation_trace(evaluation_id: PathText,
                           p: Annotated[Principal, need("evaluations:read")],
                           core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.evaluations.full_trace, p.tenant,
                                           evaluation_id))


@router.get("/evaluations/{evaluation_id}/proof-bundle", response_model=None,
            responses={200: {"content": {"text/plain": {}}, "description": "A "
                             "c2sp.org/tlog-proof@v1 proof: leaf index, inclusion path, "
                             "the (cosigned) checkpoint"}})
async def evaluation_proof_bundle(evaluation_id: PathText,
                                  p: Annotated[Principal, need("proofs:read")],
                                  core: CoreDep) -> Response:
    def bundle() -> str:
        core.evaluations.store.get(p.tenant, evaluation_id)  # another tenant's: NOT_FOUND
        return core.transparency.proof_bundle(evaluation_id).render()
    return Response(await run_in_threadpool(bundle), media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="{evaluation_id}.tlog-proof"'})
