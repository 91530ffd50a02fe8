"""Cases and event delivery: the transactional outbox (events written with the change
they report), webhook subscriptions, deliveries (webhooks and e-mail, with their retry
state), worker leases, cases with their evaluations and their per-case hash chain of
events (append-only). Row-level security on PostgreSQL for the tenant tables.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
GROUPED_OPEN = "status <> 'closed' AND grouping_key IS NOT NULL"
TENANT_TABLES = ("outbox", "webhooks", "deliveries", "cases", "case_evaluations",
                 "case_events")


def _seq() -> sa.Column:
    return sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                     primary_key=True, autoincrement=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant", sa.String(64), nullable=False, server_default="default")


def upgrade() -> None:
    op.create_table(
        "outbox", _seq(),
        sa.Column("id", sa.String(40), nullable=False, unique=True), _tenant(),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(256)),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("dispatched_at", TZ),
    )
    op.create_index("ix_outbox_pending", "outbox", ["seq"],
                    postgresql_where=sa.text("dispatched_at IS NULL"),
                    sqlite_where=sa.text("dispatched_at IS NULL"))
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(40), primary_key=True), _tenant(),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("circuit_open_until", TZ),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_webhooks_status"),
    )
    op.create_index("ix_webhooks_tenant", "webhooks", ["tenant"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(40), primary_key=True), _tenant(),
        sa.Column("dedupe", sa.String(64), nullable=False, unique=True),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("webhook_id", sa.String(40)),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("claimed_until", TZ),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("last_attempt_at", TZ),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("history", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ),
        sa.CheckConstraint("status IN ('pending', 'retrying', 'delivered', 'dead')",
                           name="ck_deliveries_status"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_webhook", "deliveries", ["webhook_id", "created_at"])
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("until", TZ, nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(40), primary_key=True), _tenant(),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(32), nullable=False),
        sa.Column("due_at", TZ),
        sa.Column("entity_id", sa.String(256)),
        sa.Column("grouping_key", sa.String(512)),
        sa.Column("assignee", sa.String(256)),
        sa.Column("assignee_group", sa.String(128)),
        sa.Column("disposition", sa.String(64)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
        sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("status IN ('open', 'in_review', 'escalated', "
                           "'pending_approval', 'closed')", name="ck_cases_status"),
    )
    op.create_index("uq_cases_open_group", "cases", ["tenant", "grouping_key"], unique=True,
                    postgresql_where=sa.text(GROUPED_OPEN), sqlite_where=sa.text(GROUPED_OPEN))
    op.create_index("ix_cases_tenant_queue_status", "cases", ["tenant", "queue", "status"])
    op.create_table(
        "case_evaluations",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("evaluation_id", sa.String(40), primary_key=True), _tenant(),
        sa.Column("added_at", TZ, nullable=False),
    )
    op.create_index("ix_case_evaluations_evaluation", "case_evaluations", ["evaluation_id"])
    op.create_table(
        "case_events", _seq(), _tenant(),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "idx", name="uq_case_events_case_idx"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:  # as 0005 does for the other tables
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"""
                CREATE POLICY {table}_tenant ON {table}
                USING (tenant = current_setting('arka.tenant', true)
                       OR current_setting('arka.tenant', true) = '*')
                WITH CHECK (tenant = current_setting('arka.tenant', true)
                            OR current_setting('arka.tenant', true) = '*')
            """)
        op.execute("""
            CREATE TRIGGER case_events_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION arka_append_only();
        """)
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER case_events_no_{event.lower()} BEFORE {event} ON case_events
            BEGIN SELECT RAISE(ABORT, 'case_events are append-only'); END;
        """)
    op.execute("""
        CREATE TRIGGER case_events_no_replace BEFORE INSERT ON case_events
        WHEN EXISTS (SELECT 1 FROM case_events WHERE seq = NEW.seq)
          OR EXISTS (SELECT 1 FROM case_events WHERE id = NEW.id)
          OR EXISTS (SELECT 1 FROM case_events WHERE case_id = NEW.case_id AND idx = NEW.idx)
        BEGIN SELECT RAISE(ABORT, 'case_events are append-only: a row with this key exists');
        END;
    """)


def downgrade() -> None:
    for table in ("case_events", "case_evaluations", "cases", "worker_leases", "deliveries",
                  "webhooks", "outbox"):
        op.drop_table(table)
