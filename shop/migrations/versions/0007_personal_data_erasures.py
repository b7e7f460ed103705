"""personal data erasures and the erased mark on orders

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('personal_data_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('subject_sha256', sa.String(length=64), nullable=True),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('orders_anonymised', sa.Integer(), nullable=False),
    sa.Column('orders_kept_open', sa.Integer(), nullable=False),
    sa.Column('mails_erased', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.ForeignKeyConstraint(['requested_by'], ['collaborators.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('personal_data_erasures', schema=None) as batch_op:
        batch_op.create_index('ix_personal_data_erasures_merchant', ['merchant_id', 'created_at'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personal_data_erased_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('personal_data_erased_at')

    with op.batch_alter_table('personal_data_erasures', schema=None) as batch_op:
        batch_op.drop_index('ix_personal_data_erasures_merchant')

    op.drop_table('personal_data_erasures')
