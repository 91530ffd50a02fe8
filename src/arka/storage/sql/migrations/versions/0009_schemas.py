"""Named schemas (`schema:` documents that type rule inputs), versioned like reference
tables: per tenant, immutable versions, four-eyes review, row-level security on
PostgreSQL.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schemas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("patch", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_hash", sa.String(80), nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("deployed_by", sa.String(256)),
        sa.Column("reviewed_by", sa.String(256)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.Column("review_note", sa.Text),
        sa.UniqueConstraint("tenant", "name", "version", name="uq_schemas_tenant_name_version"),
    )
    if op.get_bind().dialect.name == "postgresql":  # as 0005 does for the other tables
        op.execute("ALTER TABLE schemas ENABLE ROW LEVEL SECURITY")
        op.execute("""
            CREATE POLICY schemas_tenant ON schemas
            USING (tenant = current_setting('arka.tenant', true)
                   OR current_setting('arka.tenant', true) = '*')
            WITH CHECK (tenant = current_setting('arka.tenant', true)
                        OR current_setting('arka.tenant', true) = '*')
        """)


def downgrade() -> None:
    op.drop_table("schemas")
