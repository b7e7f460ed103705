"""people in several companies, expiring tokens, plans, audit log, announced events

Revision ID: 0004
Revises: 0010
Create Date: 2026-12-04
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0010'
branch_labels = None
depends_on = None

# Tokens issued before expiry existed get the default lifetime, counted from their issue.
LEGACY_TOKEN_TTL = timedelta(days=30)


def _token_columns() -> list:
    return [sa.column('id', sa.Integer()), sa.column('token_hash', sa.String()),
            sa.column('collaborator_id', sa.Integer()), sa.column('merchant_id', sa.Integer()),
            sa.column('created_at', sa.DateTime())]


TOKENS = sa.table('api_tokens', *_token_columns())


def _set_tokens_aside() -> list:
    """Take the tokens out while `collaborators` is rebuilt.

    SQLite alters a table by copying it, dropping the old one and renaming the copy; with
    foreign keys on (as peakshop runs it), dropping a table that tokens point at fails, and
    deferring the check does not help since the renamed copy never "re-inserts" the rows.
    """
    bind = op.get_bind()
    rows = bind.execute(sa.select(TOKENS)).mappings().all()
    bind.execute(TOKENS.delete())
    return [dict(row) for row in rows]


def _restore_tokens(table, rows: list) -> None:
    if not rows:
        return
    op.bulk_insert(table, rows)
    if op.get_bind().dialect.name == 'postgresql':
        # Rows went back with their ids; the id sequence must still start above them.
        op.execute("SELECT setval(pg_get_serial_sequence('api_tokens', 'id'), "
                   "(SELECT max(id) FROM api_tokens))")


def upgrade() -> None:
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.execute("INSERT INTO people (email, password_hash, created_at) "
               "SELECT email, password_hash, created_at FROM collaborators")
    tokens = _set_tokens_aside()

    with op.batch_alter_table('collaborators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='active'))
        batch_op.add_column(sa.Column('invited_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('invitation_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('invitation_expires_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE collaborators SET person_id = "
               "(SELECT people.id FROM people WHERE people.email = collaborators.email)")
    with op.batch_alter_table('collaborators', schema=None) as batch_op:
        batch_op.drop_column('email')
        batch_op.drop_column('password_hash')
        batch_op.alter_column('status', server_default=None)
        batch_op.create_index(batch_op.f('ix_collaborators_person_id'), ['person_id'],
                              unique=False)
        batch_op.create_unique_constraint('uq_collaborators_merchant_person',
                                          ['merchant_id', 'person_id'])
        batch_op.create_unique_constraint('uq_collaborators_merchant_invited_email',
                                          ['merchant_id', 'invited_email'])
        batch_op.create_unique_constraint('uq_collaborators_invitation_hash',
                                          ['invitation_hash'])
        batch_op.create_foreign_key('fk_collaborators_person_id', 'people', ['person_id'],
                                    ['id'])

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)
    with_expiry = sa.table('api_tokens', *_token_columns(),
                           sa.column('expires_at', sa.DateTime()))
    _restore_tokens(with_expiry, [{**token, 'expires_at': token['created_at'] + LEGACY_TOKEN_TTL}
                                  for token in tokens])

    op.create_table('subscriptions',
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.String(length=16), nullable=False),
    sa.Column('billing_reference', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.PrimaryKeyConstraint('merchant_id')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_person_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_merchant_id_id', ['merchant_id', 'id'], unique=False)

    op.create_table('shop_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('duration_min', sa.Integer(), nullable=False),
    sa.Column('expected_peak_rps', sa.Integer(), nullable=False),
    sa.Column('planned_web_replicas', sa.Integer(), nullable=True),
    sa.Column('plan_ready_by', sa.DateTime(), nullable=True),
    sa.Column('plan_recorded_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('shop_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_events_merchant_id'), ['merchant_id'],
                              unique=False)
        batch_op.create_index('ix_shop_events_starts_at', ['starts_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shop_events', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_events_starts_at')
        batch_op.drop_index(batch_op.f('ix_shop_events_merchant_id'))
    op.drop_table('shop_events')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_merchant_id_id')
    op.drop_table('audit_log')
    op.drop_table('subscriptions')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
    # Memberships of invitees who never accepted have no person to give an e-mail back.
    op.execute("DELETE FROM api_tokens WHERE collaborator_id IN "
               "(SELECT id FROM collaborators WHERE person_id IS NULL)")
    op.execute("DELETE FROM collaborators WHERE person_id IS NULL")
    tokens = _set_tokens_aside()
    with op.batch_alter_table('collaborators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('password_hash', sa.String(length=256), nullable=True))
    op.execute("UPDATE collaborators SET "
               "email = (SELECT email FROM people WHERE people.id = collaborators.person_id), "
               "password_hash = (SELECT password_hash FROM people "
               "WHERE people.id = collaborators.person_id)")
    with op.batch_alter_table('collaborators', schema=None) as batch_op:
        batch_op.drop_constraint('fk_collaborators_person_id', type_='foreignkey')
        batch_op.drop_constraint('uq_collaborators_invitation_hash', type_='unique')
        batch_op.drop_constraint('uq_collaborators_merchant_invited_email', type_='unique')
        batch_op.drop_constraint('uq_collaborators_merchant_person', type_='unique')
        batch_op.drop_index(batch_op.f('ix_collaborators_person_id'))
        batch_op.drop_column('invitation_expires_at')
        batch_op.drop_column('invitation_hash')
        batch_op.drop_column('invited_email')
        batch_op.drop_column('status')
        batch_op.drop_column('person_id')
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=False)
        batch_op.alter_column('password_hash', existing_type=sa.String(length=256),
                              nullable=False)
        batch_op.create_unique_constraint('uq_collaborators_email', ['email'])
    _restore_tokens(TOKENS, tokens)
    op.drop_table('people')
