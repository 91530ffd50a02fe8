"""Webhook subscriptions of a tenant and the deliveries of events (to webhooks and by
e-mail), with their retry state.

A subscription's signing secrets are sealed like records (they must be read back to
sign). A delivery is created once per event and destination (`dedupe` is unique, so a
dispatch that runs twice creates nothing the second time), claimed by one worker at a
time with a lease (`claimed_until`: a worker that died releases its claims when the
lease runs out), and moves pending → retrying → delivered | dead. A dead delivery can be
redelivered by hand; its attempts are kept in `history`.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from arka.base.errors import NotFound
from arka.security.sealing import RecordSealer
from arka.storage.sql import schema as S
from arka.storage.sql.audit import SqlAudit
from arka.storage.sql.database import SYSTEM, Database, now, ts

HISTORY = 20  # attempts kept per delivery (the newest)
MAX_PER_PAGE = 1000


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class SqlWebhooks:
    def __init__(self, db: Database, audit: SqlAudit, sealer: RecordSealer):
        self.db = db
        self.audit = audit
        self.sealer = sealer

    # ------------------------------------------------------------ subscriptions
    def create(self, tenant: str, *, url: str, events: builtins.list[str],
               description: str | None, secret: str, created_by: str,
               audit: dict[str, Any] | None = None) -> dict[str, Any]:
        webhook_id = "whk_" + uuid.uuid4().hex
        at = now()
        text, key_id = self.sealer.seal_object(webhook_id, [
            {"secret": secret, "created_at": ts(at), "expires_at": None}])
        with self.db.write(tenant) as conn:
            conn.execute(insert(S.webhooks), {
                "id": webhook_id, "tenant": tenant, "url": url,
                "events": json.dumps(sorted(set(events))), "description": description,
                "status": "active", "secrets": text, "key_id": key_id,
                "created_by": created_by, "created_at": at, "updated_at": at, "failures": 0})
            if audit is not None:
                self.audit.append_in(conn, audit)
        return self.get(tenant, webhook_id)

    def get(self, tenant: str, webhook_id: str) -> dict[str, Any]:
        w = S.webhooks.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(S.webhooks).where(w.tenant == tenant,
                                                        w.id == webhook_id)).first()
        if row is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return _webhook(row)

    def list(self, tenant: str, page: int = 1, per_page: int = 20
             ) -> tuple[builtins.list[dict[str, Any]], int]:
        w = S.webhooks.c
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.webhooks)
                                 .where(w.tenant == tenant)).scalar_one()
            rows = conn.execute(select(S.webhooks).where(w.tenant == tenant)
                                .order_by(w.created_at, w.id).limit(per_page)
                                .offset((page - 1) * per_page)).all()
        return [_webhook(r) for r in rows], int(total)

    def set_status(self, tenant: str, webhook_id: str, status: str,
                   audit: dict[str, Any] | None = None) -> dict[str, Any]:
        w = S.webhooks.c
        with self.db.write(tenant) as conn:
            done = conn.execute(update(S.webhooks).where(w.tenant == tenant, w.id == webhook_id)
                                .values(status=status, updated_at=now(), failures=0,
                                        circuit_open_until=None)).rowcount
            if not done:
                raise NotFound(f"webhook {webhook_id} not found")
            if audit is not None:
                self.audit.append_in(conn, audit)
        return self.get(tenant, webhook_id)

    def secrets(self, tenant: str, webhook_id: str) -> builtins.list[dict[str, Any]]:
        """The secrets that sign (newest first): the current one and any not yet expired."""
        w = S.webhooks.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(w.id, w.secrets, w.key_id).where(
                w.tenant == tenant, w.id == webhook_id)).first()
        if row is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return _live(self._open_secrets(row.secrets, row.key_id, row.id))

    def _open_secrets(self, text: str, key_id: str | None, webhook_id: str
                      ) -> builtins.list[dict[str, Any]]:
        return list(self.sealer.open_object(text, key_id, webhook_id,
                                            f"webhooks/{webhook_id}"))

    def rotate(self, tenant: str, webhook_id: str, secret: str, grace: float,
               audit: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new current secret; the previous ones keep signing for `grace` seconds."""
        w = S.webhooks.c
        at = now()
        with self.db.write(tenant) as conn:
            row = conn.execute(select(w.id, w.secrets, w.key_id).where(
                w.tenant == tenant, w.id == webhook_id)).first()
            if row is None:
                raise NotFound(f"webhook {webhook_id} not found")
            old = _live(self._open_secrets(row.secrets, row.key_id, row.id), at)
            until = str(ts(at + timedelta(seconds=grace)))
            kept = [{**s, "expires_at": min(str(s["expires_at"] or until), until)}
                    for s in old]
            text, key_id = self.sealer.seal_object(webhook_id, [
                {"secret": secret, "created_at": ts(at), "expires_at": None}, *kept])
            conn.execute(update(S.webhooks).where(w.id == webhook_id)
                         .values(secrets=text, key_id=key_id, updated_at=at))
            if audit is not None:
                self.audit.append_in(conn, audit)
        return self.get(tenant, webhook_id)

    def subscribed(self, tenant: str | None, event_type: str) -> builtins.list[dict[str, Any]]:
        """The active subscriptions to `event_type` of the tenant (None: of every tenant,
        for events about them all, e.g. anchors), each with its `tenant`."""
        w = S.webhooks.c
        cond = [w.status == "active"] + ([w.tenant == tenant] if tenant is not None else [])
        with self.db.read(tenant or SYSTEM) as conn:
            rows = conn.execute(select(S.webhooks).where(*cond)).all()
        return [{**x, "tenant": r.tenant} for r in rows
                if event_type in (x := _webhook(r))["events"]]

    # ------------------------------------------------------------ deliveries
    def add_deliveries(self, deliveries: builtins.list[dict[str, Any]]) -> int:
        """Create deliveries (each: tenant, event_id, event_type, channel, webhook_id,
        target, payload (a JSON-able value, sealed here), status, last_error) in one
        transaction; one that exists for the same event and destination is skipped.
        Returns how many are new."""
        if not deliveries:
            return 0
        at = now()
        rows = []
        for d in deliveries:
            dedupe = hashlib.sha256("\x1f".join([
                d["event_id"], d["channel"], d.get("webhook_id") or "", d["target"]]
            ).encode("utf-8")).hexdigest()
            delivery_id = "dlv_" + uuid.uuid4().hex
            text, key_id = self.sealer.seal_object(delivery_id, d["payload"])
            rows.append({
                "id": delivery_id, "tenant": d["tenant"], "dedupe": dedupe,
                "event_id": d["event_id"], "event_type": d["event_type"],
                "channel": d["channel"], "webhook_id": d.get("webhook_id"),
                "target": d["target"], "payload": text, "key_id": key_id,
                "status": d.get("status", "pending"), "attempts": 0,
                "next_attempt_at": at, "last_error": d.get("last_error"),
                "history": "[]", "created_at": at})
        tenants = {r["tenant"] for r in rows}
        scope = tenants.pop() if len(tenants) == 1 else SYSTEM
        with self.db.write(scope) as conn:
            ins = (pg_insert if self.db.postgres else sqlite_insert)(S.deliveries)
            done = conn.execute(ins.on_conflict_do_nothing(index_elements=["dedupe"]), rows)
            return int(done.rowcount) if done.rowcount is not None else len(rows)

    def claim(self, holder: str, limit: int, lease: float) -> builtins.list[dict[str, Any]]:
        """Up to `limit` due deliveries (any tenant), claimed by `holder` for `lease`
        seconds in one transaction; deliveries to a webhook whose circuit is open wait.
        A delivery another worker claimed meanwhile is not among them."""
        d = S.deliveries.c
        w = S.webhooks.c
        at = now()
        due = and_(d.status.in_(("pending", "retrying")), d.next_attempt_at <= at,
                   or_(d.claimed_until.is_(None), d.claimed_until < at))
        until = at + timedelta(seconds=lease)
        candidates = (select(d.id).select_from(S.deliveries.outerjoin(
            S.webhooks, w.id == d.webhook_id))
            .where(due, or_(d.webhook_id.is_(None), w.circuit_open_until.is_(None),
                            w.circuit_open_until < at))
            .order_by(d.next_attempt_at).limit(limit))
        with self.db.read(SYSTEM) as conn:  # nothing due: no write (an idle worker)
            if conn.execute(candidates).first() is None:
                return []
        with self.db.write(SYSTEM) as conn:
            ids = [r.id for r in conn.execute(candidates).all()]
            if not ids:
                return []
            token = f"{holder}/{uuid.uuid4().hex[:8]}"  # this claim, not an earlier one
            conn.execute(update(S.deliveries).where(d.id.in_(ids), due)
                         .values(claimed_until=until, claimed_by=token))
            rows = conn.execute(select(S.deliveries).where(d.id.in_(ids),
                                                           d.claimed_by == token)).all()
        return [{**self._delivery(r, with_payload=True), "claim": r.claimed_by} for r in rows]

    def record(self, outcomes: builtins.list[dict[str, Any]], max_attempts: int,
               circuit: Any = None) -> builtins.list[dict[str, Any]]:
        """The outcomes of attempts, in one transaction. Each: `id`, `claim` (as `claim`
        returned it), `ok`, `status`, `error`, `duration` (s), `next_attempt` (when to try
        again), `dead` (do not retry). The delivery becomes delivered, retrying or dead
        (after `max_attempts`); the webhook's consecutive-failure count follows, and
        `circuit(failures) -> open-until or None` decides whether its circuit opens. A
        delivery whose claim was lost (its lease ran out and another worker took it) is
        left alone. Returns the deliveries recorded."""
        d = S.deliveries.c
        w = S.webhooks.c
        at = now()
        by_id = {o["id"]: o for o in outcomes}
        with self.db.write(SYSTEM) as conn:
            rows = [r for r in conn.execute(select(S.deliveries).where(
                d.id.in_(list(by_id)))).all()
                if r.claimed_by == by_id[r.id]["claim"] and r.status not in (
                    "delivered", "dead")]
            changes = []
            hooks: dict[str, list[bool]] = {}  # webhook id -> outcomes, in order
            for row in rows:
                o = by_id[row.id]
                history = json.loads(row.history)[-(HISTORY - 1):]
                attempt = row.attempts + 1
                history.append({"attempt": attempt, "at": ts(at), "status": o["status"],
                                "error": o["error"],
                                "duration_ms": round(o["duration"] * 1000, 1)})
                status, next_at, delivered = "retrying", o["next_attempt"], None
                if o["ok"]:
                    status, next_at, delivered = "delivered", row.next_attempt_at, at
                elif o["dead"] or attempt >= max_attempts:
                    status, next_at = "dead", row.next_attempt_at
                changes.append({"b_id": row.id, "b_status": status, "b_attempts": attempt,
                                "b_next": next_at, "b_delivered": delivered,
                                "b_last_status": o["status"], "b_error": o["error"],
                                "b_history": json.dumps(history)})
                if row.webhook_id is not None:
                    hooks.setdefault(row.webhook_id, []).append(bool(o["ok"]))
            if changes:
                conn.execute(update(S.deliveries).where(d.id == bindparam("b_id")).values(
                    status=bindparam("b_status"), attempts=bindparam("b_attempts"),
                    next_attempt_at=bindparam("b_next"),
                    delivered_at=bindparam("b_delivered"), last_attempt_at=at,
                    last_status=bindparam("b_last_status"), last_error=bindparam("b_error"),
                    history=bindparam("b_history"), claimed_until=None, claimed_by=None),
                    changes)
            for webhook_id, results in hooks.items():
                failures = int(conn.execute(select(w.failures).where(
                    w.id == webhook_id)).scalar_one_or_none() or 0)
                for ok in results:
                    failures = 0 if ok else failures + 1
                opened = circuit(failures) if failures and circuit is not None else None
                conn.execute(update(S.webhooks).where(w.id == webhook_id)
                             .values(failures=failures, circuit_open_until=opened))
            done = conn.execute(select(S.deliveries).where(
                d.id.in_([r.id for r in rows]))).all() if rows else []
        return [self._delivery(r) for r in done]

    def deliveries(self, tenant: str, *, webhook_id: str | None = None,
                   channel: str | None = None, status: str | None = None, page: int = 1,
                   per_page: int = 20) -> tuple[builtins.list[dict[str, Any]], int]:
        d = S.deliveries.c
        cond = [d.tenant == tenant]
        if webhook_id is not None:
            cond.append(d.webhook_id == webhook_id)
        if channel is not None:
            cond.append(d.channel == channel)
        if status is not None:
            cond.append(d.status == status)
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.deliveries)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(S.deliveries).where(*cond)
                                .order_by(d.created_at.desc(), d.id).limit(per_page)
                                .offset((page - 1) * per_page)).all()
        return [self._delivery(r) for r in rows], int(total)

    def delivery(self, tenant: str, delivery_id: str) -> dict[str, Any]:
        d = S.deliveries.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(S.deliveries).where(d.tenant == tenant,
                                                          d.id == delivery_id)).first()
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return self._delivery(row)

    def redeliver(self, tenant: str, delivery_id: str, audit: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
        """Try a delivery again now (a dead or delivered one too), with a fresh attempt
        budget; its history stays."""
        d = S.deliveries.c
        with self.db.write(tenant) as conn:
            done = conn.execute(update(S.deliveries).where(d.tenant == tenant,
                                                           d.id == delivery_id)
                                .values(status="pending", attempts=0, next_attempt_at=now(),
                                        claimed_until=None, claimed_by=None,
                                        delivered_at=None)).rowcount
            if not done:
                raise NotFound(f"delivery {delivery_id} not found")
            if audit is not None:
                self.audit.append_in(conn, audit)
        return self.delivery(tenant, delivery_id)

    def counts(self) -> dict[str, int]:
        d = S.deliveries.c
        with self.db.read(SYSTEM) as conn:
            rows = conn.execute(select(d.status, func.count()).group_by(d.status)).all()
        return {r[0]: int(r[1]) for r in rows}

    def _delivery(self, row: Any, with_payload: bool = False) -> dict[str, Any]:
        out = {"id": row.id, "event_id": row.event_id, "event_type": row.event_type,
               "channel": row.channel, "webhook_id": row.webhook_id, "target": row.target,
               "status": row.status, "attempts": row.attempts,
               "next_attempt_at": ts(row.next_attempt_at) if row.status in (
                   "pending", "retrying") else None,
               "last_attempt_at": ts(row.last_attempt_at), "last_status": row.last_status,
               "last_error": row.last_error, "history": json.loads(row.history),
               "created_at": ts(row.created_at), "delivered_at": ts(row.delivered_at)}
        if with_payload:
            out["tenant"] = row.tenant
            out["payload"] = self.sealer.open_object(row.payload, row.key_id, row.id,
                                                     f"deliveries/{row.id}")
        return out


def _live(secrets: builtins.list[dict[str, Any]], at: datetime | None = None
          ) -> builtins.list[dict[str, Any]]:
    moment = ts(at or now())
    assert moment is not None
    return [s for s in secrets if s["expires_at"] is None or s["expires_at"] > moment]


def _webhook(row: Any) -> dict[str, Any]:
    opened = _aware(row.circuit_open_until)
    return {"id": row.id, "url": row.url, "events": json.loads(row.events),
            "description": row.description, "status": row.status,
            "created_by": row.created_by, "created_at": ts(row.created_at),
            "updated_at": ts(row.updated_at), "consecutive_failures": row.failures,
            "circuit_open_until": ts(opened) if opened and opened > now() else None}
