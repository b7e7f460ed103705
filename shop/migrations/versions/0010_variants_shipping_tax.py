"""product variants, carrier rates and cut-off, order shipping and tax

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('has_variants', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_index('ix_products_parent_id', ['parent_id'], unique=False)
        batch_op.create_foreign_key('fk_products_parent_id_products', 'products',
                                    ['parent_id'], ['id'])
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_country', sa.String(length=2), nullable=False,
                                      server_default='DE'))
        for column in ('domestic_rate', 'eu_rate', 'world_rate'):
            batch_op.add_column(sa.Column(column, sa.BigInteger(), nullable=False,
                                          server_default='0'))
        batch_op.add_column(sa.Column('free_shipping_over', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('cutoff_hour', sa.Integer(), nullable=False,
                                      server_default='24'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_amount', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('tax_amount', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('shipping_option', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('shipping_carrier', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('shipping_promised_date', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for column in ('shipping_promised_date', 'shipping_carrier', 'shipping_option',
                       'tax_amount', 'shipping_amount'):
            batch_op.drop_column(column)
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        for column in ('cutoff_hour', 'free_shipping_over', 'world_rate', 'eu_rate',
                       'domestic_rate', 'origin_country'):
            batch_op.drop_column(column)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_constraint('fk_products_parent_id_products', type_='foreignkey')
        batch_op.drop_index('ix_products_parent_id')
        batch_op.drop_column('has_variants')
        batch_op.drop_column('options')
        batch_op.drop_column('parent_id')
