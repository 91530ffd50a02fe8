"""Evaluation records: append-only, each with its log leaf in the same transaction.

Records are sealed by the `RecordSealer` the store is given (JSON text, encrypted when a
key is configured); rows also carry the fields queries filter on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from arka.base.batching import Batcher
from arka.base.errors import Conflict, NotFound
from arka.security.sealing import RecordSealer
from arka.storage.sql import schema as S
from arka.storage.sql.database import SYSTEM, Database, now
from arka.storage.sql.log import SqlLog

GROUP_MAX = 256


class SqlEvaluations:
    def __init__(self, db: Database, log: SqlLog, sealer: RecordSealer):
        self.db = db
        self.log = log
        self.sealer = sealer
        self._group: Batcher[tuple[str, dict[str, Any], bytes], None] = Batcher(
            self._write_group, GROUP_MAX)

    def _row(self, tenant: str, record: dict[str, Any], idempotency_key: str | None,
             request_hash: str | None) -> dict[str, Any]:
        text, key_id = self.sealer.seal(record)
        return dict(id=record["evaluation_id"], tenant=tenant, timestamp=record["timestamp"],
                    created_at=now(), decision=record["result"]["decision"],
                    rule_ids=_rule_ids(record), idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    output_hash=record["trust_proof"]["output_hash"], record=text,
                    key_id=key_id)

    def put_keyed(self, tenant: str, record: dict[str, Any], leaf_hash: bytes,
                  idempotency_key: str, request_hash: str) -> tuple[dict[str, Any], bool]:
        """Append an evaluation under an idempotency key the caller has looked up and holds
        (`find_idempotent` found nothing). If another writer stored the key meanwhile, its
        record is returned (same request) or Conflict raised (a different one)."""
        try:
            with self.db.write(tenant) as conn:
                record["log_index"] = self.log.append_in(
                    conn, [(record["evaluation_id"], leaf_hash)])
                conn.execute(S.evaluations.insert(),
                             self._row(tenant, record, idempotency_key, request_hash))
        except IntegrityError:
            prior = self.find_idempotent(tenant, idempotency_key, request_hash)
            if prior is not None:
                return prior, False
            raise
        return record, True

    def append(self, tenant: str, record: dict[str, Any], leaf_hash: bytes) -> None:
        """Append one evaluation (no idempotency key), committed together with whatever
        other threads of this process are appending at the same moment (group commit):
        one transaction and one log append for the whole group. Returns once it is
        durable, with `log_index` set."""
        self._group.submit((tenant, record, leaf_hash))

    def _write_group(self, group: list[tuple[str, dict[str, Any], bytes]]) -> list[None]:
        self.put_many([t for t, _, _ in group], [r for _, r, _ in group],
                      [h for _, _, h in group])
        return [None] * len(group)

    def put_many(self, tenants: list[str], records: list[dict[str, Any]],
                 leaf_hashes: list[bytes]) -> None:
        """Append many evaluations (no idempotency keys; each of its tenant) and their log
        leaves, atomically."""
        if not records:
            return
        scope = tenants[0] if len(set(tenants)) == 1 else SYSTEM
        with self.db.write(scope) as conn:
            first = self.log.append_in(conn, [(r["evaluation_id"], h) for r, h in
                                              zip(records, leaf_hashes, strict=True)])
            for k, r in enumerate(records):
                r["log_index"] = first + k
            rows = [self._row(t, r, None, None) for t, r in zip(tenants, records, strict=True)]
            conn.execute(S.evaluations.insert(), rows)

    def find_idempotent(self, tenant: str, key: str, request_hash: str | None
                        ) -> dict[str, Any] | None:
        e = S.evaluations.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(e.id, e.record, e.key_id, e.request_hash).where(
                e.tenant == tenant, e.idempotency_key == key)).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Conflict(f"idempotency key {key!r} was used for a different request")
        return self.sealer.open(row.record, row.key_id, row.id)

    def get(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        e = S.evaluations.c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(e.record, e.key_id).where(
                e.tenant == tenant, e.id == evaluation_id)).first()
        if row is None:
            raise NotFound(f"evaluation {evaluation_id} not found")
        return self.sealer.open(row.record, row.key_id, evaluation_id)

    def list(self, tenant: str, *, decision: str | None = None, rule_id: str | None = None,
             start: str | None = None, end: str | None = None, page: int = 1,
             per_page: int = 20) -> tuple[list[dict[str, Any]], int]:
        e = S.evaluations.c
        cond = [e.tenant == tenant]
        if decision:
            cond.append(e.decision == decision)
        if rule_id:
            cond.append(e.rule_ids.contains(f" {rule_id} "))
        if start:
            cond.append(e.timestamp >= start)
        if end:
            cond.append(e.timestamp <= end)
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.evaluations)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(e.id, e.record, e.key_id).where(*cond).order_by(e.seq)
                                .limit(per_page).offset((page - 1) * per_page)).all()
        return [self.sealer.open(r.record, r.key_id, r.id) for r in rows], int(total)

    def count(self, tenant: str = SYSTEM) -> int:
        cond = [] if tenant == SYSTEM else [S.evaluations.c.tenant == tenant]
        with self.db.read(tenant) as conn:
            return int(conn.execute(select(func.count()).select_from(S.evaluations)
                                    .where(*cond)).scalar_one())


def _rule_ids(record: dict[str, Any]) -> str:
    """Names of the rules that ran, space-delimited for `rule_id` filtering."""
    return " " + " ".join(r["rule_id"] for r in record.get("rule_results", [])
                          if r.get("status") != "skipped") + " "
