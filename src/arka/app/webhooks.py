"""Webhook subscriptions of a tenant: create (the signing secret is shown once), list,
disable and enable, rotate the secret (the old one keeps signing for the grace period, so
receivers can switch without losing a delivery), send a test event, read the delivery
log and redeliver. Every change is in the audit log."""

from __future__ import annotations

from typing import Any

from arka.app.audit import audit_event
from arka.app.events import EVENT_TYPES, EventFactory
from arka.base.errors import InputError
from arka.delivery import DeliveryPolicy, signing, targets
from arka.security.principal import Actor
from arka.storage.sql.outbox import SqlOutbox
from arka.storage.sql.webhooks import SqlWebhooks

MIN_SECRET_BYTES = 24  # a secret given by the caller must carry at least this much


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InputError(f"events: unknown event type(s) {', '.join(unknown)}; known: "
                         f"{', '.join(EVENT_TYPES)}")
    if not events:
        raise InputError("events: name at least one event type")
    return sorted(set(events))


def check_secret(secret: str) -> str:
    try:
        key = signing.secret_bytes(secret)
    except ValueError as exc:
        raise InputError(f"secret: {exc}") from None
    if len(key) < MIN_SECRET_BYTES:
        raise InputError(f"secret: {len(key)} bytes of key; a secret needs at least "
                         f"{MIN_SECRET_BYTES} (omit it and one is generated)")
    return secret


class Webhooks:
    def __init__(self, store: SqlWebhooks, outbox: SqlOutbox, policy: DeliveryPolicy,
                 events: EventFactory):
        self.store = store
        self.outbox = outbox
        self.policy = policy
        self.events = events

    def check_url(self, url: str) -> str:
        try:
            return targets.check_url(url, self.policy.allow_private)
        except targets.TargetError as exc:
            raise InputError(f"url: {exc.message}") from None

    def create(self, tenant: str, *, url: str, events: list[str], description: str | None,
               secret: str | None, actor: Actor) -> dict[str, Any]:
        """A new active subscription; the answer carries `secret`, shown only here."""
        url = self.check_url(url)
        kinds = check_events(events)
        secret = check_secret(secret) if secret is not None else signing.new_secret()
        hook = self.store.create(tenant, url=url, events=kinds, description=description,
                                 secret=secret, created_by=actor.person or actor.subject,
                                 audit=audit_event(tenant, "webhook.create", url, actor=actor,
                                                   details={"events": kinds}))
        return {**hook, "secret": secret}

    def get(self, tenant: str, webhook_id: str) -> dict[str, Any]:
        return self.store.get(tenant, webhook_id)

    def list(self, tenant: str, page: int, per_page: int) -> dict[str, Any]:
        items, total = self.store.list(tenant, page, per_page)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def set_status(self, tenant: str, webhook_id: str, status: str, actor: Actor
                   ) -> dict[str, Any]:
        action = "webhook.disable" if status == "disabled" else "webhook.enable"
        return self.store.set_status(tenant, webhook_id, status, audit=audit_event(
            tenant, action, webhook_id, actor=actor))

    def rotate(self, tenant: str, webhook_id: str, secret: str | None, actor: Actor
               ) -> dict[str, Any]:
        """A new signing secret (shown once); deliveries carry a signature with the old
        one too until `webhooks.rotation_grace` has passed."""
        secret = check_secret(secret) if secret is not None else signing.new_secret()
        hook = self.store.rotate(tenant, webhook_id, secret, self.policy.rotation_grace,
                                 audit=audit_event(tenant, "webhook.rotate", webhook_id,
                                                   actor=actor))
        return {**hook, "secret": secret, "previous_secrets_valid_for_seconds":
                int(self.policy.rotation_grace)}

    def test(self, tenant: str, webhook_id: str, actor: Actor) -> dict[str, Any]:
        """Queue an `arka.webhook.test` event for this subscription only."""
        self.store.get(tenant, webhook_id)
        event = self.events.make(tenant, "arka.webhook.test", {
            "webhook_id": webhook_id, "message": "a test event from ARKA Core",
            "requested_by": actor.person or actor.subject}, subject=webhook_id)
        self.outbox.add(tenant, [event])
        return {"event_id": event["id"], "webhook_id": webhook_id, "status": "queued"}

    def deliveries(self, tenant: str, *, webhook_id: str | None = None,
                   channel: str | None = None, status: str | None = None, page: int = 1,
                   per_page: int = 20) -> dict[str, Any]:
        if webhook_id is not None:
            self.store.get(tenant, webhook_id)
        items, total = self.store.deliveries(tenant, webhook_id=webhook_id, channel=channel,
                                             status=status, page=page, per_page=per_page)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def delivery(self, tenant: str, delivery_id: str) -> dict[str, Any]:
        return self.store.delivery(tenant, delivery_id)

    def redeliver(self, tenant: str, delivery_id: str, actor: Actor) -> dict[str, Any]:
        return self.store.redeliver(tenant, delivery_id, audit=audit_event(
            tenant, "delivery.redeliver", delivery_id, actor=actor))
