"""shops choose gross or net prices; orders record which they were priced in

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every existing shop and order was priced VAT-inclusive: the default keeps them so.
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prices_include_vat', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prices_include_vat', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('prices_include_vat')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('prices_include_vat')
