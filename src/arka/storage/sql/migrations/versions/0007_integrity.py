"""Storage integrity: append-only tables that no SQL statement gets past, and the store's
marks (facts written once, e.g. from which evaluation on records must be sealed).

SQLite's `INSERT OR REPLACE` / `REPLACE INTO` resolve a key collision by deleting the old
row without firing DELETE triggers, so the UPDATE/DELETE triggers of earlier revisions
did not stop them. Each append-only table now also has a BEFORE INSERT trigger that
refuses an insert whose key (primary or unique) exists, which stops REPLACE, UPSERT
(`ON CONFLICT DO UPDATE`) and `INSERT OR IGNORE` alike before any conflict resolution
runs. On PostgreSQL the statement triggers of earlier revisions already refuse UPDATE,
DELETE and TRUNCATE, and an `INSERT ... ON CONFLICT DO UPDATE` fires them too; the new
table gets the same.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> the keys a new row must not share with an existing one (SQLite)
KEYS = {
    "evaluations": ("seq = NEW.seq", "id = NEW.id",
                    "NEW.idempotency_key IS NOT NULL AND tenant = NEW.tenant "
                    "AND idempotency_key = NEW.idempotency_key"),
    "log_leaves": ("idx = NEW.idx", "evaluation_id = NEW.evaluation_id"),
    "log_nodes": ("key = NEW.key",),
    "log_heads": ("tree_size = NEW.tree_size",),
    "audit_events": ("seq = NEW.seq", "id = NEW.id", "tenant = NEW.tenant AND idx = NEW.idx"),
    "store_marks": ("name = NEW.name",),
}


def upgrade() -> None:
    op.create_table(
        "store_marks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    # A store that already seals records: every record after the newest plaintext one
    # must be sealed (older plaintext ones were written before encryption was on).
    op.execute("""
        INSERT INTO store_marks (name, value, at)
        SELECT 'records_sealed_from',
               COALESCE((SELECT MAX(seq) FROM evaluations WHERE key_id IS NULL), 0) + 1,
               'migration 0007'
        WHERE EXISTS (SELECT 1 FROM evaluations WHERE key_id IS NOT NULL)
    """)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION arka_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
            END;
            $$ LANGUAGE plpgsql;
        """)
        op.execute("""
            CREATE TRIGGER store_marks_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON store_marks
            FOR EACH STATEMENT EXECUTE FUNCTION arka_append_only();
        """)
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER store_marks_no_{event.lower()} BEFORE {event} ON store_marks
            BEGIN SELECT RAISE(ABORT, 'store_marks are append-only'); END;
        """)
    for table, keys in KEYS.items():
        exists = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {k})" for k in keys)
        op.execute(f"""
            CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
            WHEN {exists}
            BEGIN SELECT RAISE(ABORT, '{table} are append-only: a row with this key exists');
            END;
        """)


def downgrade() -> None:
    raise NotImplementedError("integrity triggers cannot be downgraded; restore a backup")
