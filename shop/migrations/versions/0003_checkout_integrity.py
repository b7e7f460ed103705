"""checkout integrity: one live order per cart, request fingerprints, shop currency, 64-bit money

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Validation allows amounts up to 10^12 minor units; a 32-bit column overflows at 2^31.
MONEY_COLUMNS = (('products', 'price_amount'), ('orders', 'total_amount'),
                 ('order_lines', 'unit_price_amount'))


def upgrade() -> None:
    # Plain ADD COLUMN (never a batch rebuild): SQLite cannot drop a table that rows of
    # other tables point at, and every existing shop has such rows.
    op.add_column('merchants', sa.Column('currency', sa.String(length=3), nullable=False,
                                         server_default='EUR'))
    op.add_column('orders', sa.Column('request_fingerprint', sa.String(length=64),
                                      nullable=True))
    op.add_column('orders', sa.Column('cart_claim', sa.String(length=32), nullable=True))
    # A unique index rather than a constraint: SQLite adds it without rebuilding the table.
    op.create_index('uq_orders_cart_claim', 'orders', ['cart_claim'], unique=True)
    op.create_index('ix_orders_cart_id', 'orders', ['cart_id'])
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite integers are 64-bit already (the models declare INTEGER there); rebuilding
        # these tables to rename the type would trip over the foreign keys that point at them.
        return
    for table, column in MONEY_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Integer(), type_=sa.BigInteger(),
                                  existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        for table, column in MONEY_COLUMNS:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.alter_column(column, existing_type=sa.BigInteger(),
                                      type_=sa.Integer(), existing_nullable=False)
    op.drop_index('ix_orders_cart_id', table_name='orders')
    op.drop_index('uq_orders_cart_claim', table_name='orders')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('cart_claim')
        batch_op.drop_column('request_fingerprint')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('currency')
