"""me page: division codes on addresses, the phone-visibility privacy setting

Revision ID: 0007_me
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_me"
down_revision = "0007_media"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("province_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("city_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("district_code", sa.String(length=12), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("show_phone_to_shops", sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("show_phone_to_shops")
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.drop_column("district_code")
        batch_op.drop_column("city_code")
        batch_op.drop_column("province_code")
