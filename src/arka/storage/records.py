"""Typed rows the storage hands up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def ts(t: datetime | None) -> str | None:
    """A stored datetime as RFC 3339 UTC text (SQLite hands back naive datetimes)."""
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def review_fields(r: Any) -> dict[str, Any]:
    """A stored version's four-eyes state: status, who deployed, who reviewed, when, why."""
    return {"status": r.status, "deployed_by": r.deployed_by, "reviewed_by": r.reviewed_by,
            "reviewed_at": ts(r.reviewed_at), "review_note": r.review_note}


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

    @classmethod
    def from_row(cls, r: Any) -> RuleRow:
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        return cls(r.name, r.version, r.source, r.source_format, r.source_hash,
                   bytes(r.bytecode), r.bytecode_hash, r.jurisdiction, r.domain,
                   r.effective_date, r.expiry_date, created, review_fields(r))

    @property
    def active(self) -> bool:
        return self.review.get("status", "active") == "active"

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "jurisdiction": self.jurisdiction,
                "domain": self.domain, "effective_date": self.effective_date,
                "expiry_date": self.expiry_date, "bytecode_hash": self.bytecode_hash,
                "created_at": self.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                **self.review}


@dataclass(frozen=True)
class StoredEvaluation:
    """An evaluation row as `arka-cli db check` reads it: its columns, and the opened
    record or the fault that keeps it from being served."""
    seq: int
    id: str
    tenant: str
    timestamp: str
    decision: str
    rule_ids: str
    flags: str | None  # None: stored before the search columns existed
    entities: str | None
    output_hash: str
    sealed: bool
    record: dict[str, Any] | None
    fault: str | None
