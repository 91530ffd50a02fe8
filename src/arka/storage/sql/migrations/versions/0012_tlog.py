"""The log as a C2SP transparency log: the log-signed checkpoint of each tree head,
witnesses' cosignatures (both append-only), and the size each witness last cosigned; all
three by the log's origin (its name in the checkpoints), so that a log renamed by its
configuration starts its own checkpoints. (The leaves' bytes, served as entry bundles,
are the proofs inside the sealed, append-only evaluation records: not stored twice.)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

APPEND_ONLY = {"log_checkpoints": ("origin = NEW.origin AND tree_size = NEW.tree_size",),
               "log_cosignatures": ("origin = NEW.origin AND tree_size = NEW.tree_size "
                                    "AND witness = NEW.witness",)}


def upgrade() -> None:
    op.create_table(
        "log_checkpoints",
        sa.Column("origin", sa.String(200), primary_key=True),
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "log_cosignatures",
        sa.Column("origin", sa.String(200), primary_key=True),
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(256), primary_key=True),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "log_witnesses",
        sa.Column("origin", sa.String(200), primary_key=True),
        sa.Column("witness", sa.String(256), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("last_error", sa.Text),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"""
                CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION arka_append_only();
            """)
        return
    for table, keys in APPEND_ONLY.items():
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END;
            """)
        exists = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {k})" for k in keys)
        op.execute(f"""
            CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
            WHEN {exists}
            BEGIN SELECT RAISE(ABORT, '{table} are append-only: a row with this key exists');
            END;
        """)


def downgrade() -> None:
    for table in ("log_witnesses", "log_cosignatures", "log_checkpoints"):
        op.drop_table(table)
