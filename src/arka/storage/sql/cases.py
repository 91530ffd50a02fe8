"""Cases: work for an analyst that evaluations (or analysts) open, with the evaluations
linked to them and one hash chain of events per case (append-only; the database refuses
UPDATE and DELETE of `case_events`).

What a change does is decided above storage (`arka.app.cases`) and handed down as a
`CaseChange`; the store applies it in one transaction with the row locked: the event
linked into the case's chain (`arka.security.case_chain`), the columns, the sealed
details, the linked evaluations, the audit event and the outbox events. Either all of it
commits or none of it.

At most one case that is not closed exists per grouping key (a partial unique index):
two replicas opening the same key at once both try, one insert fails, and that one joins
the case the other opened. Values are checked here before they reach the database, so a
malformed or oversized one is a `CaseValueError` naming the field, never a driver error.
"""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from arka.base import values as V
from arka.base.errors import ArkaError, NotFound
from arka.security import case_chain as chain
from arka.security.sealing import RecordSealer
from arka.storage.ports import CaseChange
from arka.storage.sql import schema as S
from arka.storage.sql.audit import SqlAudit
from arka.storage.sql.database import SYSTEM, Database, now
from arka.storage.sql.outbox import SqlOutbox

CASE_ID = re.compile(r"case_[0-9a-f]{32}\Z")
EVENT_PREFIX = "cev_"
MAX_TENANT = 64
MAX_QUEUE = 128
MAX_PRIORITY = 32
MAX_ENTITY = 256
MAX_KEY = 512
MAX_ACTOR = 256
MAX_ACTION = 32
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000_000
JOIN_ATTEMPTS = 5  # a lost race for a grouping key is retried as a join
COLUMNS = ("queue", "status", "priority", "due_at", "entity_id", "grouping_key", "assignee",
           "assignee_group", "disposition", "closed_at")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CaseValueError(ArkaError):
    """A value of a case (or a query of them) is malformed or too large."""

    code = "E_CASE_VALUE"


class SqlCases:
    def __init__(self, db: Database, audit: SqlAudit, outbox: SqlOutbox,
                 sealer: RecordSealer):
        self.db = db
        self.audit = audit
        self.outbox = outbox
        self.sealer = sealer

    # ------------------------------------------------------------ writes
    def open_or_join(self, tenant: str, *, source: str, evaluation_id: str,
                     grouping_key: str | None,
                     new: Callable[[], tuple[dict[str, Any], CaseChange]],
                     join: Callable[[dict[str, Any]], CaseChange]
                     ) -> tuple[dict[str, Any], bool] | None:
        """The case `source` (an evaluation's trigger, e.g. `eval_...:queue`) opens or
        joins: the open case of `grouping_key` when there is one (`join(case)` decides
        the change), else a new one (`new()`). None when `source` was handled before
        (called again with the same evaluation). Returns (case, opened)."""
        _tenant(tenant)
        if grouping_key is not None:
            _text("grouping_key", grouping_key, MAX_KEY)
        for attempt in range(JOIN_ATTEMPTS):
            try:
                with self.db.write(tenant) as conn:
                    if self.db.postgres:  # one handler of an evaluation at a time
                        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(9163, hashtext(%s))",
                                             (f"{tenant}/{evaluation_id}",))
                    if self._handled(conn, tenant, evaluation_id, source):
                        return None
                    row = None
                    if grouping_key is not None:
                        c = S.cases.c
                        row = conn.execute(select(S.cases).where(
                            c.tenant == tenant, c.grouping_key == grouping_key,
                            c.status != "closed").with_for_update()).first()
                    if row is not None:
                        current = self._case(conn, row)
                        return self._apply(conn, tenant, current, join(current)), False
                    values, change = new()
                    return self._insert(conn, tenant, values, change), True
            except IntegrityError:
                if grouping_key is None or attempt == JOIN_ATTEMPTS - 1:
                    raise  # not a lost race for the key
        raise AssertionError("unreachable")

    def create(self, tenant: str, case: dict[str, Any], change: CaseChange
               ) -> dict[str, Any]:
        """A new case (opened by hand, or by an evaluation without grouping)."""
        _tenant(tenant)
        with self.db.write(tenant) as conn:
            return self._insert(conn, tenant, case, change)

    def update(self, tenant: str, case_id: str,
               decide: Callable[[dict[str, Any]], CaseChange]) -> dict[str, Any]:
        """Apply the change `decide(case)` makes (it raises to refuse one), with the case
        locked (PostgreSQL: the row; SQLite has one writer)."""
        _tenant(tenant)
        _case_id(case_id)
        with self.db.write(tenant) as conn:
            c = S.cases.c
            row = conn.execute(select(S.cases).where(c.tenant == tenant, c.id == case_id)
                               .with_for_update()).first()
            if row is None:
                raise NotFound(f"case {case_id} not found")
            current = self._case(conn, row)
            return self._apply(conn, tenant, current, decide(current))

    def _insert(self, conn: Connection, tenant: str, values: dict[str, Any],
                change: CaseChange) -> dict[str, Any]:
        case_id = _case_id(values["id"])
        at = values.get("opened_at") or now()
        row = {k: values.get(k) for k in COLUMNS}
        _columns(row)
        text, key_id = self.sealer.seal_object(case_id, change.details or {})
        conn.execute(insert(S.cases), dict(
            row, id=case_id, tenant=tenant, details=text, key_id=key_id, opened_at=at,
            updated_at=at, event_count=0, head_hash=chain.GENESIS))
        current = self._case(conn, _row(conn, tenant, case_id))
        return self._apply(conn, tenant, current, change)

    def _apply(self, conn: Connection, tenant: str, current: dict[str, Any],
               change: CaseChange) -> dict[str, Any]:
        case_id = current["id"]
        at = now()
        event: dict[str, Any] = {
            "id": EVENT_PREFIX + uuid.uuid4().hex, "case_id": case_id, "tenant": tenant,
            "idx": current["version"], "at": V.datetime_text(at),
            "actor": _text("actor", change.actor, MAX_ACTOR),
            "action": _text("action", change.action, MAX_ACTION),
            "details": change.event, "prev_hash": current["head_hash"]}
        event["hash"] = chain.chain_hash(event["prev_hash"], event)
        text, key_id = self.sealer.seal_object(event["id"], event["details"])
        conn.execute(insert(S.case_events), dict(
            {k: event[k] for k in ("id", "case_id", "tenant", "idx", "at", "actor", "action",
                                   "prev_hash", "hash")}, details=text, key_id=key_id))
        values = {k: v for k, v in change.values.items() if k in COLUMNS}
        _columns(values)
        values.update(event_count=event["idx"] + 1, head_hash=event["hash"], updated_at=at)
        if change.details is not None:
            values["details"], values["key_id"] = self.sealer.seal_object(case_id,
                                                                          change.details)
        c = S.cases.c
        conn.execute(update(S.cases).where(c.tenant == tenant, c.id == case_id)
                     .values(**values))
        linked = set(current["evaluation_ids"])
        for evaluation_id in dict.fromkeys(change.evaluation_ids):
            if evaluation_id not in linked:
                conn.execute(insert(S.case_evaluations), {
                    "case_id": case_id, "evaluation_id": _text("evaluation_id",
                                                               evaluation_id, 40),
                    "tenant": tenant, "added_at": at})
        if change.audit is not None:
            self.audit.append_in(conn, change.audit)
        self.outbox.add_in(conn, tenant, list(change.outbox))
        return self._case(conn, _row(conn, tenant, case_id))

    def _handled(self, conn: Connection, tenant: str, evaluation_id: str, source: str
                 ) -> bool:
        """Did `source` open or join a case already? (Its cases record their sources.)"""
        ce, c = S.case_evaluations.c, S.cases.c
        rows = conn.execute(select(S.cases).join(S.case_evaluations,
                                                 ce.case_id == c.id)
                            .where(ce.tenant == tenant, ce.evaluation_id == evaluation_id,
                                   c.tenant == tenant)).all()
        return any(source in self._details(r).get("sources", []) for r in rows)

    # ------------------------------------------------------------ reads
    def get(self, tenant: str, case_id: str) -> dict[str, Any]:
        _tenant(tenant)
        _case_id(case_id)
        with self.db.read(tenant) as conn:
            row = _row(conn, tenant, case_id)
            if row is None:
                raise NotFound(f"case {case_id} not found")
            return self._case(conn, row)

    def list(self, tenant: str, *, status: str | None = None, queue: str | None = None,
             assignee: str | None = None, entity_id: str | None = None,
             start: datetime | None = None, end: datetime | None = None, page: int = 1,
             per_page: int = 20) -> tuple[builtins.list[dict[str, Any]], int]:
        """One page of the tenant's cases, newest first (then by id), and the total."""
        _tenant(tenant)
        _page(page, per_page)
        c = S.cases.c
        cond = [c.tenant == tenant]
        for column, value, limit in ((c.status, status, 16), (c.queue, queue, MAX_QUEUE),
                                     (c.assignee, assignee, MAX_ACTOR),
                                     (c.entity_id, entity_id, MAX_ENTITY)):
            if value is not None:
                cond.append(column == _text(column.name, value, limit))
        if start is not None:
            cond.append(c.opened_at >= _utc(start))
        if end is not None:
            cond.append(c.opened_at <= _utc(end))
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.cases).where(*cond)
                                 ).scalar_one()
            rows = conn.execute(select(S.cases).where(*cond)
                                .order_by(c.opened_at.desc(), c.id)
                                .limit(per_page).offset((page - 1) * per_page)).all()
            return [self._case(conn, r) for r in rows], int(total)

    def events(self, tenant: str, case_id: str) -> builtins.list[dict[str, Any]]:
        """The case's chain in order, details opened (an integrity fault when a row was
        altered so that it no longer opens)."""
        _tenant(tenant)
        _case_id(case_id)
        e = S.case_events.c
        with self.db.read(tenant) as conn:
            if _row(conn, tenant, case_id) is None:
                raise NotFound(f"case {case_id} not found")
            rows = conn.execute(select(S.case_events).where(
                e.tenant == tenant, e.case_id == case_id).order_by(e.idx)).all()
        return [{"id": r.id, "case_id": r.case_id, "tenant": r.tenant, "idx": int(r.idx),
                 "at": r.at, "actor": r.actor, "action": r.action,
                 "details": self.sealer.open_object(r.details, r.key_id, r.id,
                                                    f"case_events/{r.id}"),
                 "prev_hash": r.prev_hash, "hash": r.hash} for r in rows]

    def queues(self, tenant: str, at: datetime) -> builtins.list[dict[str, Any]]:
        """Per queue of the tenant's cases not closed: counts by status, how many are past
        their due time, and the earliest due time."""
        _tenant(tenant)
        c = S.cases.c
        breached = func.sum(case((c.due_at < _utc(at), 1), else_=0))
        with self.db.read(tenant) as conn:
            rows = conn.execute(select(c.queue, c.status, func.count(), breached,
                                       func.min(c.due_at))
                                .where(c.tenant == tenant, c.status != "closed")
                                .group_by(c.queue, c.status).order_by(c.queue)).all()
        out: dict[str, dict[str, Any]] = {}
        for queue, status, n, late, due in rows:
            q = out.setdefault(queue, {"queue": queue, "open": 0, "in_review": 0,
                                       "escalated": 0, "pending_approval": 0,
                                       "sla_breached": 0, "oldest_due_at": None})
            q[status] = int(n)
            q["sla_breached"] += int(late or 0)
            if due is not None and (q["oldest_due_at"] is None or _utc(due) < q["oldest_due_at"]):
                q["oldest_due_at"] = _utc(due)
        return list(out.values())

    def open_by_queue(self, at: datetime) -> dict[str, tuple[int, int]]:
        """Across tenants: per queue, (cases not closed, of them past their due time)."""
        c = S.cases.c
        breached = func.sum(case((c.due_at < _utc(at), 1), else_=0))
        with self.db.read(SYSTEM) as conn:
            rows = conn.execute(select(c.queue, func.count(), breached)
                                .where(c.status != "closed").group_by(c.queue)).all()
        return {q: (int(n), int(late or 0)) for q, n, late in rows}

    # ------------------------------------------------------------ rows
    def _details(self, row: Any) -> dict[str, Any]:
        value = self.sealer.open_object(row.details, row.key_id, row.id, f"cases/{row.id}")
        return value if isinstance(value, dict) else {}

    def _case(self, conn: Connection, row: Any) -> dict[str, Any]:
        ce = S.case_evaluations.c
        ids = conn.execute(select(ce.evaluation_id).where(
            ce.tenant == row.tenant, ce.case_id == row.id)
            .order_by(ce.added_at, ce.evaluation_id)).scalars().all()
        out = {k: getattr(row, k) for k in ("id", "tenant", *COLUMNS, "opened_at",
                                            "updated_at", "head_hash")}
        for k in ("due_at", "opened_at", "updated_at", "closed_at"):
            out[k] = _utc(out[k]) if out[k] is not None else None
        out["version"] = int(row.event_count)
        out["details"] = self._details(row)
        out["evaluation_ids"] = list(ids)
        return out


def _row(conn: Connection, tenant: str, case_id: str) -> Any:
    c = S.cases.c
    return conn.execute(select(S.cases).where(c.tenant == tenant, c.id == case_id)).first()


def _utc(t: datetime) -> datetime:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


# ------------------------------------------------------------------ values

def _text(name: str, value: Any, limit: int) -> str:
    """One line of printable text, 1 to `limit` characters."""
    if not isinstance(value, str):
        raise CaseValueError(f"{name} must be text, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CaseValueError(f"{name} is not valid Unicode text") from None
    if not value:
        raise CaseValueError(f"{name} is required")
    if len(value) > limit:
        raise CaseValueError(f"{name} is longer than {limit} characters")
    if _LINE_CONTROL.search(value):
        raise CaseValueError(f"{name} must not contain control characters")
    return value


def _columns(values: dict[str, Any]) -> None:
    limits = {"queue": MAX_QUEUE, "priority": MAX_PRIORITY, "entity_id": MAX_ENTITY,
              "grouping_key": MAX_KEY, "assignee": MAX_ACTOR, "assignee_group": MAX_QUEUE,
              "disposition": 64, "status": 16}
    for name, limit in limits.items():
        if values.get(name) is not None:
            _text(name, values[name], limit)
    if "status" in values and values["status"] not in S.CASE_STATUSES:
        raise CaseValueError(f"status must be one of {', '.join(S.CASE_STATUSES)}")
    for name in ("due_at", "closed_at"):
        if values.get(name) is not None and not isinstance(values[name], datetime):
            raise CaseValueError(f"{name} must be a datetime")


def _tenant(tenant: Any) -> None:
    _text("tenant", tenant, MAX_TENANT)
    if tenant == SYSTEM:
        raise CaseValueError("cases belong to one tenant, not the system scope")


def _case_id(case_id: Any) -> str:
    if not isinstance(case_id, str) or not CASE_ID.match(case_id):
        raise CaseValueError("a case id is case_ and 32 lowercase hex digits")
    return case_id


def _page(page: Any, per_page: Any) -> None:
    for name, value, top in (("page", page, MAX_PAGE), ("per_page", per_page, MAX_PER_PAGE)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise CaseValueError(f"{name} must be a whole number from 1 to {top}")
