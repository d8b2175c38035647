"""grants: cancellation (who, when, why) and refunds (money a grantee paid back)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 14:00:00.000000

- `grants.cancelled_at`, `cancelled_by_id`, `cancel_reason` (grants.cancellation).
- `grant_refunds`: one row per refund or clawback received, with its bank reference, the date it
  arrived, where the money went (the challenge's pool or unallocated funds) and its ledger transaction.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', facility.core.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_grants_cancelled_by_id_users'), 'users', ['cancelled_by_id'],
                                    ['id'], ondelete='SET NULL')

    op.create_table(
        'grant_refunds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('bank_reference', sa.String(length=120), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('destination', sa.Enum('pool', 'unallocated', name='refunddestination', native_enum=False,
                                         create_constraint=True, length=40), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('ledger_transaction_id', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), server_default='', nullable=False),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.CheckConstraint('amount_cents > 0', name=op.f('ck_grant_refunds_amount_positive')),
        sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], name=op.f('fk_grant_refunds_grant_id_grants'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['ledger_transaction_id'], ['ledger_transactions.id'],
                                name=op.f('fk_grant_refunds_ledger_transaction_id_ledger_transactions'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_grant_refunds_recorded_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_refunds')),
        sa.UniqueConstraint('ledger_transaction_id', name=op.f('uq_grant_refunds_ledger_transaction_id')),
    )
    with op.batch_alter_table('grant_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_refunds_grant_id'), ['grant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('grant_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_refunds_grant_id'))
    op.drop_table('grant_refunds')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_grants_cancelled_by_id_users'), type_='foreignkey')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by_id')
        batch_op.drop_column('cancelled_at')
