"""The sanctions-screening allowlist: per tenant, "subject X is not list entity Y" with a
reason and the entity's content hash at decision time, four-eyes review, revocation; at
most one open (pending or active) entry per subject and entity (a partial unique index),
row-level security on PostgreSQL.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'active')"


def upgrade() -> None:
    op.create_table(
        "screening_allowlist",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
        sa.Column("subject_id", sa.String(256), nullable=False),
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("entity_hash", sa.String(80), nullable=False),
        sa.Column("entity_caption", sa.Text),
        sa.Column("datasets", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(256)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("review_note", sa.Text),
        sa.Column("revoked_by", sa.String(256)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoke_note", sa.Text),
        sa.CheckConstraint("status IN ('pending', 'active', 'rejected', 'revoked')",
                           name="ck_screening_allowlist_status"),
    )
    op.create_index("ix_screening_allowlist_tenant_subject", "screening_allowlist",
                    ["tenant", "subject_id"])
    op.create_index("uq_screening_allowlist_open", "screening_allowlist",
                    ["tenant", "subject_id", "entity_id"], unique=True,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    if op.get_bind().dialect.name == "postgresql":  # as 0005 does for the other tables
        op.execute("ALTER TABLE screening_allowlist ENABLE ROW LEVEL SECURITY")
        op.execute("""
            CREATE POLICY screening_allowlist_tenant ON screening_allowlist
            USING (tenant = current_setting('arka.tenant', true)
                   OR current_setting('arka.tenant', true) = '*')
            WITH CHECK (tenant = current_setting('arka.tenant', true)
                        OR current_setting('arka.tenant', true) = '*')
        """)


def downgrade() -> None:
    op.drop_table("screening_allowlist")
