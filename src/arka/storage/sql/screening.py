"""The sanctions-screening allowlist: an analyst's decision that a subject (a customer, by
the institution's own id) is not a list entity, with the reason and the entity's content
hash at decision time. Entries are never deleted: four-eyes review moves a `pending`
entry to `active` or `rejected`, revocation an open one to `revoked`. At most one open
(pending or active) entry exists per subject and entity; the store refuses a second one
(and a partial unique index refuses it under a race).

Values are checked here before they reach the database, so a malformed or oversized one
is an `AllowlistEntryError` naming the field, never a driver error.
"""

from __future__ import annotations

import builtins
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from arka.base.errors import ArkaError, Conflict, NotFound
from arka.storage.sql import schema as S
from arka.storage.sql.audit import SqlAudit
from arka.storage.sql.database import SYSTEM, Database, now, ts

ID_PREFIX = "alw_"
MAX_ID = 256  # subject_id, entity_id
MAX_ACTOR = 256
MAX_TENANT = 64
MAX_CAPTION = 1024
MAX_TEXT = 4096  # reason, review and revocation notes
MAX_DATASETS = 64
MAX_DATASET_FIELD = 128  # a dataset's name and version
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000
REVIEWED = ("active", "rejected")  # what a review may decide

_ENTRY_ID = re.compile(r"alw_[0-9a-f]{32}")
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # identifiers: one line, printable
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # text: tabs and newlines ok


class AllowlistEntryError(ArkaError):
    """A value of an allowlist entry (or a query of them) is malformed or too large."""

    code = "E_ALLOWLIST_VALUE"


class SqlAllowlist:
    def __init__(self, db: Database, audit: SqlAudit):
        self.db = db
        self.audit = audit

    def add(self, tenant: str, *, subject_id: str, entity_id: str, entity_hash: str,
            entity_caption: str | None, datasets: builtins.list[dict[str, Any]], reason: str,
            status: str, created_by: str, audit: dict[str, Any] | None = None
            ) -> dict[str, Any]:
        """Store a new entry (`pending` awaiting review, or `active`); Conflict when the
        subject already has an open entry for the entity."""
        _tenant(tenant)
        entry_id = ID_PREFIX + uuid.uuid4().hex
        values = {
            "id": entry_id, "tenant": tenant,
            "subject_id": _identifier("subject_id", subject_id),
            "entity_id": _identifier("entity_id", entity_id),
            "entity_hash": _entity_hash(entity_hash),
            "entity_caption": _text("entity_caption", entity_caption, MAX_CAPTION,
                                    required=False),
            "datasets": json.dumps(_datasets(datasets), sort_keys=True),
            "reason": _text("reason", reason, MAX_TEXT),
            "status": _choice("status", status, S.ALLOWLIST_OPEN),
            "created_by": _identifier("created_by", created_by, MAX_ACTOR),
            "created_at": now(),
        }
        try:
            with self.db.write(tenant) as conn:
                existing = _open_entry(conn, tenant, subject_id, entity_id)
                if existing is not None:
                    raise _duplicate(existing)
                conn.execute(S.screening_allowlist.insert(), values)
                if audit is not None:
                    self.audit.append_in(conn, audit)
                return _entry(_row(conn, tenant, entry_id))
        except IntegrityError:  # a concurrent add of the same pair won the race
            with self.db.read(tenant) as conn:
                existing = _open_entry(conn, tenant, subject_id, entity_id)
            if existing is None:
                raise
            raise _duplicate(existing) from None

    def get(self, tenant: str, entry_id: str) -> dict[str, Any]:
        _tenant(tenant)
        _entry_id(entry_id)
        with self.db.read(tenant) as conn:
            row = _row(conn, tenant, entry_id)
        if row is None:
            raise NotFound(f"allowlist entry {entry_id} not found")
        return _entry(row)

    def list(self, tenant: str, *, subject_id: str | None = None, entity_id: str | None = None,
             status: str | None = None, page: int = 1, per_page: int = 20
             ) -> tuple[builtins.list[dict[str, Any]], int]:
        """One page of the tenant's entries, newest first (then by id), and the total."""
        _tenant(tenant)
        c = S.screening_allowlist.c
        cond = [c.tenant == tenant]
        if subject_id is not None:
            cond.append(c.subject_id == _identifier("subject_id", subject_id))
        if entity_id is not None:
            cond.append(c.entity_id == _identifier("entity_id", entity_id))
        if status is not None:
            cond.append(c.status == _choice("status", status, S.ALLOWLIST_STATUSES))
        _page(page, per_page)
        with self.db.read(tenant) as conn:
            total = conn.execute(select(func.count()).select_from(S.screening_allowlist)
                                 .where(*cond)).scalar_one()
            rows = conn.execute(select(S.screening_allowlist).where(*cond)
                                .order_by(c.created_at.desc(), c.id)
                                .limit(per_page).offset((page - 1) * per_page)).all()
        return [_entry(r) for r in rows], int(total)

    def review(self, tenant: str, entry_id: str, *, status: str, reviewed_by: str,
               note: str | None, audit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Approve (`active`) or reject a pending entry; Conflict when it is not pending."""
        values = {"status": _choice("review status", status, REVIEWED),
                  "reviewed_by": _identifier("reviewed_by", reviewed_by, MAX_ACTOR),
                  "reviewed_at": now(),
                  "review_note": _text("note", note, MAX_TEXT, required=False)}
        return self._move(tenant, entry_id, ("pending",), values, audit,
                          "{id} is {status}, not pending review")

    def revoke(self, tenant: str, entry_id: str, *, revoked_by: str, note: str | None,
               audit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Withdraw a pending or active entry; Conflict when it is already final."""
        values = {"status": "revoked",
                  "revoked_by": _identifier("revoked_by", revoked_by, MAX_ACTOR),
                  "revoked_at": now(),
                  "revoke_note": _text("note", note, MAX_TEXT, required=False)}
        return self._move(tenant, entry_id, S.ALLOWLIST_OPEN, values, audit,
                          "{id} is {status}; only a pending or active entry can be revoked")

    def _move(self, tenant: str, entry_id: str, sources: tuple[str, ...],
              values: dict[str, Any], audit: dict[str, Any] | None, refusal: str
              ) -> dict[str, Any]:
        """Change an entry's status from one of `sources`, with its audit event, atomically
        (the row is locked on PostgreSQL; SQLite has one writer)."""
        _tenant(tenant)
        _entry_id(entry_id)
        t = S.screening_allowlist
        with self.db.write(tenant) as conn:
            current = conn.execute(select(t.c.status).where(
                t.c.tenant == tenant, t.c.id == entry_id).with_for_update()).first()
            if current is None:
                raise NotFound(f"allowlist entry {entry_id} not found")
            if current.status not in sources:
                raise Conflict("allowlist entry " + refusal.format(id=entry_id,
                                                                   status=current.status))
            conn.execute(t.update().where(t.c.tenant == tenant, t.c.id == entry_id)
                         .values(**values))
            if audit is not None:
                self.audit.append_in(conn, audit)
            return _entry(_row(conn, tenant, entry_id))

    def active(self, tenant: str) -> builtins.list[dict[str, Any]]:
        """Every active entry of the tenant, by subject_id, entity_id, id."""
        _tenant(tenant)
        c = S.screening_allowlist.c
        with self.db.read(tenant) as conn:
            rows = conn.execute(select(S.screening_allowlist)
                                .where(c.tenant == tenant, c.status == "active")
                                .order_by(c.subject_id, c.entity_id, c.id)).all()
        return [_entry(r) for r in rows]

    def generation(self, tenant: str) -> str:
        """Changes whenever an entry of the tenant is added, reviewed or revoked (one
        aggregate query: entries are never deleted and each of these sets a column once)."""
        _tenant(tenant)
        c = S.screening_allowlist.c
        with self.db.read(tenant) as conn:
            n, reviewed, revoked, *times = conn.execute(
                select(func.count(), func.count(c.reviewed_at), func.count(c.revoked_at),
                       func.max(c.created_at), func.max(c.reviewed_at), func.max(c.revoked_at))
                .where(c.tenant == tenant)).one()
        stamps = [_utc(t) for t in times if t is not None]
        latest = max(stamps).strftime("%Y%m%dT%H%M%S%fZ") if stamps else "-"
        return f"{int(n)}.{int(reviewed)}.{int(revoked)}.{latest}"


# ------------------------------------------------------------------ rows

def _row(conn: Connection, tenant: str, entry_id: str) -> Any:
    c = S.screening_allowlist.c
    return conn.execute(select(S.screening_allowlist).where(
        c.tenant == tenant, c.id == entry_id)).first()


def _open_entry(conn: Connection, tenant: str, subject_id: str, entity_id: str) -> Any:
    c = S.screening_allowlist.c
    return conn.execute(select(c.id, c.status).where(
        c.tenant == tenant, c.subject_id == subject_id, c.entity_id == entity_id,
        c.status.in_(S.ALLOWLIST_OPEN)).order_by(c.created_at, c.id).limit(1)).first()


def _duplicate(existing: Any) -> Conflict:
    return Conflict(f"the subject already has an open ({existing.status}) allowlist entry "
                    f"for this entity: {existing.id}; revoke it before adding another")


def _utc(t: datetime) -> datetime:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _entry(r: Any) -> dict[str, Any]:
    return {"id": r.id, "tenant": r.tenant, "subject_id": r.subject_id,
            "entity_id": r.entity_id, "entity_hash": r.entity_hash,
            "entity_caption": r.entity_caption, "datasets": json.loads(r.datasets),
            "reason": r.reason, "status": r.status, "created_by": r.created_by,
            "created_at": ts(r.created_at), "reviewed_by": r.reviewed_by,
            "reviewed_at": ts(r.reviewed_at), "review_note": r.review_note,
            "revoked_by": r.revoked_by, "revoked_at": ts(r.revoked_at),
            "revoke_note": r.revoke_note}


# ------------------------------------------------------------------ values

def _unicode(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise AllowlistEntryError(f"{name} must be text, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AllowlistEntryError(f"{name} is not valid Unicode text") from None
    return value


def _identifier(name: str, value: Any, limit: int = MAX_ID) -> str:
    """One line of printable text, 1 to `limit` characters, no surrounding whitespace."""
    value = _unicode(name, value)
    if not value:
        raise AllowlistEntryError(f"{name} is required")
    if len(value) > limit:
        raise AllowlistEntryError(f"{name} is longer than {limit} characters")
    if _LINE_CONTROL.search(value):
        raise AllowlistEntryError(f"{name} must not contain control characters")
    if value != value.strip():
        raise AllowlistEntryError(f"{name} must not start or end with whitespace")
    return value


def _text(name: str, value: Any, limit: int, *, required: bool = True) -> str | None:
    """Free text up to `limit` characters (tabs and newlines allowed); None or blank is
    refused when `required`, and stored as None otherwise."""
    if value is None and not required:
        return None
    value = _unicode(name, value)
    if not value.strip():
        if required:
            raise AllowlistEntryError(f"{name} is required")
        return None
    if len(value) > limit:
        raise AllowlistEntryError(f"{name} is longer than {limit} characters")
    if _TEXT_CONTROL.search(value):
        raise AllowlistEntryError(f"{name} must not contain control characters")
    return value


def _tenant(tenant: Any) -> None:
    _identifier("tenant", tenant, MAX_TENANT)
    if tenant == SYSTEM:
        raise AllowlistEntryError("allowlist entries belong to one tenant, not the system "
                                  "scope")


def _entry_id(entry_id: Any) -> None:
    if not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
        raise AllowlistEntryError("an allowlist entry id is alw_ and 32 lowercase hex digits")


def _entity_hash(value: Any) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise AllowlistEntryError("entity_hash must be sha256: and 64 lowercase hex digits")
    return value


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown = value if isinstance(value, str) and len(value) <= 32 else type(value).__name__
        raise AllowlistEntryError(f"{name} must be one of {', '.join(allowed)}, not {shown!r}")
    return value


def _datasets(value: Any) -> builtins.list[dict[str, str]]:
    """The lists the entity came from: [{name, version}], possibly empty."""
    if not isinstance(value, list | tuple):
        raise AllowlistEntryError("datasets must be a list of {name, version}")
    if len(value) > MAX_DATASETS:
        raise AllowlistEntryError(f"datasets has more than {MAX_DATASETS} items")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"name", "version"}:
            raise AllowlistEntryError(f"datasets[{i}] must be an object with exactly name "
                                      "and version")
        out.append({k: _identifier(f"datasets[{i}].{k}", item[k], MAX_DATASET_FIELD)
                    for k in ("name", "version")})
    return out


def _page(page: Any, per_page: Any) -> None:
    for name, value, top in (("page", page, MAX_PAGE), ("per_page", per_page, MAX_PER_PAGE)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise AllowlistEntryError(f"{name} must be a whole number from 1 to {top}")
