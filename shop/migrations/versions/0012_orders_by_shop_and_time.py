"""orders found by shop and creation time (today's sales, newest-first lists)

Revision ID: 0012
Revises: 0004
Create Date: 2026-12-04

The back-office dashboard sums a shop's orders of the day and the order lists page a shop's
orders newest first; without this index both read every order of the shop
(`python -m benchmarks.backoffice_dashboard`, 100,000 orders, dashboard median: PostgreSQL
108 -> 39 ms, SQLite 156 -> 75 ms).
"""

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_orders_merchant_created_at', 'orders', ['merchant_id', 'created_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_orders_merchant_created_at', table_name='orders')
