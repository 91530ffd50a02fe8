"""Versioned documents of a tenant: rules, rulesets, reference tables and named schemas.
Every version is immutable once stored; review (four eyes) changes only its status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from arka.base.errors import Conflict, NotFound
from arka.base.semver import core_numbers
from arka.storage.records import RuleRow, review_fields
from arka.storage.sql import schema as S
from arka.storage.sql.audit import SqlAudit
from arka.storage.sql.database import SYSTEM, Database, now, ts

KINDS: dict[str, Table] = {"rule": S.rules, "ruleset": S.rulesets, "table": S.reference_tables,
                          "schema": S.schemas}


class SqlRegistry:
    def __init__(self, db: Database, audit: SqlAudit):
        self.db = db
        self.audit = audit

    def _put_versioned(self, tenant: str, table: Table, what: str, name: str, version: str,
                       source_hash: str, values: dict[str, Any], fetch: Callable[[], Any],
                       hash_of: Callable[[Any], str], audit: dict[str, Any] | None = None,
                       status: str = "active", deployed_by: str | None = None
                       ) -> tuple[Any, bool]:
        """Store one immutable version of a named document; (stored, created).

        The same content again is idempotent; other content under an existing version is
        a Conflict, also when a concurrent deploy of that version wins the race.
        """
        def settle(existing: Any) -> tuple[Any, bool]:
            if hash_of(existing) != source_hash:
                raise Conflict(f"{what} {name} version {version} already exists with different "
                               "content; versions are immutable, deploy a higher version")
            return existing, False

        existing = fetch()
        if existing is not None:
            return settle(existing)
        major, minor, patch = core_numbers(version)
        try:
            with self.db.write(tenant) as conn:
                conn.execute(table.insert().values(
                    tenant=tenant, name=name, version=version, major=major, minor=minor,
                    patch=patch, source_hash=source_hash, created_at=now(), status=status,
                    deployed_by=deployed_by, **values))
                if audit is not None:
                    self.audit.append_in(conn, audit)
        except IntegrityError:
            existing = fetch()
            if existing is None:
                raise
            return settle(existing)
        return fetch(), True

    def _one(self, tenant: str, table: Table, name: str, version: str) -> Any:
        c = table.c
        with self.db.read(tenant) as conn:
            return conn.execute(select(table).where(c.tenant == tenant, c.name == name,
                                                    c.version == version)).first()

    def _versions(self, tenant: str, table: Table, name: str) -> list[Any]:
        c = table.c
        with self.db.read(tenant) as conn:
            return list(conn.execute(select(table).where(c.tenant == tenant, c.name == name)
                                     .order_by(c.major, c.minor, c.patch, c.id)).all())

    # ------------------------------------------------------------ rules
    def put_rule(self, tenant: str, *, name: str, version: str, source: str, source_format: str,
                 source_hash: str, bytecode: bytes, bytecode_hash: str, jurisdiction: str,
                 domain: str | None, effective_date: str | None, expiry_date: str | None,
                 audit: dict[str, Any] | None = None, status: str = "active",
                 deployed_by: str | None = None) -> tuple[RuleRow, bool]:
        """Store a rule version; (row, created). Same version with other content: Conflict."""
        return self._put_versioned(
            tenant, S.rules, "rule", name, version, source_hash,
            dict(source=source, source_format=source_format, bytecode=bytecode,
                 bytecode_hash=bytecode_hash, jurisdiction=jurisdiction, domain=domain,
                 effective_date=effective_date, expiry_date=expiry_date),
            lambda: self.get_rule(tenant, name, version, missing_ok=True),
            lambda r: r.source_hash, audit, status, deployed_by)

    def get_rule(self, tenant: str, name: str, version: str, missing_ok: bool = False
                 ) -> RuleRow | None:
        row = self._one(tenant, S.rules, name, version)
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"rule {name} version {version} not found")
        return RuleRow.from_row(row)

    def rule_versions(self, tenant: str, name: str) -> list[RuleRow]:
        return [RuleRow.from_row(r) for r in self._versions(tenant, S.rules, name)]

    def all_rules(self, tenant: str) -> list[RuleRow]:
        """Every rule version of a tenant; SYSTEM (`*`) for all tenants (warm-up)."""
        c = S.rules.c
        cond = [] if tenant == SYSTEM else [c.tenant == tenant]
        with self.db.read(tenant) as conn:
            rows = conn.execute(select(S.rules).where(*cond).order_by(
                c.name, c.major, c.minor, c.patch, c.id)).all()
        return [RuleRow.from_row(r) for r in rows]

    def rule_names(self, tenant: str, page: int, per_page: int) -> tuple[list[str], int]:
        mine = S.rules.c.tenant == tenant
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count(func.distinct(S.rules.c.name))).where(mine)
                                 ).scalar_one()
            names = conn.execute(select(S.rules.c.name).where(mine).distinct()
                                 .order_by(S.rules.c.name)
                                 .limit(per_page).offset((page - 1) * per_page)).scalars().all()
        return list(names), int(total)

    def generation(self, tenant: str, kind: str) -> tuple[int, int, int]:
        """Changes whenever a version of that kind is added or reviewed in the tenant."""
        c = KINDS[kind].c
        with self.db.read(tenant) as conn:
            row = conn.execute(select(func.count(), func.max(c.id), func.count(c.reviewed_at))
                               .where(c.tenant == tenant)).one()
        return int(row[0]), int(row[1] or 0), int(row[2])

    # ------------------------------------------------------------ rulesets
    def put_ruleset(self, tenant: str, *, name: str, version: str, source: str,
                    source_hash: str, spec: dict[str, Any], audit: dict[str, Any] | None = None,
                    status: str = "active", deployed_by: str | None = None
                    ) -> tuple[dict[str, Any], bool]:
        return self._put_versioned(
            tenant, S.rulesets, "ruleset", name, version, source_hash,
            dict(source=source, spec=json.dumps(spec, sort_keys=True)),
            lambda: self.get_ruleset(tenant, name, version, missing_ok=True),
            lambda r: r["source_hash"], audit, status, deployed_by)

    def get_ruleset(self, tenant: str, name: str, version: str, missing_ok: bool = False
                    ) -> dict[str, Any] | None:
        row = self._one(tenant, S.rulesets, name, version)
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"ruleset {name} version {version} not found")
        return _ruleset_row(row)

    def ruleset_versions(self, tenant: str, name: str) -> list[dict[str, Any]]:
        return [_ruleset_row(r) for r in self._versions(tenant, S.rulesets, name)]

    def ruleset_names(self, tenant: str) -> list[str]:
        with self.db.read(tenant) as conn:
            return list(conn.execute(select(S.rulesets.c.name).where(
                S.rulesets.c.tenant == tenant).distinct()
                                     .order_by(S.rulesets.c.name)).scalars().all())

    # ------------------------------------------------------------ reference tables
    def put_table(self, tenant: str, *, name: str, version: str, kind: str, source: str,
                  source_hash: str, content_hash: str, audit: dict[str, Any] | None = None,
                  status: str = "active", deployed_by: str | None = None
                  ) -> tuple[dict[str, Any], bool]:
        return self._put_versioned(
            tenant, S.reference_tables, "table", name, version, source_hash,
            dict(kind=kind, source=source, content_hash=content_hash),
            lambda: self.get_table(tenant, name, version, missing_ok=True),
            lambda t: t["source_hash"], audit, status, deployed_by)

    def get_table(self, tenant: str, name: str, version: str, missing_ok: bool = False
                  ) -> dict[str, Any] | None:
        row = self._one(tenant, S.reference_tables, name, version)
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"table {name} version {version} not found")
        return _table_row(row)

    def all_tables(self, tenant: str) -> list[dict[str, Any]]:
        c = S.reference_tables.c
        with self.db.read(tenant) as conn:
            rows = conn.execute(select(S.reference_tables).where(c.tenant == tenant).order_by(
                c.name, c.major, c.minor, c.patch)).all()
        return [_table_row(r) for r in rows]

    # ------------------------------------------------------------ named schemas
    def put_schema(self, tenant: str, *, name: str, version: str, source: str,
                   source_hash: str, content_hash: str, audit: dict[str, Any] | None = None,
                   status: str = "active", deployed_by: str | None = None
                   ) -> tuple[dict[str, Any], bool]:
        return self._put_versioned(
            tenant, S.schemas, "schema", name, version, source_hash,
            dict(source=source, content_hash=content_hash),
            lambda: self.get_schema(tenant, name, version, missing_ok=True),
            lambda s: s["source_hash"], audit, status, deployed_by)

    def get_schema(self, tenant: str, name: str, version: str, missing_ok: bool = False
                   ) -> dict[str, Any] | None:
        row = self._one(tenant, S.schemas, name, version)
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"schema {name} version {version} not found")
        return _schema_row(row)

    def all_schemas(self, tenant: str) -> list[dict[str, Any]]:
        """Every schema version of the tenant, by name, oldest version first."""
        c = S.schemas.c
        with self.db.read(tenant) as conn:
            rows = conn.execute(select(S.schemas).where(c.tenant == tenant).order_by(
                c.name, c.major, c.minor, c.patch, c.id)).all()
        return [_schema_row(r) for r in rows]

    # ------------------------------------------------------------ review
    def review(self, tenant: str, kind: str, name: str, version: str, status: str,
               reviewer: str, note: str | None, audit: dict[str, Any]) -> None:
        """Approve (`active`) or reject a pending version; Conflict when it is not pending."""
        table = KINDS[kind]
        c = table.c
        with self.db.write(tenant) as conn:
            row = conn.execute(select(c.status).where(c.tenant == tenant, c.name == name,
                                                      c.version == version)).first()
            if row is None:
                raise NotFound(f"{kind} {name} version {version} not found")
            if row.status != "pending":
                raise Conflict(f"{kind} {name} version {version} is {row.status}, not pending "
                               "approval")
            conn.execute(table.update().where(c.tenant == tenant, c.name == name,
                                              c.version == version).values(
                status=status, reviewed_by=reviewer, reviewed_at=now(), review_note=note))
            self.audit.append_in(conn, audit)

    def pending(self, tenant: str) -> list[dict[str, Any]]:
        out = []
        with self.db.read(tenant) as conn:
            for kind, table in KINDS.items():
                c = table.c
                for r in conn.execute(select(c.name, c.version, c.deployed_by, c.created_at,
                                             c.source_hash)
                                      .where(c.tenant == tenant, c.status == "pending")
                                      .order_by(c.id)):
                    out.append({"kind": kind, "name": r.name, "version": r.version,
                                "deployed_by": r.deployed_by, "source_hash": r.source_hash,
                                "created_at": ts(r.created_at)})
        return out


def _table_row(r: Any) -> dict[str, Any]:
    return {"name": r.name, "version": r.version, "kind": r.kind, "source": r.source,
            "source_hash": r.source_hash, "content_hash": r.content_hash, **review_fields(r)}


def _schema_row(r: Any) -> dict[str, Any]:
    return {"name": r.name, "version": r.version, "source": r.source,
            "source_hash": r.source_hash, "content_hash": r.content_hash,
            "created_at": ts(r.created_at), **review_fields(r)}


def _ruleset_row(r: Any) -> dict[str, Any]:
    return {"name": r.name, "version": r.version, "source": r.source,
            "source_hash": r.source_hash, "spec": json.loads(r.spec), **review_fields(r)}
