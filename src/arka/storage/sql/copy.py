"""Copy everything from one store into another (e.g. SQLite to PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from arka.base.errors import StoreError
from arka.storage.sql import schema as S
from arka.storage.sql.database import Database


def copy_store(source: Database, target: Database, batch: int = 1000) -> dict[str, int]:
    """Copy everything from one store into another (migrated, empty) one, e.g. SQLite to
    PostgreSQL. Evaluations keep their order; nothing in the source changes."""
    if target.current_revision() != target.head_revision():
        raise StoreError("the target database is not migrated; run db migrate --confirm on it")
    if source.current_revision() != target.current_revision():
        raise StoreError("source and target are at different schema revisions")
    counts: dict[str, int] = {}
    with source.engine.connect() as src, target.write() as dst:
        for table in (S.rules, S.rulesets, S.reference_tables, S.schemas, S.evaluations,
                      S.log_leaves, S.log_nodes, S.log_heads, S.anchors, S.api_keys,
                      S.audit_events, S.screening_allowlist, S.outbox, S.webhooks,
                      S.deliveries, S.cases, S.case_evaluations, S.case_events,
                      S.worker_leases, S.log_checkpoints, S.log_cosignatures,
                      S.log_witnesses):
            if dst.execute(select(func.count()).select_from(table)).scalar_one():
                raise StoreError(f"the target already holds {table.name}; copy into an empty "
                                 "database")
            order_by = {"evaluations": ("seq",), "audit_events": ("seq",), "log_leaves": ("idx",),
                        "log_nodes": ("key",), "log_heads": ("tree_size",),
                        "outbox": ("seq",), "case_events": ("seq",),
                        "case_evaluations": ("case_id", "evaluation_id"),
                        "worker_leases": ("name",),
                        "log_checkpoints": ("origin", "tree_size"),
                        "log_cosignatures": ("origin", "tree_size", "witness"),
                        "log_witnesses": ("origin", "witness")}
            order = [table.c[name] for name in order_by.get(table.name, ("id",))]
            counts[table.name] = 0
            result = src.execute(select(table).order_by(*order)).mappings()
            while chunk := result.fetchmany(batch):
                dst.execute(table.insert(), [dict(r) for r in chunk])
                counts[table.name] += len(chunk)
        if target.dialect == "postgresql":  # keep the id sequences past the copied ids
            for table, column in ((S.rules, "id"), (S.rulesets, "id"),
                                  (S.reference_tables, "id"), (S.schemas, "id"),
                                  (S.evaluations, "seq"),
                                  (S.anchors, "id"), (S.audit_events, "seq"),
                                  (S.outbox, "seq"), (S.case_events, "seq")):
                dst.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                    f"COALESCE((SELECT MAX({column}) FROM {table.name}), 0) + 1, false)")
    return counts
