"""Cases: what evaluations raise, worked by analysts (assign, claim, comment, escalate,
close with four-eyes), with each case's hash chain, attachments and signed export; the
queues with their SLA state."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app.case_requests import (
    AttachmentRequest,
    CaseActionRequest,
    OpenCaseRequest,
    parse_action,
)
from arka.app.cases import permission_of
from arka.base.errors import Forbidden
from arka.interfaces.http import case_schemas as C
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import (
    CoreDep,
    PageDep,
    PathText,
    QueryText,
    actor,
    json_body,
    need,
    time_range,
)
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["cases"])
READ, WORK = "cases:read", "cases:work"
Status = Literal["open", "in_review", "escalated", "pending_approval", "closed"]


class _Body(C._Open):
    """Any JSON object, read with exact decimals; the action chooses its model."""

    @property
    def data(self) -> dict[str, object]:
        return dict(self.model_extra or {})


@router.get("/cases", response_model=None, responses=S.ok(C.CaseList))
async def list_cases(
        p: Annotated[Principal, need(READ)], core: CoreDep, page: PageDep,
        status: Annotated[Status | None, Query()] = None,
        queue: Annotated[str | None, QueryText(128, min_length=1)] = None,
        assignee: Annotated[str | None, QueryText(256, min_length=1)] = None,
        entity_id: Annotated[str | None, QueryText(256, min_length=1)] = None,
        start: Annotated[str | None, QueryText(64, alias="from", description="RFC 3339, "
                                               "inclusive (opened_at)",
                                               format="date-time")] = None,
        end: Annotated[str | None, QueryText(64, alias="to", description="RFC 3339, "
                                             "inclusive (opened_at)", format="date-time")
                       ] = None) -> Response:
    """The tenant's cases, newest first."""
    low, high = time_range(start, end)
    return S.reply(await run_in_threadpool(lambda: core.cases.list(
        p.tenant, status=status, queue=queue, assignee=assignee, entity_id=entity_id,
        start=low, end=high, page=page.page, per_page=page.per_page)))


@router.post("/cases", status_code=201, response_model=None,
             responses={201: {"model": C.CaseView, "description": "Created"}},
             openapi_extra=S.body(OpenCaseRequest))
async def open_case(request: Request, p: Annotated[Principal, need(WORK)],
                    core: CoreDep) -> Response:
    """Open a case by hand for evaluations of the tenant."""
    body = await json_body(request, OpenCaseRequest)
    return S.reply(await run_in_threadpool(core.cases.open, p.tenant, body,
                                           actor(request, p)), 201)


@router.get("/cases/{case_id}", response_model=None, responses=S.ok(C.CaseView))
async def get_case(case_id: PathText, p: Annotated[Principal, need(READ)],
                   core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.cases.get, p.tenant, case_id))


@router.post("/cases/{case_id}/actions", response_model=None, responses=S.ok(C.CaseView),
             openapi_extra=S.body(CaseActionRequest))
async def act(case_id: PathText, request: Request, p: Annotated[Principal, need(WORK)],
              core: CoreDep) -> Response:
    """assign, claim, release, comment, escalate (cases:work); close, approve, reject,
    reopen (cases:close). 409 when the case's state does not allow the action or
    expected_version is stale."""
    raw = await json_body(request, _Body)
    body = parse_action(raw.data)
    needed = permission_of(body.action)
    if not p.can(needed):
        message = (f"{body.action} needs the {needed} permission, which your roles "
                   f"({', '.join(sorted(p.roles)) or 'none'}) do not grant")
        await run_in_threadpool(lambda: core.audit.record(
            p.tenant, "access.denied", f"POST /api/v1/cases/{case_id}/actions",
            actor=actor(request, p), outcome="denied",
            details={"permission": needed, "roles": sorted(p.roles),
                     "action": body.action}))
        raise Forbidden(message)
    return S.reply(await run_in_threadpool(core.cases.act, p.tenant, case_id, body,
                                           actor(request, p)))


@router.get("/cases/{case_id}/events", response_model=None, responses=S.ok(C.CaseEvents))
async def case_events(case_id: PathText, p: Annotated[Principal, need(READ)],
                      core: CoreDep) -> Response:
    """The case's hash chain, oldest first."""
    return S.reply(await run_in_threadpool(core.cases.events, p.tenant, case_id))


@router.get("/cases/{case_id}/verify", response_model=None,
            responses=S.ok(C.CaseVerification))
async def verify_case(case_id: PathText, p: Annotated[Principal, need(READ)],
                      core: CoreDep) -> Response:
    """Re-check the case's hash chain against its stored events."""
    return S.reply(await run_in_threadpool(core.cases.verify, p.tenant, case_id))


@router.post("/cases/{case_id}/attachments", status_code=201, response_model=None,
             responses={201: {"model": C.AttachmentAdded, "description": "Created"}},
             openapi_extra=S.body(AttachmentRequest))
async def add_attachment(case_id: PathText, request: Request,
                         p: Annotated[Principal, need(WORK)], core: CoreDep) -> Response:
    """Keep a file with the case (object storage, sealed; 503 without object storage)."""
    body = await json_body(request, AttachmentRequest)
    return S.reply(await run_in_threadpool(core.cases.attach, p.tenant, case_id, body,
                                           actor(request, p)), 201)


@router.get("/cases/{case_id}/attachments/{attachment_id}", response_model=None,
            responses={200: {"description": "The attachment's content",
                             "content": {"application/octet-stream": {}}}})
async def get_attachment(case_id: PathText, attachment_id: PathText,
                         p: Annotated[Principal, need(READ)], core: CoreDep) -> Response:
    meta, data = await run_in_threadpool(core.cases.attachment, p.tenant, case_id,
                                         attachment_id)
    return Response(data, media_type=meta["media_type"], headers={
        "Content-Disposition": f'attachment; filename="{meta["name"]}"',
        "X-Content-SHA256": meta["sha256"], "X-Content-Type-Options": "nosniff"})


@router.get("/cases/{case_id}/export", response_model=None, responses=S.ok(C.CaseBundle))
async def export_case(case_id: PathText, p: Annotated[Principal, need(READ)],
                      core: CoreDep) -> Response:
    """The case, its chain and every linked evaluation with its inclusion proof under one
    signed tree head, signed (verify offline: arka-cli verify BUNDLE.json)."""
    return S.reply(await run_in_threadpool(core.cases.export, p.tenant, case_id))


@router.get("/cases/{case_id}/sar", response_model=None,
            responses={200: {"description": "The report draft", "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}}}}})
async def case_report(case_id: PathText, p: Annotated[Principal, need(READ)],
                      core: CoreDep,
                      format: Annotated[Literal["json", "goaml"], Query()] = "json"
                      ) -> Response:
    """A SAR/STR draft of a closed case with disposition true_positive or sar_filed (409
    otherwise): JSON, or goAML XML with format=goaml."""
    report = await run_in_threadpool(core.cases.report, p.tenant, case_id, format)
    if isinstance(report, bytes):
        return Response(report, media_type="application/xml")
    return S.reply(report)


@router.get("/queues", response_model=None, responses=S.ok(C.QueueList))
async def list_queues(p: Annotated[Principal, need(READ)], core: CoreDep) -> Response:
    """Per queue: cases by state, how many are past their due time, the oldest due."""
    return S.reply(await run_in_threadpool(core.cases.queues, p.tenant))
