"""The audit log: one hash chain per tenant, appended inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from arka.security import audit as chain
from arka.storage.sql import schema as S
from arka.storage.sql.database import SYSTEM, Database


class SqlAudit:
    def __init__(self, db: Database):
        self.db = db

    def append(self, event: dict[str, Any], unless_same: str | None = None
               ) -> dict[str, Any] | None:
        """Append an event to its tenant's hash chain (sets idx, prev_hash, hash). With
        `unless_same`, nothing is appended when the newest event of the same action has
        the same value of that detail (checked under the chain's lock)."""
        with self.db.write(event["tenant"]) as conn:
            if unless_same is not None:
                self._lock_chain(conn, event["tenant"])
                a = S.audit_events.c
                last = conn.execute(select(a.details).where(
                    a.tenant == event["tenant"], a.action == event["action"])
                    .order_by(a.idx.desc()).limit(1)).first()
                if last is not None and json.loads(last.details).get(unless_same) == \
                        event["details"].get(unless_same):
                    return None
            return self.append_in(conn, event)

    def _lock_chain(self, conn: Connection, tenant: str) -> None:
        if self.db.postgres:  # one appender per tenant chain at a time, across processes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(9162, hashtext(%s))",
                                 (tenant,))

    def append_in(self, conn: Connection, event: dict[str, Any]) -> dict[str, Any]:
        """Append within an open write transaction (the change it records commits with it)."""
        a = S.audit_events.c
        self._lock_chain(conn, event["tenant"])
        last = conn.execute(select(a.idx, a.hash).where(a.tenant == event["tenant"])
                            .order_by(a.idx.desc()).limit(1)).first()
        event = dict(event, idx=0 if last is None else int(last.idx) + 1,
                     prev_hash=chain.GENESIS if last is None else last.hash)
        event["hash"] = chain.chain_hash(event["prev_hash"], event)
        conn.execute(S.audit_events.insert(),
                     dict(event, details=chain.details_text(event["details"])))
        return event

    def events(self, tenant: str, *, page: int, per_page: int, action: str | None = None,
               outcome: str | None = None) -> tuple[list[dict[str, Any]], int]:
        a = S.audit_events.c
        cond = [a.tenant == tenant]
        if action:
            cond.append(a.action == action)
        if outcome:
            cond.append(a.outcome == outcome)
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.audit_events)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(S.audit_events).where(*cond).order_by(a.idx.desc())
                                .limit(per_page).offset((page - 1) * per_page)).mappings()
            return [_audit_row(r) for r in rows], int(total)

    def chain(self, tenant: str, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """A tenant's whole chain in order, streamed."""
        a = S.audit_events.c
        with self.db.read(tenant) as conn:
            result = conn.execute(select(S.audit_events).where(a.tenant == tenant)
                                  .order_by(a.idx)).mappings()
            while chunk := result.fetchmany(batch):
                yield from (_audit_row(r) for r in chunk)

    def tenants(self) -> list[str]:
        with self.db.read(SYSTEM) as conn:
            return list(conn.execute(select(S.audit_events.c.tenant).distinct()
                                     .order_by(S.audit_events.c.tenant)).scalars())


def _audit_row(r: Any) -> dict[str, Any]:
    out = dict(r)
    out.pop("seq", None)
    out["idx"] = int(out["idx"])
    out["details"] = json.loads(out["details"])
    return out
