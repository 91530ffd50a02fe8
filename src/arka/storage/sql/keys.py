"""API keys: only the SHA-256 of each key is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from arka.base.errors import NotFound
from arka.storage.sql import schema as S
from arka.storage.sql.audit import SqlAudit
from arka.storage.sql.database import SYSTEM, Database, now


class SqlKeys:
    def __init__(self, db: Database, audit: SqlAudit):
        self.db = db
        self.audit = audit

    def put(self, row: dict[str, Any], audit: dict[str, Any] | None = None) -> None:
        with self.db.write(row["tenant"]) as conn:
            conn.execute(S.api_keys.insert(), row)
            if audit is not None:
                self.audit.append_in(conn, audit)

    def by_hash(self, secret_hash: str) -> dict[str, Any] | None:
        """Look a presented key up by its hash (before its tenant is known: system scope)."""
        with self.db.read(SYSTEM) as conn:
            row = conn.execute(select(S.api_keys).where(
                S.api_keys.c.secret_hash == secret_hash)).mappings().first()
        return _key_row(row) if row else None

    def list(self, tenant: str) -> list[dict[str, Any]]:
        with self.db.read(tenant) as conn:
            rows = conn.execute(select(S.api_keys).where(S.api_keys.c.tenant == tenant)
                                .order_by(S.api_keys.c.created_at, S.api_keys.c.id)).mappings()
            return [_key_row(r) for r in rows]

    def revoke(self, tenant: str, key_id: str, audit: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        k = S.api_keys.c
        with self.db.write(tenant) as conn:
            row = conn.execute(select(S.api_keys).where(k.tenant == tenant, k.id == key_id)
                               ).mappings().first()
            if row is None:
                raise NotFound(f"API key {key_id} not found")
            if row["revoked_at"] is None:
                conn.execute(S.api_keys.update().where(k.id == key_id).values(revoked_at=now()))
                if audit is not None:
                    self.audit.append_in(conn, audit)
            row = conn.execute(select(S.api_keys).where(k.id == key_id)).mappings().one()
        return _key_row(row)

    def touch(self, key_id: str, at: datetime) -> None:
        with self.db.write(SYSTEM) as conn:
            conn.execute(S.api_keys.update().where(S.api_keys.c.id == key_id)
                         .values(last_used_at=at))

    def count(self) -> int:
        with self.db.read(SYSTEM) as conn:
            return int(conn.execute(select(func.count()).select_from(S.api_keys)).scalar_one())


def _key_row(r: Any) -> dict[str, Any]:
    out = dict(r)
    out["roles"] = out["roles"].split()
    for k in ("created_at", "expires_at", "revoked_at", "last_used_at"):
        if out[k] is not None and out[k].tzinfo is None:
            out[k] = out[k].replace(tzinfo=UTC)
    return out
