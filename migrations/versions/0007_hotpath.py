"""flash quota set aside from stock: flash_items.set_aside, flash_activities.settled_at

Revision ID: 0007_hotpath
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import quanzi.kit.db

revision = "0007_hotpath"
down_revision = "0007_me"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flash_items") as batch:
        batch.add_column(sa.Column("set_aside", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("flash_activities") as batch:
        batch.add_column(sa.Column("settled_at", quanzi.kit.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flash_activities") as batch:
        batch.drop_column("settled_at")
    with op.batch_alter_table("flash_items") as batch:
        batch.drop_column("set_aside")
