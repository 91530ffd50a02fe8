"""Anchors of tree heads on chains: pending → submitted → confirmed | failed."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from arka.base.errors import NotFound
from arka.security.principal import SYSTEM_TENANT
from arka.storage.sql import schema as S
from arka.storage.sql.database import Database, now
from arka.storage.sql.outbox import SqlOutbox


class SqlAnchors:
    def __init__(self, db: Database, outbox: SqlOutbox | None = None):
        self.db = db
        self.outbox = outbox

    def create(self, chain: str, tree_size: int, root_hash: str) -> dict[str, Any] | None:
        """A pending anchor; None when this chain already has one for that tree size."""
        at = now()
        try:
            with self.db.write() as conn:
                conn.execute(S.anchors.insert().values(
                    chain=chain, tree_size=tree_size, root_hash=root_hash, status="pending",
                    confirmations=0, attempts=0, reorgs=0, next_attempt_at=0.0, created_at=at,
                    updated_at=at))
        except IntegrityError:
            return None
        return self.find(chain, tree_size)

    def update(self, anchor_id: int, events: list[dict[str, Any]] | None = None,
               **values: Any) -> dict[str, Any]:
        """Change an anchor; `events` (CloudEvents) go to the outbox in the same
        transaction (under the tenant `_system`: anchors cover every tenant)."""
        with self.db.write() as conn:
            conn.execute(S.anchors.update().where(S.anchors.c.id == anchor_id)
                         .values(updated_at=now(), **values))
            if events:
                assert self.outbox is not None
                self.outbox.add_in(conn, SYSTEM_TENANT, events)
        return self.get(anchor_id)

    def claim(self, anchor_id: int, expected_status: str, **values: Any) -> bool:
        """Update an anchor only if it still has `expected_status` (one process wins)."""
        with self.db.write() as conn:
            result = conn.execute(S.anchors.update().where(
                S.anchors.c.id == anchor_id, S.anchors.c.status == expected_status)
                .values(updated_at=now(), **values))
        return bool(result.rowcount)

    def get(self, anchor_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(select(S.anchors).where(S.anchors.c.id == anchor_id)
                               ).mappings().first()
        if row is None:
            raise NotFound(f"anchor {anchor_id} not found")
        return dict(row)

    def find(self, chain: str, tree_size: int) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(select(S.anchors).where(S.anchors.c.chain == chain,
                                                       S.anchors.c.tree_size == tree_size)
                               ).mappings().first()
        return dict(row) if row else None

    def of_chain(self, chain: str, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(S.anchors).where(
                S.anchors.c.chain == chain, S.anchors.c.status.in_(statuses))
                .order_by(S.anchors.c.tree_size)).mappings().all()
        return [dict(r) for r in rows]

    def latest(self, chain: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(select(S.anchors).where(
                S.anchors.c.chain == chain, S.anchors.c.status != "failed")
                .order_by(S.anchors.c.tree_size.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def list(self, page: int, per_page: int, chain: str | None = None,
             status: str | None = None) -> tuple[list[dict[str, Any]], int]:
        cond = []
        if chain:
            cond.append(S.anchors.c.chain == chain)
        if status:
            cond.append(S.anchors.c.status == status)
        with self.db.read() as conn:
            total = conn.execute(select(func.count()).select_from(S.anchors).where(*cond)
                                 ).scalar_one()
            rows = conn.execute(select(S.anchors).where(*cond).order_by(S.anchors.c.id)
                                .limit(per_page).offset((page - 1) * per_page)).mappings().all()
        return [dict(r) for r in rows], int(total)

    def covering(self, log_index: int) -> builtins.list[dict[str, Any]]:
        """Per chain, the first confirmed anchor whose tree contains this leaf."""
        with self.db.read() as conn:
            rows = conn.execute(select(S.anchors).where(
                S.anchors.c.status == "confirmed", S.anchors.c.tree_size > log_index)
                .order_by(S.anchors.c.chain, S.anchors.c.tree_size)).mappings().all()
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            out.setdefault(r["chain"], dict(r))
        return list(out.values())
