"""Four-eyes approval of rules, rulesets and reference tables: each version has a status
(`active`, `pending`, `rejected`), who deployed it, and who reviewed it when. Existing
versions are `active`.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("rules", "rulesets", "reference_tables"):
        op.add_column(table, sa.Column("status", sa.String(16), nullable=False,
                                       server_default="active"))
        op.add_column(table, sa.Column("deployed_by", sa.String(256)))
        op.add_column(table, sa.Column("reviewed_by", sa.String(256)))
        op.add_column(table, sa.Column("reviewed_at", sa.DateTime(timezone=True)))
        op.add_column(table, sa.Column("review_note", sa.Text))


def downgrade() -> None:
    raise NotImplementedError("approvals cannot be downgraded; restore a backup")
