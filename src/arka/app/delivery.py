"""Event delivery: the dispatcher turns outbox events into work, the sender does it.

Dispatch (one process at a time, under the `dispatch` lease): for each undispatched event,
in write order, an evaluation event opens or joins cases; a notification event becomes
e-mail deliveries (its template rendered in the sandbox) and, when it has a webhook
channel, webhook deliveries; every event becomes a delivery to each active subscription
of its type. Then the event is marked dispatched. Each step is idempotent (a delivery
exists once per event and destination; a case links an evaluation once), so a dispatcher
that dies midway is simply repeated: at-least-once, nothing lost, nothing doubled.

Delivery (every process, in parallel): due deliveries are claimed with a lease, sent
(webhooks signed as Standard Webhooks, e-mail over SMTP), and recorded: delivered,
retrying after an exponential backoff with jitter, or dead after `max_attempts` (and at
once for what cannot succeed: a refused URL, no SMTP server configured, a template error).
An endpoint that keeps failing opens its circuit: its deliveries wait, unattempted, until
the circuit closes. Receivers de-duplicate by `webhook-id` (the event id).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from arka.app.cases import Cases
from arka.app.events import EventFactory
from arka.base.errors import ArkaError, NotFound
from arka.delivery import DeliveryPolicy, SmtpSettings, retry, signing, targets, templates
from arka.delivery import email as mail
from arka.delivery.events import encode
from arka.delivery.http import Outcome, Sender
from arka.observability import metrics as M
from arka.security.principal import SYSTEM_TENANT
from arka.storage import Store

log = logging.getLogger("arka.delivery")
DISPATCH_LEASE = "dispatch"
DISPATCH_BATCH = 200


def _holder() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def recipients(value: Any) -> list[str]:
    """An e-mail channel's `to`: one address or a list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ArkaError("an email channel needs `to`: an address or a list of addresses")
    out = []
    for item in items:
        if not isinstance(item, str) or not mail.valid_address(item):
            raise ArkaError(f"an email channel's `to` holds {item!r}, not an e-mail address")
        out.append(item.strip())
    return out


class Delivery:
    def __init__(self, store: Store, policy: DeliveryPolicy, smtp: SmtpSettings | None,
                 cases: Cases, events: EventFactory, cases_enabled: bool = True):
        self.store = store
        self.outbox = store.outbox
        self.webhooks = store.webhooks
        self.policy = policy
        self.smtp = smtp
        self.cases = cases
        self.cases_enabled = cases_enabled
        self.events = events
        self.holder = _holder()
        self._leased = False  # this process has held the dispatch lease
        self._sender: Sender | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._failing: dict[str, float] = {}  # event id -> when its failure was last logged
        self._subscribed: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
        # this round's webhooks and their signing secrets, by webhook id
        self._round: dict[str, tuple[dict[str, Any] | None, list[str]]] = {}

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender()
        return self._sender

    def close(self) -> None:
        """Stop sending; hand the dispatch lease back so another replica (or this one,
        restarted) takes over at once instead of waiting for the lease to run out."""
        if self._leased:
            self._leased = False
            try:
                self.outbox.release(DISPATCH_LEASE, self.holder)
            except Exception:  # noqa: BLE001 - e.g. the database is gone; the lease expires
                log.debug("could not release the dispatch lease", exc_info=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def run_once(self) -> dict[str, int]:
        """One round: dispatch what is new, then send what is due."""
        return {"dispatched": self.dispatch_once(), "attempted": self.deliver_once()}

    # ------------------------------------------------------------ dispatch
    def dispatch_once(self, limit: int = DISPATCH_BATCH) -> int:
        """Dispatch up to `limit` events, if this process holds (or takes) the dispatch
        lease. With nothing to dispatch it only reads: an idle worker writes nothing."""
        pending = self.outbox.pending(limit)
        if not pending:
            if self._leased:
                M.OUTBOX_PENDING.set(0)
            return 0
        if not self.outbox.lease(DISPATCH_LEASE, self.holder, self.policy.lease):
            return 0  # another replica dispatches
        self._leased = True
        done: list[str] = []
        deliveries: list[dict[str, Any]] = []
        self._subscribed = {}
        for tenant, event in pending:
            try:
                deliveries += self._dispatch(tenant, event)
            except Exception as exc:  # noqa: BLE001 - one bad event must not stop the others
                last = self._failing.get(event["id"], 0.0)
                if time.monotonic() - last > 60:
                    self._failing[event["id"]] = time.monotonic()
                    log.error("could not dispatch event %s (%s) of tenant %s: %s; retrying",
                              event["id"], event["type"], tenant, exc)
                continue
            self._failing.pop(event["id"], None)
            done.append(event["id"])
        self.webhooks.add_deliveries(deliveries)  # before the events count as dispatched
        self.outbox.mark_dispatched(done)
        M.OUTBOX_PENDING.set(self.outbox.pending_count())
        return len(done)

    def _hooks(self, tenant: str | None, kind: str) -> list[dict[str, Any]]:
        """The subscriptions to `kind`, read once per dispatch round."""
        key = (tenant, kind)
        if key not in self._subscribed:
            self._subscribed[key] = self.webhooks.subscribed(tenant, kind)
        return self._subscribed[key]

    def _dispatch(self, tenant: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The deliveries of one event (cases are opened or joined here, at once)."""
        kind = event["type"]
        deliveries: list[dict[str, Any]] = []
        if kind.startswith("arka.evaluation.") and self.cases_enabled:
            try:
                record = self.store.evaluations.get(tenant, event["data"]["evaluation_id"])
            except NotFound:
                record = None  # cannot happen (written together); nothing to open then
            if record is not None:
                self.cases.from_evaluation(tenant, record)
        if kind == "arka.notification":
            deliveries += self._notification(tenant, event)
        else:
            hooks = self._hooks(None if tenant == SYSTEM_TENANT else tenant, kind)
            if kind == "arka.webhook.test":
                hooks = self._one(tenant, event["data"].get("webhook_id"))
            deliveries += [self._to_webhook(tenant, event, h) for h in hooks]
        return deliveries

    def _one(self, tenant: str, webhook_id: str | None) -> list[dict[str, Any]]:
        if not webhook_id:
            return []
        try:
            return [self.webhooks.get(tenant, webhook_id)]
        except NotFound:
            return []

    def _to_webhook(self, tenant: str, event: dict[str, Any], hook: dict[str, Any]
                    ) -> dict[str, Any]:
        return {"tenant": hook.get("tenant", tenant), "event_id": event["id"],
                "event_type": event["type"], "channel": "webhook", "webhook_id": hook["id"],
                "target": hook["url"], "payload": event}

    def _notification(self, tenant: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        data = event["data"]
        out: list[dict[str, Any]] = []
        variables = dict(data.get("data") or {})
        variables.update({"evaluation_id": data.get("evaluation_id"),
                          "decision": data.get("decision"), "rule_id": data.get("rule_id"),
                          "rule_version": data.get("rule_version"),
                          "data": data.get("data") or {}})
        for index, channel in enumerate(data.get("channels") or []):
            kind = channel.get("type") if isinstance(channel, dict) else None
            if kind == "webhook":
                wanted = channel.get("webhook_id")
                hooks = self._hooks(tenant, "arka.notification")
                if wanted:
                    hooks = [h for h in hooks if h["id"] == wanted]
                out += [self._to_webhook(tenant, event, h) for h in hooks]
            elif kind == "email":
                out.append(self._email(tenant, event, index, channel, variables))
        return out

    def _email(self, tenant: str, event: dict[str, Any], index: int, channel: dict[str, Any],
               variables: dict[str, Any]) -> dict[str, Any]:
        base = {"tenant": tenant, "event_id": event["id"], "event_type": event["type"],
                "channel": "email", "webhook_id": None}
        to_text = channel.get("to")
        try:
            to = recipients(to_text)
            subject = templates.render(str(channel.get("subject") or
                                           "ARKA notification: {{ rule_id }}"), variables,
                                       limit=998)
            body = templates.render(str(event["data"].get("template") or ""), variables)
        except ArkaError as exc:
            return {**base, "target": f"channel {index}: {to_text!r}"[:1000],
                    "payload": {"channel": index}, "status": "dead",
                    "last_error": f"not sent: {exc.message}"}
        return {**base, "target": ", ".join(to), "payload": {
            "to": to, "subject": " ".join(subject.split()), "body": body, "channel": index}}

    # ------------------------------------------------------------ delivery
    def deliver_once(self) -> int:
        """Claim due deliveries, send them (up to `concurrency` at once), record every
        outcome in one transaction. Returns how many were attempted."""
        claimed = self.webhooks.claim(self.holder, self.policy.concurrency * 4,
                                      self.policy.lease)
        if not claimed:
            return 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.policy.concurrency,
                                            thread_name_prefix="arka-delivery")
        self._round = {}
        for d in claimed:  # each webhook and its secrets read once per round
            key = d["webhook_id"]
            if d["channel"] == "webhook" and key not in self._round:
                try:
                    hook = self.webhooks.get(d["tenant"], key)
                    self._round[key] = (hook, [s["secret"] for s in self.webhooks.secrets(
                        d["tenant"], key)])
                except NotFound:
                    self._round[key] = (None, [])
        outcomes = list(self._pool.map(self._attempt, claimed))
        by_id = {d["id"]: d for d in claimed}
        for stored in self.webhooks.record(outcomes, self.policy.max_attempts,
                                           circuit=self._circuit):
            d = by_id[stored["id"]]
            M.DELIVERIES.labels(d["channel"], stored["status"]).inc()
            if stored["status"] == "dead":
                log.warning("delivery %s of event %s to %s is dead after %d attempt(s): %s",
                            stored["id"], stored["event_id"], stored["target"],
                            stored["attempts"], stored["last_error"])
        return len(claimed)

    def _attempt(self, delivery: dict[str, Any]) -> dict[str, Any]:
        try:
            outcome, final = (self._send_webhook(delivery) if delivery["channel"] == "webhook"
                              else self._send_email(delivery))
        except Exception as exc:  # noqa: BLE001 - recorded as a failed attempt, retried
            outcome, final = Outcome(False, None, f"{type(exc).__name__}: {exc}", 0.0), False
        M.DELIVERY_DURATION.labels(delivery["channel"]).observe(outcome.duration)
        wait = retry.backoff(delivery["attempts"] + 1, self.policy.backoff_base,
                             self.policy.backoff_max)
        return {"id": delivery["id"], "claim": delivery["claim"], "ok": outcome.ok,
                "status": outcome.status, "error": outcome.error,
                "duration": outcome.duration, "dead": final,
                "next_attempt": datetime.now(UTC) + timedelta(seconds=wait)}

    def _circuit(self, failures: int) -> datetime | None:
        return retry.Circuit.after_failure(failures, self.policy.circuit_failures,
                                           self.policy.circuit_seconds, datetime.now(UTC))

    def _send_webhook(self, delivery: dict[str, Any]) -> tuple[Outcome, bool]:
        hook, secrets = self._round[delivery["webhook_id"]]
        if hook is None:
            return Outcome(False, None, "the webhook was deleted", 0.0), True
        if hook["status"] != "active":
            return Outcome(False, None, "the webhook is disabled; enable it and redeliver",
                           0.0), True
        try:
            targets.check_url(hook["url"], self.policy.allow_private)
        except targets.TargetError as exc:
            return Outcome(False, None, exc.message, 0.0), True
        body = encode(delivery["payload"])
        headers = signing.headers(secrets, delivery["event_id"], int(time.time()), body)
        return self.sender.post(hook["url"], body, headers, self.policy.timeout,
                                self.policy.allow_private), False

    def _send_email(self, delivery: dict[str, Any]) -> tuple[Outcome, bool]:
        payload = delivery["payload"]
        if self.smtp is None:
            return Outcome(False, None, "no SMTP server is configured (notifications.smtp)",
                           0.0), True
        if "to" not in payload:
            return Outcome(False, None, delivery.get("last_error") or "not deliverable",
                           0.0), True
        outcome = mail.send(self.smtp, payload["to"], payload["subject"], payload["body"],
                            f"{delivery['event_id']}.{payload.get('channel', 0)}",
                            {"X-Arka-Event-Id": delivery["event_id"]})
        return outcome, False
