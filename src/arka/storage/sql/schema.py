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
    # " CAT1 CAT2 ": the flag categories of the result; NULL on rows stored before 0013
    Column("flags", Text),
    # " tok1 tok2 ": blind-index tokens of the input's entity ids (`entity_ids`); NULL
    # on rows stored before 0013
    Column("entities", Text),
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

# ------------------------------------------------------------------ events and delivery
# The transactional outbox: an event is written in the transaction of the change it
# reports (an evaluation, a case action) and dispatched later, at least once.
outbox = Table(
    "outbox", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),  # the CloudEvents id, webhook-id
    _tenant(),
    Column("type", String(128), nullable=False),
    Column("subject", String(256)),
    Column("event", Text, nullable=False),  # the CloudEvent (sealed)
    Column("key_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("dispatched_at", DateTime(timezone=True)),
)
Index("ix_outbox_pending", outbox.c.seq, postgresql_where=text("dispatched_at IS NULL"),
      sqlite_where=text("dispatched_at IS NULL"))

WEBHOOK_STATUSES = ("active", "disabled")
webhooks = Table(  # a tenant's subscriptions
    "webhooks", metadata,
    Column("id", String(40), primary_key=True),  # whk_ + 32 hex
    _tenant(),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event types
    Column("description", Text),
    Column("status", String(16), nullable=False),
    Column("secrets", Text, nullable=False),  # sealed JSON [{secret, created_at, expires_at}]
    Column("key_id", String(64)),
    Column("created_by", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),  # consecutive
    Column("circuit_open_until", DateTime(timezone=True)),
    CheckConstraint("status IN ('active', 'disabled')", name="ck_webhooks_status"),
)
Index("ix_webhooks_tenant", webhooks.c.tenant)

DELIVERY_STATUSES = ("pending", "retrying", "delivered", "dead")
deliveries = Table(  # one per event and destination (a webhook, an e-mail message)
    "deliveries", metadata,
    Column("id", String(40), primary_key=True),  # dlv_ + 32 hex
    _tenant(),
    Column("dedupe", String(64), nullable=False, unique=True),  # event + destination
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("channel", String(16), nullable=False),  # webhook | email
    Column("webhook_id", String(40)),
    Column("target", Text, nullable=False),  # the URL, or the recipients
    Column("payload", Text, nullable=False),  # sealed: the body (e-mail: rendered message)
    Column("key_id", String(64)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True)),
    Column("claimed_by", String(64)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("history", Text, nullable=False, server_default="[]"),  # JSON, newest last
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'retrying', 'delivered', 'dead')",
                    name="ck_deliveries_status"),
)
Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_deliveries_webhook", deliveries.c.webhook_id, deliveries.c.created_at)

worker_leases = Table(  # one holder at a time for work that must run once (dispatch)
    "worker_leases", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)

# ------------------------------------------------------------------ cases
CASE_STATUSES = ("open", "in_review", "escalated", "pending_approval", "closed")
cases = Table(
    "cases", metadata,
    Column("id", String(40), primary_key=True),  # case_ + 32 hex
    _tenant(),
    Column("queue", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(32), nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("entity_id", String(256)),
    Column("grouping_key", String(512)),  # NULL: never joined by later evaluations
    Column("assignee", String(256)),
    Column("assignee_group", String(128)),
    Column("disposition", String(64)),
    Column("details", Text, nullable=False),  # sealed JSON (what the events built up)
    Column("key_id", String(64)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("event_count", Integer, nullable=False, server_default="0"),
    Column("head_hash", String(64), nullable=False),  # the case's last event hash
    CheckConstraint("status IN ('open', 'in_review', 'escalated', 'pending_approval', "
                    "'closed')", name="ck_cases_status"),
)
_CASE_GROUPED_OPEN = "status <> 'closed' AND grouping_key IS NOT NULL"
Index("uq_cases_open_group", cases.c.tenant, cases.c.grouping_key, unique=True,
      postgresql_where=text(_CASE_GROUPED_OPEN), sqlite_where=text(_CASE_GROUPED_OPEN))
Index("ix_cases_tenant_queue_status", cases.c.tenant, cases.c.queue, cases.c.status)

case_evaluations = Table(
    "case_evaluations", metadata,
    Column("case_id", String(40), primary_key=True),
    Column("evaluation_id", String(40), primary_key=True),
    _tenant(),
    Column("added_at", DateTime(timezone=True), nullable=False),
)
Index("ix_case_evaluations_evaluation", case_evaluations.c.evaluation_id)

case_events = Table(  # append-only; one hash chain per case (idx 0, 1, 2, ...)
    "case_events", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    _tenant(),
    Column("case_id", String(40), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("id", String(40), nullable=False, unique=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(32), nullable=False),
    Column("details", Text, nullable=False),  # sealed JSON
    Column("key_id", String(64)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "idx", name="uq_case_events_case_idx"),
)

store_marks = Table(  # facts written once (append-only), e.g. "records_sealed_from"
    "store_marks", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
    Column("at", String(40), nullable=False),
)

log_checkpoints = Table(  # append-only: the log-signed C2SP checkpoint of each tree head
    "log_checkpoints", metadata,
    Column("origin", String(200), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    Column("key_id", String(64), nullable=False),
)

log_cosignatures = Table(  # append-only: witnesses' cosignatures of checkpoints
    "log_cosignatures", metadata,
    Column("origin", String(200), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(256), primary_key=True),
    Column("signature", Text, nullable=False),  # the note signature line
    Column("timestamp", BigInteger, nullable=False),  # the cosignature's, POSIX seconds
    Column("at", String(40), nullable=False),
)

log_witnesses = Table(  # the log's view of each witness: the size it last cosigned
    "log_witnesses", metadata,
    Column("origin", String(200), primary_key=True),
    Column("witness", String(256), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("last_error", Text),
)

# no statement changes or removes a row of these (database triggers; migration 0007)
APPEND_ONLY = ("evaluations", "log_leaves", "log_nodes", "log_heads", "audit_events",
               "store_marks", "case_events", "log_checkpoints", "log_cosignatures")

TENANT_TABLES = (rules, rulesets, reference_tables, schemas, evaluations, api_keys,
                 audit_events, screening_allowlist, outbox, webhooks, deliveries, cases,
                 case_evaluations, case_events)
