"""product images, carrier holidays

Revision ID: 0014
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holidays', sa.JSON(), nullable=True))
    op.create_table('product_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('alt', sa.String(length=500), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('renditions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_product_images_merchant_id', 'product_images', ['merchant_id'], unique=False)
    op.create_index('ix_product_images_product_position', 'product_images', ['product_id', 'position'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_product_images_product_position', table_name='product_images')
    op.drop_index('ix_product_images_merchant_id', table_name='product_images')
    op.drop_table('product_images')
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_column('holidays')
