"""checkout: one record per placement (orders.checkout_id becomes its id), one payment per checkout

Existing orders are grouped into checkouts by their old random checkout token; existing payments that
paid their order (inbox outcome "paid") are marked `settled_order`.

Revision ID: 0007_checkout
Revises: 0006
Create Date: 2026-12-05 08:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import quanzi.kit.db


revision = '0007_checkout'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('shipping_mode', sa.String(length=12), nullable=False),
    sa.Column('goods_fen', sa.Integer(), nullable=False),
    sa.Column('shipping_fen', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.Integer(), nullable=False),
    sa.Column('created_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('legacy_ref', sa.String(length=32), nullable=True),  # dropped below
    sa.CheckConstraint('total_fen = goods_fen + shipping_fen', name=op.f('ck_checkouts_total_is_goods_plus_shipping')),
    sa.CheckConstraint('total_fen >= 0', name=op.f('ck_checkouts_total_not_negative')),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_checkouts_buyer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkouts'))
    )
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkouts_buyer_id'), ['buyer_id'], unique=False)

    # One checkout per old token, with the sums of its orders.
    op.execute("""
        INSERT INTO checkouts (buyer_id, status, shipping_mode, goods_fen, shipping_fen, total_fen, created_at,
                               paid_at, legacy_ref)
        SELECT MIN(buyer_id),
               CASE WHEN SUM(CASE WHEN status = 'pending_payment' THEN 1 ELSE 0 END) > 0 THEN 'pending_payment'
                    WHEN SUM(CASE WHEN status <> 'cancelled' THEN 1 ELSE 0 END) > 0 THEN 'paid'
                    ELSE 'cancelled' END,
               'per_package', SUM(total_fen) - SUM(shipping_fen), SUM(shipping_fen), SUM(total_fen),
               MIN(created_at), MAX(paid_at), checkout_id
        FROM orders GROUP BY checkout_id
    """)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_ref', sa.Integer(), nullable=True))
    op.execute("UPDATE orders SET checkout_ref = (SELECT c.id FROM checkouts c WHERE c.legacy_ref = orders.checkout_id)")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_checkout_id'))
        batch_op.drop_column('checkout_id')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('checkout_ref', new_column_name='checkout_id', existing_type=sa.Integer(),
                              nullable=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_checkout_id'), ['checkout_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_checkout_id_checkouts'), 'checkouts', ['checkout_id'], ['id'])
    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.drop_column('legacy_ref')

    op.create_table('checkout_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkout_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('out_trade_no', sa.String(length=40), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_queried_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_checkout_payments_amount_positive')),
    sa.ForeignKeyConstraint(['checkout_id'], ['checkouts.id'], name=op.f('fk_checkout_payments_checkout_id_checkouts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkout_payments')),
    sa.UniqueConstraint('out_trade_no', name=op.f('uq_checkout_payments_out_trade_no'))
    )
    with op.batch_alter_table('checkout_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkout_payments_checkout_id'), ['checkout_id'], unique=False)
        batch_op.create_index('ix_checkout_payments_status_created', ['status', 'created_at'], unique=False)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_payment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('settled_order', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_payments_checkout_payment_id'), ['checkout_payment_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_payments_checkout_payment_id_checkout_payments'), 'checkout_payments', ['checkout_payment_id'], ['id'])
    op.execute("""
        UPDATE payments SET settled_order = true WHERE status = 'succeeded' AND EXISTS (
            SELECT 1 FROM payment_notifications n WHERE n.provider = payments.provider
            AND n.transaction_id = payments.transaction_id AND n.outcome = 'paid')
    """)
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.alter_column('settled_order', server_default=None, existing_type=sa.Boolean(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payments_checkout_payment_id_checkout_payments'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_payments_checkout_payment_id'))
        batch_op.drop_column('settled_order')
        batch_op.drop_column('checkout_payment_id')

    with op.batch_alter_table('checkout_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_checkout_payments_status_created')
        batch_op.drop_index(batch_op.f('ix_checkout_payments_checkout_id'))
    op.drop_table('checkout_payments')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_token', sa.String(length=32), nullable=True))
    op.execute("UPDATE orders SET checkout_token = 'c' || CAST(checkout_id AS VARCHAR(20))")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_checkout_id_checkouts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_checkout_id'))
        batch_op.drop_column('checkout_id')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('checkout_token', new_column_name='checkout_id', existing_type=sa.String(length=32),
                              nullable=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_checkout_id'), ['checkout_id'], unique=False)

    with op.batch_alter_table('checkouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkouts_buyer_id'))
    op.drop_table('checkouts')
