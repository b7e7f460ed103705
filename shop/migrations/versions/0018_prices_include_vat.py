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
    # Every existing shop and order was priced VAT-inclusive: the default keeps them so. A
    # plain ADD COLUMN, not a batch: rebuilding `merchants` on SQLite fails once rows point
    # at it.
    for table in ('merchants', 'orders'):
        op.add_column(table, sa.Column('prices_include_vat', sa.Boolean(), nullable=False,
                                       server_default=sa.true()))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35 has it), for the same reason as above.
    for table in ('orders', 'merchants'):
        op.drop_column(table, 'prices_include_vat')
