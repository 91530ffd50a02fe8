"""Initial schema: rules, rulesets, append-only evaluations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("patch", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_format", sa.String(8), nullable=False),
        sa.Column("source_hash", sa.String(80), nullable=False),
        sa.Column("bytecode", sa.LargeBinary, nullable=False),
        sa.Column("bytecode_hash", sa.String(80), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(64)),
        sa.Column("effective_date", sa.String(10)),
        sa.Column("expiry_date", sa.String(10)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_rules_name_version"),
    )
    op.create_table(
        "rulesets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("patch", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_hash", sa.String(80), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_rulesets_name_version"),
    )
    op.create_table(
        "evaluations",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("rule_ids", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.String(256), unique=True),
        sa.Column("request_hash", sa.String(80)),
        sa.Column("output_hash", sa.String(80), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_evaluations_timestamp", "evaluations", ["timestamp"])
    op.create_index("ix_evaluations_decision", "evaluations", ["decision"])
    if op.get_bind().dialect.name == "postgresql":
        # Stored evaluations are append-only: the database itself refuses changes.
        op.execute("""
            CREATE FUNCTION arka_evaluations_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'evaluations are append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER evaluations_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON evaluations
            FOR EACH STATEMENT EXECUTE FUNCTION arka_evaluations_append_only();
        """)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER evaluations_no_{event.lower()} BEFORE {event} ON evaluations
                BEGIN SELECT RAISE(ABORT, 'evaluations are append-only'); END;
            """)


def downgrade() -> None:
    raise NotImplementedError("the initial schema cannot be downgraded; restore a backup")
