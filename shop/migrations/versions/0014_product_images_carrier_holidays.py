"""product images, carrier holidays

Revision ID: 0014
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holidays', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_column('holidays')
