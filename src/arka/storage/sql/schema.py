"""Database tables (SQLAlchemy Core). Changes go through an Alembic migration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

DEFAULT_TENANT = "default"


def _tenant() -> Column[Any]:
    return Column("tenant", String(64), nullable=False, server_default=DEFAULT_TENANT)


def _versioned(name: str, *columns: Column[Any]) -> Table:
    """An immutable, semver-versioned named document (rules, rulesets, reference tables,
    schemas)."""
    return Table(
        name, metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        _tenant(),
        Column("name", String(128), nullable=False),
        Column("version", String(64), nullable=False),
        Column("major", Integer, nullable=False),
        Column("minor", Integer, nullable=False),
        Column("patch", Integer, nullable=False),
        Column("source", Text, nullable=False),
        Column("source_hash", String(80), nullable=False),
        *columns,
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("status", String(16), nullable=False, server_default="active"),
        Column("deployed_by", String(256)),
        Column("reviewed_by", String(256)),
        Column("reviewed_at", DateTime(timezone=True)),
        Column("review_note", Text),
        UniqueConstraint("tenant", "name", "version", name=f"uq_{name}_tenant_name_version"),
    )


rules = _versioned(
    "rules",
    Column("source_format", String(8), nullable=False),
    Column("bytecode", LargeBinary, nullable=False),
    Column("bytecode_hash", String(80), nullable=False),
    Column("jurisdiction", String(16), nullable=False),
    Column("domain", String(64)),
    Column("effective_date", String(10)),
    Column("expiry_date", String(10)),
)

rulesets = _versioned("rulesets", Column("spec", Text, nullable=False))

evaluations = Table(
    "evaluations", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("timestamp", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decision", String(32), nullable=False),
    Column("rule_ids", Text, nullable=False),  # " name1 name2 " for filtering
    Column("idempotency_key", String(256)),
    Column("request_hash", String(80)),
    Column("output_hash", String(80), nullable=False),
    # the whole evaluation record: JSON, or its AES-256-GCM envelope when key_id is set
    Column("record", Text, nullable=False),
    _tenant(),
    Column("key_id", String(32)),
    UniqueConstraint("tenant", "idempotency_key", name="uq_evaluations_tenant_idempotency_key"),
)
Index("ix_evaluations_tenant_seq", evaluations.c.tenant, evaluations.c.seq)
Index("ix_evaluations_timestamp", evaluations.c.timestamp)
Index("ix_evaluations_decision", evaluations.c.decision)

reference_tables = _versioned(
    "reference_tables",
    Column("kind", String(16), nullable=False),
    Column("content_hash", String(80), nullable=False),
)

schemas = _versioned(  # named input schemas (`schema:` documents), typed rules compile with
    "schemas",
    Column("content_hash", String(80), nullable=False),
)

log_leaves = Table(
    "log_leaves", metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("evaluation_id", String(64), nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

log_nodes = Table(  # key = level * 2**48 + index of the complete subtree
    "log_nodes", metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

log_heads = Table(
    "log_heads", metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("timestamp", String(40), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

anchors = Table(
    "anchors", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain", String(32), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending submitted confirmed failed
    Column("tx_hash", String(66)),
    Column("raw_tx", Text),
    Column("nonce", BigInteger),
    Column("block_number", BigInteger),
    Column("block_hash", String(66)),
    Column("confirmations", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("reorgs", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("next_attempt_at", Float, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("chain", "tree_size", name="uq_anchors_chain_tree_size"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    _tenant(),
    Column("name", String(128), nullable=False),
    Column("roles", String(256), nullable=False),  # space-separated
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("owner", String(256)),  # the person the key belongs to (four-eyes compares it)
    Column("issued_by", String(256)),  # the person whose credential created it, via the API
)

audit_events = Table(  # append-only; one hash chain per tenant (idx 0, 1, 2, ...)
    "audit_events", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    _tenant(),
    Column("idx", BigInteger, nullable=False),
    Column("id", String(40), nullable=False, unique=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("request_id", String(128)),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("tenant", "idx", name="uq_audit_events_tenant_idx"),
)

# sanctions-screening false positives: "subject X is not list entity Y", reviewed (four
# eyes) and revocable; at most one open (pending or active) entry per subject and entity
ALLOWLIST_STATUSES = ("pending", "active", "rejected", "revoked")
ALLOWLIST_OPEN = ("pending", "active")
_ALLOWLIST_OPEN_SQL = "status IN ('pending', 'active')"

screening_allowlist = Table(
    "screening_allowlist", metadata,
    Column("id", String(36), primary_key=True),  # alw_ + 32 hex
    _tenant(),
    Column("subject_id", String(256), nullable=False),
    Column("entity_id", String(256), nullable=False),
    Column("entity_hash", String(80), nullable=False),  # the entity's content at decision
    Column("entity_caption", Text),
    Column("datasets", Text, nullable=False),  # JSON [{name, version}]
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reviewed_by", String(256)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("review_note", Text),
    Column("revoked_by", String(256)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoke_note", Text),
    CheckConstraint("status IN ('pending', 'active', 'rejected', 'revoked')",
                    name="ck_screening_allowlist_status"),
)
Index("ix_screening_allowlist_tenant_subject", screening_allowlist.c.tenant,
      screening_allowlist.c.subject_id)
Index("uq_screening_allowlist_open", screening_allowlist.c.tenant,
      screening_allowlist.c.subject_id, screening_allowlist.c.entity_id, unique=True,
      postgresql_where=text(_ALLOWLIST_OPEN_SQL), sqlite_where=text(_ALLOWLIST_OPEN_SQL))

store_marks = Table(  # facts written once (append-only), e.g. "records_sealed_from"
    "store_marks", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
    Column("at", String(40), nullable=False),
)

# no statement changes or removes a row of these (database triggers; migration 0007)
APPEND_ONLY = ("evaluations", "log_leaves", "log_nodes", "log_heads", "audit_events",
               "store_marks")

TENANT_TABLES = (rules, rulesets, reference_tables, schemas, evaluations, api_keys,
                 audit_events, screening_allowlist)
