"""Transparency log: leaves, complete-subtree hashes, signed tree heads.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("evaluation_id", sa.String(64), nullable=False, unique=True),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(  # key = level * 2**48 + index of the complete subtree
        "log_nodes",
        sa.Column("key", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "log_heads",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("""
            CREATE FUNCTION arka_log_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'the log is append-only (% on % refused)', TG_OP, TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql;
        """)
    for table in ("log_leaves", "log_nodes", "log_heads"):
        if dialect == "postgresql":
            op.execute(f"""
                CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION arka_log_append_only();
            """)
        else:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"""
                    CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                    BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
                """)


def downgrade() -> None:
    raise NotImplementedError("the transparency log cannot be downgraded; restore a backup")
