"""Anchors of signed tree heads on EVM chains (a persisted state machine).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anchors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chain", sa.String(32), nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("raw_tx", sa.Text),
        sa.Column("nonce", sa.BigInteger),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("block_hash", sa.String(66)),
        sa.Column("confirmations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reorgs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", sa.Float, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chain", "tree_size", name="uq_anchors_chain_tree_size"),
    )
    op.create_index("ix_anchors_chain_status", "anchors", ["chain", "status"])


def downgrade() -> None:
    op.drop_index("ix_anchors_chain_status", "anchors")
    op.drop_table("anchors")
