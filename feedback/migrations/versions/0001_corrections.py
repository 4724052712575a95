"""The corrections table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("predicted", sa.SmallInteger(), nullable=True),
        sa.Column("probabilities", sa.JSON(), nullable=True),
        sa.Column("label", sa.SmallInteger(), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("strokes", sa.JSON(), nullable=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False, server_default="new"),
        sa.CheckConstraint("label BETWEEN 0 AND 9", name="ck_corrections_label"),
        sa.CheckConstraint("predicted IS NULL OR predicted BETWEEN 0 AND 9", name="ck_corrections_predicted"),
        sa.CheckConstraint("status IN ('new', 'accepted', 'rejected')", name="ck_corrections_status"),
    )


def downgrade() -> None:
    op.drop_table("corrections")
