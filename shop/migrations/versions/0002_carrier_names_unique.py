"""carrier names unique per merchant

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_carriers_merchant_name', ['merchant_id', 'name'])


def downgrade() -> None:
    with op.batch_alter_table('carriers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_carriers_merchant_name', type_='unique')
