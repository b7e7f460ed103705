"""image positions unique per product, carriers' holiday region and public holidays

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_images = sa.table('product_images', sa.column('id', sa.Integer),
                   sa.column('product_id', sa.Integer), sa.column('position', sa.Integer))
_carriers = sa.table('carriers', sa.column('id', sa.Integer), sa.column('holidays', sa.JSON),
                     sa.column('public_holidays', sa.Boolean))


def upgrade() -> None:
    connection = op.get_bind()
    # Deleted images used to leave gaps: close them (0, 1, 2, ... in the order shown)
    # before positions become unique.
    rows = connection.execute(sa.select(_images.c.id, _images.c.product_id)
                              .order_by(_images.c.product_id, _images.c.position,
                                        _images.c.id)).all()
    previous, position = None, 0
    for image_id, product_id in rows:
        position = position + 1 if product_id == previous else 0
        previous = product_id
        connection.execute(sa.update(_images).where(_images.c.id == image_id)
                           .values(position=position))
    op.drop_index('ix_product_images_product_position', table_name='product_images')
    op.create_index('uq_product_images_product_position', 'product_images',
                    ['product_id', 'position'], unique=True)

    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_subdivision', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('public_holidays', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    # A carrier's own list used to replace the public holidays: such carriers keep working
    # by their list alone.
    for carrier_id, holidays in connection.execute(sa.select(_carriers.c.id,
                                                             _carriers.c.holidays)).all():
        if isinstance(holidays, list):
            connection.execute(sa.update(_carriers).where(_carriers.c.id == carrier_id)
                               .values(public_holidays=False))


def downgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_column('public_holidays')
        batch_op.drop_column('origin_subdivision')
    op.drop_index('uq_product_images_product_position', table_name='product_images')
    op.create_index('ix_product_images_product_position', 'product_images',
                    ['product_id', 'position'], unique=False)
