"""Security: tenants on every stored row, API keys, the hash-chained audit log, the key id
of encrypted evaluation records, and row-level security on PostgreSQL.

Existing rows join the tenant `default`. Names, versions and idempotency keys become
unique per tenant, so one tenant cannot learn of another's through a conflict.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VERSIONED = ("rules", "rulesets", "reference_tables")
TENANT_TABLES = (*VERSIONED, "evaluations", "api_keys", "audit_events")


def _tenant_column() -> sa.Column:
    return sa.Column("tenant", sa.String(64), nullable=False, server_default="default")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_tenant_column())
            batch.drop_constraint(f"uq_{table}_name_version", type_="unique")
            batch.create_unique_constraint(f"uq_{table}_tenant_name_version",
                                           ["tenant", "name", "version"])
    if postgres:
        op.add_column("evaluations", _tenant_column())
        op.add_column("evaluations", sa.Column("key_id", sa.String(32)))
        op.drop_constraint("evaluations_idempotency_key_key", "evaluations", type_="unique")
        op.create_unique_constraint("uq_evaluations_tenant_idempotency_key", "evaluations",
                                    ["tenant", "idempotency_key"])
    else:
        # SQLite cannot drop the unnamed unique constraint: rebuild the table (which drops
        # its append-only triggers; they are made again below).
        op.execute("DROP TRIGGER IF EXISTS evaluations_no_update")
        op.execute("DROP TRIGGER IF EXISTS evaluations_no_delete")
        op.execute("ALTER TABLE evaluations RENAME TO evaluations_0004")
        op.execute("DROP INDEX IF EXISTS ix_evaluations_timestamp")
        op.execute("DROP INDEX IF EXISTS ix_evaluations_decision")
        op.create_table(
            "evaluations",
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("id", sa.String(64), nullable=False, unique=True),
            sa.Column("timestamp", sa.String(40), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("decision", sa.String(32), nullable=False),
            sa.Column("rule_ids", sa.Text, nullable=False),
            sa.Column("idempotency_key", sa.String(256)),
            sa.Column("request_hash", sa.String(80)),
            sa.Column("output_hash", sa.String(80), nullable=False),
            sa.Column("record", sa.Text, nullable=False),
            _tenant_column(),
            sa.Column("key_id", sa.String(32)),
            sa.UniqueConstraint("tenant", "idempotency_key",
                                name="uq_evaluations_tenant_idempotency_key"),
        )
        op.execute("INSERT INTO evaluations (seq, id, timestamp, created_at, decision, rule_ids, "
                   "idempotency_key, request_hash, output_hash, record) SELECT seq, id, "
                   "timestamp, created_at, decision, rule_ids, idempotency_key, request_hash, "
                   "output_hash, record FROM evaluations_0004 ORDER BY seq")
        op.execute("DROP TABLE evaluations_0004")
        op.create_index("ix_evaluations_timestamp", "evaluations", ["timestamp"])
        op.create_index("ix_evaluations_decision", "evaluations", ["decision"])
    op.create_index("ix_evaluations_tenant_seq", "evaluations", ["tenant", "seq"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        _tenant_column(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("roles", sa.String(256), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        _tenant_column(),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(256), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("tenant", "idx", name="uq_audit_events_tenant_idx"),
    )

    if postgres:
        op.execute("""
            CREATE TRIGGER audit_events_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION arka_evaluations_append_only();
        """)
        # Row-level security for the service's (non-owner) database role: every query sees
        # only the tenant named by the transaction-local setting `arka.tenant`; `*` is the
        # service's own system scope (log appends of a mixed group, key lookup by hash).
        # The owner that runs migrations and backups is not subject to it.
        for table in TENANT_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"""
                CREATE POLICY {table}_tenant ON {table}
                USING (tenant = current_setting('arka.tenant', true)
                       OR current_setting('arka.tenant', true) = '*')
                WITH CHECK (tenant = current_setting('arka.tenant', true)
                            OR current_setting('arka.tenant', true) = '*')
            """)
    else:
        for table in ("evaluations", "audit_events"):
            for event in ("UPDATE", "DELETE"):
                op.execute(f"""
                    CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                    BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END;
                """)


def downgrade() -> None:
    raise NotImplementedError("security schema cannot be downgraded; restore a backup")
