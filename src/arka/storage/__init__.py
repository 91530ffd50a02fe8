"""Persistent store: rules, rulesets and append-only evaluations, on SQLite or PostgreSQL.

All access goes through SQLAlchemy Core; the schema is created and upgraded only by
Alembic migrations (`arka-cli db migrate --confirm`). No code path updates or deletes an
evaluation, and the database refuses it too (triggers).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError

from arka.base.errors import ArkaError
from arka.security import audit
from arka.storage import schema as S
from arka.storage.schema import DEFAULT_TENANT
from arka.trust import merkle
from arka.trust.merkle import NodeKey

if TYPE_CHECKING:
    from arka.security.crypto import RecordCipher

SYSTEM = "*"  # the store's scope for work across tenants (row-level security)
__all__ = ["DEFAULT_TENANT", "SYSTEM", "Conflict", "NotFound", "RuleRow", "Store",
           "StoreError", "copy_store"]

MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(ArkaError):
    code = "E_STORE"


class Conflict(ArkaError):
    code = "E_CONFLICT"


class NotFound(ArkaError):
    code = "E_NOT_FOUND"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RuleRow:
    name: str
    version: str
    source: str
    source_format: str
    source_hash: str
    bytecode: bytes
    bytecode_hash: str
    jurisdiction: str
    domain: str | None
    effective_date: str | None
    expiry_date: str | None
    created_at: datetime
    review: dict[str, Any] = field(default_factory=dict)  # status, deployed_by, reviewed_*

    @property
    def active(self) -> bool:
        return self.review.get("status", "active") == "active"

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "jurisdiction": self.jurisdiction,
                "domain": self.domain, "effective_date": self.effective_date,
                "expiry_date": self.expiry_date, "bytecode_hash": self.bytecode_hash,
                "created_at": self.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                **self.review}


def _semver_key(version: str) -> tuple[int, int, int]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    major, minor, patch = (int(p) for p in core.split("."))
    return major, minor, patch


class Store:
    def __init__(self, url: str, cipher: RecordCipher | None = None, *, pool_size: int = 10,
                 max_overflow: int = 20):
        self.url = url
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        # SQLite has one writer: writers of this process queue here instead of sleeping in
        # SQLite's busy handler, and a write transaction starts with BEGIN IMMEDIATE so that
        # what it reads (e.g. the log size) cannot change under it from another process.
        # PostgreSQL writers need neither.
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext())
        self._write_engine = self.engine
        self._postgres = self.engine.dialect.name == "postgresql"
        self.cipher = cipher
        self._group = _GroupCommit(self)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")

    def connections_available(self) -> float:
        """Free connections in this process's pool (size + overflow - checked out)."""
        pool = self.engine.pool
        size = getattr(pool, "size", lambda: 5)()
        overflow = max(getattr(pool, "_max_overflow", 0), 0)
        checked_out = getattr(pool, "checkedout", lambda: 0)()
        return float(size + overflow - checked_out)

    @contextlib.contextmanager
    def _write(self, tenant: str = SYSTEM) -> Iterator[Connection]:
        with self._write_lock, self._write_engine.begin() as conn:
            self._scope(conn, tenant)
            yield conn

    @contextlib.contextmanager
    def _read(self, tenant: str) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            self._scope(conn, tenant)
            yield conn

    def _scope(self, conn: Connection, tenant: str) -> None:
        """On PostgreSQL, name the tenant for row-level security (transaction-local)."""
        if self._postgres:
            conn.exec_driver_sql("SELECT set_config('arka.tenant', %s, true)", (tenant,))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # ------------------------------------------------------------ schema
    def _alembic(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def migrate(self) -> str:
        cfg = self._alembic()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return self.head_revision()

    def head_revision(self) -> str:
        return str(ScriptDirectory.from_config(self._alembic()).get_current_head())

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def status(self) -> dict[str, Any]:
        current = self.current_revision()
        head = self.head_revision()
        return {"dialect": self.dialect, "current_revision": current, "head_revision": head,
                "up_to_date": current == head}

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except Exception:  # noqa: BLE001 - readiness must report, not raise
            return False

    # ------------------------------------------------------------ rules
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
        major, minor, patch = _semver_key(version)
        try:
            with self._write(tenant) as conn:
                conn.execute(table.insert().values(
                    tenant=tenant, name=name, version=version, major=major, minor=minor,
                    patch=patch, source_hash=source_hash, created_at=_now(), status=status,
                    deployed_by=deployed_by, **values))
                if audit is not None:
                    self._append_audit(conn, audit)
        except IntegrityError:
            existing = fetch()
            if existing is None:
                raise
            return settle(existing)
        return fetch(), True

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
        with self._read(tenant) as conn:
            row = conn.execute(select(S.rules).where(S.rules.c.tenant == tenant,
                                                     S.rules.c.name == name,
                                                     S.rules.c.version == version)).first()
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"rule {name} version {version} not found")
        return _rule_row(row)

    def rule_versions(self, tenant: str, name: str) -> list[RuleRow]:
        with self._read(tenant) as conn:
            rows = conn.execute(select(S.rules).where(
                S.rules.c.tenant == tenant, S.rules.c.name == name).order_by(
                S.rules.c.major, S.rules.c.minor, S.rules.c.patch, S.rules.c.id)).all()
        return [_rule_row(r) for r in rows]

    def all_rules(self, tenant: str) -> list[RuleRow]:
        """Every rule version of a tenant; SYSTEM (`*`) for all tenants (warm-up)."""
        cond = [] if tenant == SYSTEM else [S.rules.c.tenant == tenant]
        with self._read(tenant) as conn:
            rows = conn.execute(select(S.rules).where(*cond).order_by(
                S.rules.c.name, S.rules.c.major, S.rules.c.minor, S.rules.c.patch,
                S.rules.c.id)).all()
        return [_rule_row(r) for r in rows]

    def rules_generation(self, tenant: str) -> tuple[int, int, int]:
        """Changes whenever a rule version of the tenant is added or reviewed."""
        return self._generation(tenant, S.rules)

    def _generation(self, tenant: str, table: Table) -> tuple[int, int, int]:
        c = table.c
        with self._read(tenant) as conn:
            row = conn.execute(select(func.count(), func.max(c.id),
                                      func.count(c.reviewed_at))
                               .where(c.tenant == tenant)).one()
        return int(row[0]), int(row[1] or 0), int(row[2])

    def review(self, tenant: str, kind: str, name: str, version: str, status: str,
               reviewer: str, note: str | None, audit: dict[str, Any]) -> None:
        """Approve (`active`) or reject a pending version; Conflict when it is not pending."""
        table = {"rule": S.rules, "ruleset": S.rulesets, "table": S.reference_tables}[kind]
        c = table.c
        with self._write(tenant) as conn:
            row = conn.execute(select(c.status).where(c.tenant == tenant, c.name == name,
                                                      c.version == version)).first()
            if row is None:
                raise NotFound(f"{kind} {name} version {version} not found")
            if row.status != "pending":
                raise Conflict(f"{kind} {name} version {version} is {row.status}, not pending "
                               "approval")
            conn.execute(table.update().where(c.tenant == tenant, c.name == name,
                                              c.version == version).values(
                status=status, reviewed_by=reviewer, reviewed_at=_now(), review_note=note))
            self._append_audit(conn, audit)

    def pending(self, tenant: str) -> list[dict[str, Any]]:
        out = []
        for kind, table in (("rule", S.rules), ("ruleset", S.rulesets),
                            ("table", S.reference_tables)):
            c = table.c
            with self._read(tenant) as conn:
                for r in conn.execute(select(c.name, c.version, c.deployed_by, c.created_at,
                                             c.source_hash)
                                      .where(c.tenant == tenant, c.status == "pending")
                                      .order_by(c.id)):
                    out.append({"kind": kind, "name": r.name, "version": r.version,
                                "deployed_by": r.deployed_by, "source_hash": r.source_hash,
                                "created_at": _ts(r.created_at)})
        return out

    def rule_names(self, tenant: str, page: int, per_page: int) -> tuple[list[str], int]:
        mine = S.rules.c.tenant == tenant
        with self._read(tenant) as conn:
            total = conn.execute(select(func.count(func.distinct(S.rules.c.name))).where(mine)
                                 ).scalar_one()
            names = conn.execute(select(S.rules.c.name).where(mine).distinct()
                                 .order_by(S.rules.c.name)
                                 .limit(per_page).offset((page - 1) * per_page)).scalars().all()
        return list(names), int(total)

    # ------------------------------------------------------------ rulesets
    def put_ruleset(self, tenant: str, *, name: str, version: str, source: str, source_hash: str,
                    spec: dict[str, Any], audit: dict[str, Any] | None = None,
                    status: str = "active", deployed_by: str | None = None
                    ) -> tuple[dict[str, Any], bool]:
        return self._put_versioned(
            tenant, S.rulesets, "ruleset", name, version, source_hash,
            dict(source=source, spec=json.dumps(spec, sort_keys=True)),
            lambda: self.get_ruleset(tenant, name, version, missing_ok=True),
            lambda r: r["source_hash"], audit, status, deployed_by)

    def get_ruleset(self, tenant: str, name: str, version: str, missing_ok: bool = False
                    ) -> dict[str, Any] | None:
        with self._read(tenant) as conn:
            row = conn.execute(select(S.rulesets).where(S.rulesets.c.tenant == tenant,
                                                        S.rulesets.c.name == name,
                                                        S.rulesets.c.version == version)).first()
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"ruleset {name} version {version} not found")
        return _ruleset_row(row)

    def ruleset_versions(self, tenant: str, name: str) -> list[dict[str, Any]]:
        with self._read(tenant) as conn:
            rows = conn.execute(select(S.rulesets).where(
                S.rulesets.c.tenant == tenant, S.rulesets.c.name == name).order_by(
                S.rulesets.c.major, S.rulesets.c.minor, S.rulesets.c.patch)).all()
        return [_ruleset_row(r) for r in rows]

    def ruleset_names(self, tenant: str) -> list[str]:
        with self._read(tenant) as conn:
            return list(conn.execute(select(S.rulesets.c.name).where(
                S.rulesets.c.tenant == tenant).distinct()
                                     .order_by(S.rulesets.c.name)).scalars().all())

    # ------------------------------------------------------------ reference tables
    def put_table(self, tenant: str, *, name: str, version: str, kind: str, source: str, source_hash: str,
                  content_hash: str, audit: dict[str, Any] | None = None,
                  status: str = "active", deployed_by: str | None = None
                  ) -> tuple[dict[str, Any], bool]:
        return self._put_versioned(
            tenant, S.reference_tables, "table", name, version, source_hash,
            dict(kind=kind, source=source, content_hash=content_hash),
            lambda: self.get_table(tenant, name, version, missing_ok=True),
            lambda t: t["source_hash"], audit, status, deployed_by)

    def get_table(self, tenant: str, name: str, version: str, missing_ok: bool = False
                  ) -> dict[str, Any] | None:
        with self._read(tenant) as conn:
            row = conn.execute(select(S.reference_tables).where(
                S.reference_tables.c.tenant == tenant, S.reference_tables.c.name == name, S.reference_tables.c.version == version)).first()
        if row is None:
            if missing_ok:
                return None
            raise NotFound(f"table {name} version {version} not found")
        return _table_row(row)

    def all_tables(self, tenant: str) -> list[dict[str, Any]]:
        with self._read(tenant) as conn:
            rows = conn.execute(select(S.reference_tables).where(
                S.reference_tables.c.tenant == tenant).order_by(
                S.reference_tables.c.name, S.reference_tables.c.major,
                S.reference_tables.c.minor, S.reference_tables.c.patch)).all()
        return [_table_row(r) for r in rows]

    def tables_generation(self, tenant: str) -> tuple[int, int, int]:
        return self._generation(tenant, S.reference_tables)

    # ------------------------------------------------------------ API keys
    def put_api_key(self, row: dict[str, Any], audit: dict[str, Any] | None = None) -> None:
        with self._write(row["tenant"]) as conn:
            conn.execute(S.api_keys.insert(), row)
            if audit is not None:
                self._append_audit(conn, audit)

    def api_key_by_hash(self, secret_hash: str) -> dict[str, Any] | None:
        """Look a presented key up by its hash (before its tenant is known: system scope)."""
        with self._read(SYSTEM) as conn:
            row = conn.execute(select(S.api_keys).where(
                S.api_keys.c.secret_hash == secret_hash)).mappings().first()
        return _key_row(row) if row else None

    def list_api_keys(self, tenant: str) -> list[dict[str, Any]]:
        with self._read(tenant) as conn:
            rows = conn.execute(select(S.api_keys).where(S.api_keys.c.tenant == tenant)
                                .order_by(S.api_keys.c.created_at, S.api_keys.c.id)).mappings()
            return [_key_row(r) for r in rows]

    def revoke_api_key(self, tenant: str, key_id: str, audit: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
        k = S.api_keys.c
        with self._write(tenant) as conn:
            row = conn.execute(select(S.api_keys).where(k.tenant == tenant, k.id == key_id)
                               ).mappings().first()
            if row is None:
                raise NotFound(f"API key {key_id} not found")
            if row["revoked_at"] is None:
                conn.execute(S.api_keys.update().where(k.id == key_id).values(
                    revoked_at=_now()))
                if audit is not None:
                    self._append_audit(conn, audit)
            row = conn.execute(select(S.api_keys).where(k.id == key_id)).mappings().one()
        return _key_row(row)

    def touch_api_key(self, key_id: str, at: datetime) -> None:
        with self._write(SYSTEM) as conn:
            conn.execute(S.api_keys.update().where(S.api_keys.c.id == key_id)
                         .values(last_used_at=at))

    def count_api_keys(self) -> int:
        with self._read(SYSTEM) as conn:
            return int(conn.execute(select(func.count()).select_from(S.api_keys)).scalar_one())

    # ------------------------------------------------------------ audit log
    def append_audit(self, event: dict[str, Any], unless_same: str | None = None
                     ) -> dict[str, Any] | None:
        """Append an event to its tenant's hash chain (sets idx, prev_hash, hash). With
        `unless_same`, nothing is appended when the newest event of the same action has
        the same value of that detail (checked under the chain's lock)."""
        with self._write(event["tenant"]) as conn:
            if unless_same is not None:
                self._lock_chain(conn, event["tenant"])
                a = S.audit_events.c
                last = conn.execute(select(a.details).where(
                    a.tenant == event["tenant"], a.action == event["action"])
                    .order_by(a.idx.desc()).limit(1)).first()
                if last is not None and json.loads(last.details).get(unless_same) == \
                        event["details"].get(unless_same):
                    return None
            return self._append_audit(conn, event)

    def _lock_chain(self, conn: Connection, tenant: str) -> None:
        if self._postgres:  # one appender per tenant chain at a time, across processes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(9162, hashtext(%s))",
                                 (tenant,))

    def _append_audit(self, conn: Connection, event: dict[str, Any]) -> dict[str, Any]:
        a = S.audit_events.c
        self._lock_chain(conn, event["tenant"])
        last = conn.execute(select(a.idx, a.hash).where(a.tenant == event["tenant"])
                            .order_by(a.idx.desc()).limit(1)).first()
        event = dict(event, idx=0 if last is None else int(last.idx) + 1,
                     prev_hash=audit.GENESIS if last is None else last.hash)
        event["hash"] = audit.chain_hash(event["prev_hash"], event)
        conn.execute(S.audit_events.insert(),
                     dict(event, details=audit.details_text(event["details"])))
        return event

    def audit_events(self, tenant: str, *, page: int, per_page: int,
                     action: str | None = None, outcome: str | None = None
                     ) -> tuple[list[dict[str, Any]], int]:
        a = S.audit_events.c
        cond = [a.tenant == tenant]
        if action:
            cond.append(a.action == action)
        if outcome:
            cond.append(a.outcome == outcome)
        with self._read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.audit_events)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(S.audit_events).where(*cond).order_by(a.idx.desc())
                                .limit(per_page).offset((page - 1) * per_page)).mappings()
            return [_audit_row(r) for r in rows], int(total)

    def audit_chain(self, tenant: str, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """A tenant's whole chain in order, streamed."""
        a = S.audit_events.c
        with self._read(tenant) as conn:
            result = conn.execute(select(S.audit_events).where(a.tenant == tenant)
                                  .order_by(a.idx)).mappings()
            while chunk := result.fetchmany(batch):
                yield from (_audit_row(r) for r in chunk)

    def audit_tenants(self) -> list[str]:
        with self._read(SYSTEM) as conn:
            return list(conn.execute(select(S.audit_events.c.tenant).distinct()
                                     .order_by(S.audit_events.c.tenant)).scalars())

    # ------------------------------------------------------------ anchors
    def create_anchor(self, chain: str, tree_size: int, root_hash: str) -> dict[str, Any] | None:
        """A pending anchor; None when this chain already has one for that tree size."""
        now = _now()
        try:
            with self._write() as conn:
                conn.execute(S.anchors.insert().values(
                    chain=chain, tree_size=tree_size, root_hash=root_hash, status="pending",
                    confirmations=0, attempts=0, reorgs=0, next_attempt_at=0.0, created_at=now,
                    updated_at=now))
        except IntegrityError:
            return None
        return self.find_anchor(chain, tree_size)

    def update_anchor(self, anchor_id: int, **values: Any) -> dict[str, Any]:
        with self._write() as conn:
            conn.execute(S.anchors.update().where(S.anchors.c.id == anchor_id)
                         .values(updated_at=_now(), **values))
        return self.get_anchor(anchor_id)

    def claim_anchor(self, anchor_id: int, expected_status: str, **values: Any) -> bool:
        """Update an anchor only if it still has `expected_status` (one process wins)."""
        with self._write() as conn:
            result = conn.execute(S.anchors.update().where(
                S.anchors.c.id == anchor_id, S.anchors.c.status == expected_status)
                .values(updated_at=_now(), **values))
        return bool(result.rowcount)

    def get_anchor(self, anchor_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.anchors).where(S.anchors.c.id == anchor_id)
                               ).mappings().first()
        if row is None:
            raise NotFound(f"anchor {anchor_id} not found")
        return dict(row)

    def find_anchor(self, chain: str, tree_size: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.anchors).where(S.anchors.c.chain == chain,
                                                       S.anchors.c.tree_size == tree_size)
                               ).mappings().first()
        return dict(row) if row else None

    def anchors_for(self, chain: str, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(S.anchors).where(
                S.anchors.c.chain == chain, S.anchors.c.status.in_(statuses))
                .order_by(S.anchors.c.tree_size)).mappings().all()
        return [dict(r) for r in rows]

    def latest_anchor(self, chain: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.anchors).where(
                S.anchors.c.chain == chain, S.anchors.c.status != "failed")
                .order_by(S.anchors.c.tree_size.desc()).limit(1)).mappings().first()
        return dict(row) if row else None

    def list_anchors(self, page: int, per_page: int, chain: str | None = None,
                     status: str | None = None) -> tuple[list[dict[str, Any]], int]:
        cond = []
        if chain:
            cond.append(S.anchors.c.chain == chain)
        if status:
            cond.append(S.anchors.c.status == status)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(S.anchors).where(*cond)
                                 ).scalar_one()
            rows = conn.execute(select(S.anchors).where(*cond).order_by(S.anchors.c.id)
                                .limit(per_page).offset((page - 1) * per_page)).mappings().all()
        return [dict(r) for r in rows], int(total)

    def covering_anchors(self, log_index: int) -> list[dict[str, Any]]:
        """Per chain, the first confirmed anchor whose tree contains this leaf."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(S.anchors).where(
                S.anchors.c.status == "confirmed", S.anchors.c.tree_size > log_index)
                .order_by(S.anchors.c.chain, S.anchors.c.tree_size)).mappings().all()
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            out.setdefault(r["chain"], dict(r))
        return list(out.values())

    # ------------------------------------------------------------ evaluations
    def _seal(self, record: dict[str, Any]) -> tuple[str, str | None]:
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if self.cipher is None:
            return text, None
        return self.cipher.seal(text, record["evaluation_id"])

    def _open(self, text: str, key_id: str | None, evaluation_id: str) -> dict[str, Any]:
        if key_id is not None:
            if self.cipher is None:
                raise StoreError(f"evaluation {evaluation_id} is encrypted with key {key_id}, "
                                 "but no encryption key is configured")
            text = self.cipher.open(text, key_id, evaluation_id)
        return json.loads(text)

    def _row(self, tenant: str, record: dict[str, Any], now: datetime,
             idempotency_key: str | None, request_hash: str | None) -> dict[str, Any]:
        text, key_id = self._seal(record)
        return dict(id=record["evaluation_id"], tenant=tenant, timestamp=record["timestamp"],
                    created_at=now, decision=record["result"]["decision"],
                    rule_ids=_rule_ids(record), idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    output_hash=record["trust_proof"]["output_hash"], record=text,
                    key_id=key_id)

    def put_evaluation(self, tenant: str, record: dict[str, Any], *, leaf_hash: bytes,
                       idempotency_key: str | None, request_hash: str | None
                       ) -> tuple[dict[str, Any], bool]:
        """Append an evaluation and its proof's log leaf (setting `log_index`), atomically.
        With an idempotency key already used, return the stored evaluation (same request)
        or raise Conflict (a different request)."""
        if idempotency_key is not None:
            prior = self.find_idempotent(tenant, idempotency_key, request_hash)
            if prior is not None:
                return prior, False
        try:
            with self._write(tenant) as conn:
                record["log_index"] = self._append_leaves(
                    conn, [(record["evaluation_id"], leaf_hash)])
                conn.execute(S.evaluations.insert(),
                             self._row(tenant, record, _now(), idempotency_key, request_hash))
        except IntegrityError:
            if idempotency_key is not None:
                prior = self.find_idempotent(tenant, idempotency_key, request_hash)
                if prior is not None:
                    return prior, False
            raise
        return record, True

    def append_evaluation(self, tenant: str, record: dict[str, Any], leaf_hash: bytes) -> None:
        """Append one evaluation (no idempotency key), committed together with whatever
        other threads of this process are appending at the same moment (group commit):
        one transaction and one log append for the whole group. Returns once it is
        durable, with `log_index` set."""
        self._group.submit(tenant, record, leaf_hash)

    def put_evaluations(self, tenants: list[str], records: list[dict[str, Any]],
                        leaf_hashes: list[bytes]) -> None:
        """Append many evaluations (no idempotency keys; each of its tenant) and their log
        leaves, atomically."""
        if not records:
            return
        now = _now()
        scope = tenants[0] if len(set(tenants)) == 1 else SYSTEM
        with self._write(scope) as conn:
            first = self._append_leaves(conn, [(r["evaluation_id"], h) for r, h in
                                               zip(records, leaf_hashes, strict=True)])
            for k, r in enumerate(records):
                r["log_index"] = first + k
            rows = [self._row(t, r, now, None, None)
                    for t, r in zip(tenants, records, strict=True)]
            conn.execute(S.evaluations.insert(), rows)

    # ------------------------------------------------------------ transparency log
    def _append_leaves(self, conn: Connection, items: list[tuple[str, bytes]]) -> int:
        """Append leaves in order; writes every subtree they complete. Returns the first index."""
        if self.dialect == "postgresql":  # one appender at a time, across processes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(6962)")
        start = int(conn.execute(select(func.coalesce(func.max(S.log_leaves.c.idx) + 1, 0)))
                    .scalar_one())
        wanted: set[NodeKey] = set()
        for k in range(len(items)):
            level, i = 0, start + k
            while i & 1:
                if ((i - 1) + 1) << level <= start:  # completed before this batch: stored
                    wanted.add((level, i - 1))
                level, i = level + 1, i >> 1
        nodes = self._fetch_nodes(conn, wanted)
        leaf_rows: list[tuple[int, str, bytes]] = []
        node_rows: list[tuple[int, bytes]] = []
        for k, (evaluation_id, leaf) in enumerate(items):
            idx = start + k
            leaf_rows.append((idx, evaluation_id, leaf))
            for key, h in merkle.nodes_completed_by_append(idx, leaf, nodes.__getitem__):
                nodes[key] = h
                node_rows.append((_node_key(key), h))
        # Plain DB-API executemany: the log is the hottest write path, and these two
        # statements need none of SQLAlchemy's per-row parameter processing.
        p = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(f"INSERT INTO log_leaves (idx, evaluation_id, leaf_hash) "
                             f"VALUES ({p}, {p}, {p})", leaf_rows)
        conn.exec_driver_sql(f"INSERT INTO log_nodes (key, hash) VALUES ({p}, {p})",
                             node_rows)
        return start

    @staticmethod
    def _fetch_nodes(conn: Connection, keys: set[NodeKey]) -> dict[NodeKey, bytes]:
        out: dict[NodeKey, bytes] = {}
        if not keys:
            return out
        # plain DB-API: proofs are read on a hot path and need no statement compilation
        p = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        params = [_node_key(k) for k in keys]
        rows = conn.exec_driver_sql(
            f"SELECT key, hash FROM log_nodes WHERE key IN ({', '.join([p] * len(params))})",
            tuple(params))
        for key, h in rows:
            out[(key >> 48, key & _INDEX_MASK)] = bytes(h)
        missing = keys - out.keys()
        if missing:
            raise StoreError(f"the log is missing subtree hashes {sorted(missing)[:3]}")
        return out

    def log_nodes(self, keys: set[NodeKey]) -> dict[NodeKey, bytes]:
        with self.engine.connect() as conn:
            return self._fetch_nodes(conn, keys)

    def log_size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(S.log_leaves.c.idx) + 1, 0)))
                       .scalar_one())

    def log_leaf(self, evaluation_id: str) -> tuple[int, bytes]:
        with self.engine.connect() as conn:
            p = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            row = conn.exec_driver_sql(f"SELECT idx, leaf_hash FROM log_leaves WHERE "
                                       f"evaluation_id = {p}", (evaluation_id,)).first()
        if row is None:
            raise NotFound(f"evaluation {evaluation_id} is not in the log")
        return int(row.idx), bytes(row.leaf_hash)

    def latest_head(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.log_heads).order_by(S.log_heads.c.tree_size.desc())
                               .limit(1)).mappings().first()
        return dict(row) if row else None

    def get_head(self, tree_size: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.log_heads).where(S.log_heads.c.tree_size == tree_size)
                               ).mappings().first()
        return dict(row) if row else None

    def put_head(self, head: dict[str, Any]) -> dict[str, Any]:
        """Store a signed tree head; if one for that size exists already, that one stands."""
        try:
            with self._write() as conn:
                conn.execute(S.log_heads.insert(), head)
        except IntegrityError:
            existing = self.get_head(int(head["tree_size"]))
            assert existing is not None
            return existing
        return head

    def find_idempotent(self, tenant: str, key: str, request_hash: str | None
                        ) -> dict[str, Any] | None:
        e = S.evaluations.c
        with self._read(tenant) as conn:
            row = conn.execute(select(e.id, e.record, e.key_id, e.request_hash).where(
                e.tenant == tenant, e.idempotency_key == key)).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Conflict(f"idempotency key {key!r} was used for a different request")
        return self._open(row.record, row.key_id, row.id)

    def get_evaluation(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        e = S.evaluations.c
        with self._read(tenant) as conn:
            row = conn.execute(select(e.record, e.key_id).where(
                e.tenant == tenant, e.id == evaluation_id)).first()
        if row is None:
            raise NotFound(f"evaluation {evaluation_id} not found")
        return self._open(row.record, row.key_id, evaluation_id)

    def list_evaluations(self, tenant: str, *, decision: str | None, rule_id: str | None,
                         start: str | None, end: str | None, page: int, per_page: int
                         ) -> tuple[list[dict[str, Any]], int]:
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
        with self._read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.evaluations)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(e.id, e.record, e.key_id).where(*cond).order_by(e.seq)
                                .limit(per_page).offset((page - 1) * per_page)).all()
        return [self._open(r.record, r.key_id, r.id) for r in rows], int(total)

    def count_evaluations(self, tenant: str = SYSTEM) -> int:
        cond = [] if tenant == SYSTEM else [S.evaluations.c.tenant == tenant]
        with self._read(tenant) as conn:
            return int(conn.execute(select(func.count()).select_from(S.evaluations)
                                    .where(*cond)).scalar_one())


_INDEX_MASK = (1 << 48) - 1
def _node_key(key: NodeKey) -> int:
    level, index = key
    return (level << 48) | index


class _Pending:
    __slots__ = ("tenant", "record", "leaf", "event", "lead", "error")

    def __init__(self, tenant: str, record: dict[str, Any], leaf: bytes):
        self.tenant, self.record, self.leaf = tenant, record, leaf
        self.event = threading.Event()
        self.lead = False
        self.error: BaseException | None = None


class _GroupCommit:
    """Group commit: the first waiting writer leads, writing everything queued so far in
    one transaction, then hands the lead to the next writer in the queue (so no thread
    serves others forever). Writers that arrive while a group is being written wait for
    the next group."""

    MAX_GROUP = 256

    def __init__(self, store: Store):
        self.store = store
        self.lock = threading.Lock()
        self.queue: list[_Pending] = []
        self.busy = False

    def submit(self, tenant: str, record: dict[str, Any], leaf: bytes) -> None:
        item = _Pending(tenant, record, leaf)
        with self.lock:
            self.queue.append(item)
            if not self.busy:
                self.busy = item.lead = True
        if not item.lead:
            item.event.wait()
            if not item.lead:  # written by another leader's group
                if item.error is not None:
                    raise item.error
                return
        with self.lock:  # the leader is always at the head of the queue
            group = self.queue[:self.MAX_GROUP]
            del self.queue[:self.MAX_GROUP]
        try:
            self.store.put_evaluations([g.tenant for g in group], [g.record for g in group],
                                       [g.leaf for g in group])
        except BaseException as exc:  # every writer of the group learns of the failure
            for g in group:
                g.error = exc
        for g in group:
            if g is not item:
                g.event.set()
        with self.lock:
            if self.queue:
                nxt = self.queue[0]
                nxt.lead = True
                nxt.event.set()
            else:
                self.busy = False
        if item.error is not None:
            raise item.error


def copy_store(source: Store, target: Store, batch: int = 1000) -> dict[str, int]:
    """Copy everything from one store into another (migrated, empty) one, e.g. SQLite to
    PostgreSQL. Evaluations keep their order; nothing in the source changes."""
    if target.current_revision() != target.head_revision():
        raise StoreError("the target database is not migrated; run db migrate --confirm on it")
    if source.current_revision() != target.current_revision():
        raise StoreError("source and target are at different schema revisions")
    counts: dict[str, int] = {}
    with source.engine.connect() as src, target._write() as dst:
        for table in (S.rules, S.rulesets, S.reference_tables, S.evaluations, S.log_leaves,
                      S.log_nodes, S.log_heads, S.anchors, S.api_keys, S.audit_events):
            if dst.execute(select(func.count()).select_from(table)).scalar_one():
                raise StoreError(f"the target already holds {table.name}; copy into an empty "
                                 "database")
            order_by = {"evaluations": ("seq",), "audit_events": ("seq",), "log_leaves": ("idx",),
                        "log_nodes": ("key",), "log_heads": ("tree_size",)}
            order = [table.c[name] for name in order_by.get(table.name, ("id",))]
            counts[table.name] = 0
            result = src.execute(select(table).order_by(*order)).mappings()
            while chunk := result.fetchmany(batch):
                dst.execute(table.insert(), [dict(r) for r in chunk])
                counts[table.name] += len(chunk)
        if target.dialect == "postgresql":  # keep the id sequences past the copied ids
            for table, column in ((S.rules, "id"), (S.rulesets, "id"),
                                  (S.reference_tables, "id"), (S.evaluations, "seq"),
                                  (S.anchors, "id"), (S.audit_events, "seq")):
                dst.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                    f"COALESCE((SELECT MAX({column}) FROM {table.name}), 0) + 1, false)")
    return counts


def _rule_ids(record: dict[str, Any]) -> str:
    """Names of the rules that ran, space-delimited for `rule_id` filtering."""
    return " " + " ".join(r["rule_id"] for r in record.get("rule_results", [])
                          if r.get("status") != "skipped") + " "


def _ts(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _review(r: Any) -> dict[str, Any]:
    return {"status": r.status, "deployed_by": r.deployed_by, "reviewed_by": r.reviewed_by,
            "reviewed_at": _ts(r.reviewed_at), "review_note": r.review_note}


def _rule_row(r: Any) -> RuleRow:
    created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
    return RuleRow(r.name, r.version, r.source, r.source_format, r.source_hash, bytes(r.bytecode),
                   r.bytecode_hash, r.jurisdiction, r.domain, r.effective_date, r.expiry_date,
                   created, _review(r))


def _key_row(r: Any) -> dict[str, Any]:
    out = dict(r)
    out["roles"] = out["roles"].split()
    for k in ("created_at", "expires_at", "revoked_at", "last_used_at"):
        if out[k] is not None and out[k].tzinfo is None:
            out[k] = out[k].replace(tzinfo=UTC)
    return out


def _audit_row(r: Any) -> dict[str, Any]:
    out = dict(r)
    out.pop("seq", None)
    out["idx"] = int(out["idx"])
    out["details"] = json.loads(out["details"])
    return out


def _table_row(r: Any) -> dict[str, Any]:
    return {"name": r.name, "version": r.version, "kind": r.kind, "source": r.source,
            "source_hash": r.source_hash, "content_hash": r.content_hash, **_review(r)}


def _ruleset_row(r: Any) -> dict[str, Any]:
    return {"name": r.name, "version": r.version, "source": r.source,
            "source_hash": r.source_hash, "spec": json.loads(r.spec), **_review(r)}


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "DEFERRED"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
