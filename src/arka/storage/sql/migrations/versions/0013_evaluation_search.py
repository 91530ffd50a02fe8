"""Search columns of evaluations: the flag categories of each result, and blind-index
tokens of the entity ids in each input (the ids themselves stay sealed in the record).
Rows stored before this revision keep NULL in both (evaluations are append-only: they
are not rewritten), so filters on flags or entities do not find them.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evaluations", sa.Column("flags", sa.Text))
    op.add_column("evaluations", sa.Column("entities", sa.Text))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ and PostgreSQL): a batch rebuild of the table would
    # drop its append-only triggers.
    for column in ("entities", "flags"):
        op.execute(f"ALTER TABLE evaluations DROP COLUMN {column}")
