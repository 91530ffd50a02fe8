"""The transactional outbox: events (CloudEvents) written inside the transaction of the
change they report, by the adapter that writes the change (`add_in`), so an event exists
exactly when its change was committed. A dispatcher reads them in order and marks them
dispatched once their deliveries exist; with several replicas, the dispatch lease
(`worker_leases`) keeps one dispatcher at a time.

Events are sealed like evaluation records (their data holds what the result says).
"""

from __future__ import annotations

import builtins
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from arka.security.sealing import RecordSealer
from arka.storage.sql import schema as S
from arka.storage.sql.database import SYSTEM, Database, now

MAX_EVENT_BYTES = 1024 * 1024  # a CloudEvent larger than this is refused when written


class SqlOutbox:
    def __init__(self, db: Database, sealer: RecordSealer):
        self.db = db
        self.sealer = sealer

    def add_in(self, conn: Connection, tenant: str, events: builtins.list[dict[str, Any]]
               ) -> None:
        """Write events in the caller's transaction (the change they report)."""
        if not events:
            return
        at = now()
        rows = []
        for event in events:
            text, key_id = self.sealer.seal_object(event["id"], event)
            if len(text) > MAX_EVENT_BYTES:
                raise ValueError(f"event {event['id']} is larger than {MAX_EVENT_BYTES} bytes")
            rows.append({"id": event["id"], "tenant": tenant, "type": event["type"],
                         "subject": event.get("subject"), "event": text, "key_id": key_id,
                         "created_at": at})
        conn.execute(insert(S.outbox), rows)

    def add(self, tenant: str, events: builtins.list[dict[str, Any]]) -> None:
        with self.db.write(tenant) as conn:
            self.add_in(conn, tenant, events)

    def pending(self, limit: int = 100) -> builtins.list[tuple[str, dict[str, Any]]]:
        """The oldest undispatched events (any tenant): (tenant, event), in write order."""
        o = S.outbox.c
        with self.db.read(SYSTEM) as conn:
            rows = conn.execute(select(o.id, o.tenant, o.event, o.key_id)
                                .where(o.dispatched_at.is_(None)).order_by(o.seq)
                                .limit(limit)).all()
        return [(r.tenant, self.sealer.open_object(r.event, r.key_id, r.id, f"outbox/{r.id}"))
                for r in rows]

    def get(self, tenant: str, event_id: str) -> dict[str, Any] | None:
        o = S.outbox.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(o.id, o.event, o.key_id).where(
                o.tenant == tenant, o.id == event_id)).first()
        if row is None:
            return None
        return self.sealer.open_object(row.event, row.key_id, row.id, f"outbox/{row.id}")

    def mark_dispatched(self, event_ids: builtins.list[str]) -> None:
        if not event_ids:
            return
        o = S.outbox.c
        with self.db.write(SYSTEM) as conn:
            conn.execute(update(S.outbox).where(o.id.in_(event_ids), o.dispatched_at.is_(None))
                         .values(dispatched_at=now()))

    def pending_count(self) -> int:
        o = S.outbox.c
        with self.db.read(SYSTEM) as conn:
            return int(conn.execute(select(func.count()).select_from(S.outbox)
                                    .where(o.dispatched_at.is_(None))).scalar_one())

    # ------------------------------------------------------------ leases
    def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `holder` (True), unless another holder's
        lease has not expired (False)."""
        lease = S.worker_leases.c
        at = now()
        until = at + timedelta(seconds=seconds)
        try:
            with self.db.write(SYSTEM) as conn:
                row = conn.execute(select(lease.holder, lease.until).where(lease.name == name)
                                   ).first()
                if row is None:
                    conn.execute(insert(S.worker_leases), {"name": name, "holder": holder,
                                                           "until": until})
                    return True
                if row.holder != holder and _aware(row.until) > at:
                    return False
                # taken only if it is still ours or still expired: two processes that both
                # saw it expired cannot both take it
                taken = conn.execute(update(S.worker_leases).where(
                    lease.name == name, or_(lease.holder == holder, lease.until <= at))
                    .values(holder=holder, until=until)).rowcount
                return bool(taken)
        except IntegrityError:  # another process inserted the lease first: it holds it
            return False

    def release(self, name: str, holder: str) -> None:
        lease = S.worker_leases.c
        with self.db.write(SYSTEM) as conn:
            conn.execute(update(S.worker_leases).where(lease.name == name,
                                                       lease.holder == holder)
                         .values(until=now() - timedelta(seconds=1)))


def _aware(at: datetime) -> datetime:
    from datetime import UTC
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
