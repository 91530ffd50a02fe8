"""Webhook subscriptions (signed CloudEvents, Standard Webhooks signatures) and the
delivery log of every channel (webhooks and e-mail notifications), with redelivery."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from arka.app.webhook_requests import RotateRequest, WebhookRequest
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PageDep, PathText, actor, json_body, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
MANAGE = "webhooks:manage"
DeliveryStatus = Literal["pending", "retrying", "delivered", "dead"]
Channel = Literal["webhook", "email"]


class WebhookView(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    url: str
    events: list[str]
    description: str | None
    status: str = Field(description="active or disabled")
    created_by: str
    created_at: str
    updated_at: str
    consecutive_failures: int
    circuit_open_until: str | None = Field(description="while set, deliveries wait")


class WebhookCreated(WebhookView):
    secret: str = Field(description="The signing secret; shown only in this answer")


class WebhookList(S._List):
    items: list[WebhookView]


class TestQueued(BaseModel):
    event_id: str
    webhook_id: str
    status: str


class DeliveryView(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    event_id: str = Field(description="The CloudEvents id, sent as webhook-id")
    event_type: str
    channel: str
    webhook_id: str | None
    target: str
    status: str = Field(description="pending, retrying, delivered or dead")
    attempts: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    history: list[S.Open]
    created_at: str
    delivered_at: str | None


class DeliveryList(S._List):
    items: list[DeliveryView]


def _who(request: Request, p: Principal) -> Any:
    return actor(request, p)


@router.post("/webhooks", status_code=201, response_model=None,
             responses={201: {"model": WebhookCreated, "description": "Created"}},
             openapi_extra=S.body(WebhookRequest))
async def create_webhook(request: Request, p: Annotated[Principal, need(MANAGE)],
                         core: CoreDep) -> Response:
    """Subscribe a URL to event types. The answer holds the signing secret, once."""
    body = await json_body(request, WebhookRequest)
    return S.reply(await run_in_threadpool(
        lambda: core.webhooks.create(p.tenant, url=body.url, events=list(body.events),
                                     description=body.description, secret=body.secret,
                                     actor=_who(request, p))), 201)


@router.get("/webhooks", response_model=None, responses=S.ok(WebhookList))
async def list_webhooks(p: Annotated[Principal, need(MANAGE)], core: CoreDep,
                        page: PageDep) -> Response:
    return S.reply(await run_in_threadpool(core.webhooks.list, p.tenant, page.page,
                                           page.per_page))


@router.get("/webhooks/{webhook_id}", response_model=None, responses=S.ok(WebhookView))
async def get_webhook(webhook_id: PathText, p: Annotated[Principal, need(MANAGE)],
                      core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.webhooks.get, p.tenant, webhook_id))


@router.post("/webhooks/{webhook_id}/disable", response_model=None,
             responses=S.ok(WebhookView))
async def disable_webhook(webhook_id: PathText, request: Request,
                          p: Annotated[Principal, need(MANAGE)], core: CoreDep) -> Response:
    """Stop delivering to it (pending deliveries become dead when they are tried)."""
    return S.reply(await run_in_threadpool(core.webhooks.set_status, p.tenant, webhook_id,
                                           "disabled", _who(request, p)))


@router.post("/webhooks/{webhook_id}/enable", response_model=None,
             responses=S.ok(WebhookView))
async def enable_webhook(webhook_id: PathText, request: Request,
                         p: Annotated[Principal, need(MANAGE)], core: CoreDep) -> Response:
    """Deliver again (and close its circuit)."""
    return S.reply(await run_in_threadpool(core.webhooks.set_status, p.tenant, webhook_id,
                                           "active", _who(request, p)))


@router.post("/webhooks/{webhook_id}/rotate", response_model=None,
             responses=S.ok(WebhookCreated), openapi_extra=S.body(RotateRequest, False))
async def rotate_secret(webhook_id: PathText, request: Request,
                        p: Annotated[Principal, need(MANAGE)], core: CoreDep) -> Response:
    """A new signing secret, shown once; the previous one signs too during the grace
    period (`webhook-signature` then carries both)."""
    body = await json_body(request, RotateRequest, optional=True)
    return S.reply(await run_in_threadpool(core.webhooks.rotate, p.tenant, webhook_id,
                                           body.secret, _who(request, p)))


@router.post("/webhooks/{webhook_id}/test", status_code=202, response_model=None,
             responses={202: {"model": TestQueued, "description": "Queued"}})
async def test_webhook(webhook_id: PathText, request: Request,
                       p: Annotated[Principal, need(MANAGE)], core: CoreDep) -> Response:
    """Queue an `arka.webhook.test` event for this subscription; see its deliveries."""
    return S.reply(await run_in_threadpool(core.webhooks.test, p.tenant, webhook_id,
                                           _who(request, p)), 202)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=None,
            responses=S.ok(DeliveryList))
async def webhook_deliveries(webhook_id: PathText, p: Annotated[Principal, need(MANAGE)],
                             core: CoreDep, page: PageDep,
                             status: Annotated[DeliveryStatus | None, Query()] = None
                             ) -> Response:
    """The subscription's delivery log, newest first, each with its attempts."""
    return S.reply(await run_in_threadpool(
        lambda: core.webhooks.deliveries(p.tenant, webhook_id=webhook_id, status=status,
                                         page=page.page, per_page=page.per_page)))


@router.get("/deliveries", response_model=None, responses=S.ok(DeliveryList))
async def list_deliveries(p: Annotated[Principal, need(MANAGE)], core: CoreDep,
                          page: PageDep,
                          channel: Annotated[Channel | None, Query()] = None,
                          status: Annotated[DeliveryStatus | None, Query()] = None
                          ) -> Response:
    """Every delivery of the tenant (webhooks and e-mail notifications), newest first."""
    return S.reply(await run_in_threadpool(
        lambda: core.webhooks.deliveries(p.tenant, channel=channel, status=status,
                                         page=page.page, per_page=page.per_page)))


@router.get("/deliveries/{delivery_id}", response_model=None, responses=S.ok(DeliveryView))
async def get_delivery(delivery_id: PathText, p: Annotated[Principal, need(MANAGE)],
                       core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.webhooks.delivery, p.tenant, delivery_id))


@router.post("/deliveries/{delivery_id}/redeliver", response_model=None,
             responses=S.ok(DeliveryView))
async def redeliver(delivery_id: PathText, request: Request,
                    p: Annotated[Principal, need(MANAGE)], core: CoreDep) -> Response:
    """Try a delivery again now with a fresh attempt budget (a dead one too)."""
    return S.reply(await run_in_threadpool(core.webhooks.redeliver, p.tenant, delivery_id,
                                           _who(request, p)))
