"""grants: an award follows the panel (the override's reason and author) and awards above the threshold are approved

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 14:00:00.000000

- `grants.award_override_reason`, `grants.award_override_by_id`: set when a fund manager awarded a
  proposal the panel's released decision did not select, with the written reason.
- `grant_approvals`: one row per fund manager approving an award above `AWARD_APPROVAL_ABOVE_CENTS`,
  with the approval limit they held then (unique per grant and approver).
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('award_override_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('award_override_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_grants_award_override_by_id_users'), 'users',
                                    ['award_override_by_id'], ['id'], ondelete='SET NULL')

    op.create_table(
        'grant_approvals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=False),
        sa.Column('approver_id', sa.Integer(), nullable=False),
        sa.Column('limit_cents', sa.BigInteger(), nullable=False),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['approver_id'], ['users.id'], name=op.f('fk_grant_approvals_approver_id_users'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], name=op.f('fk_grant_approvals_grant_id_grants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_approvals')),
        sa.UniqueConstraint('grant_id', 'approver_id', name='uq_grant_approvals_pair'),
    )
    with op.batch_alter_table('grant_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_approvals_grant_id'), ['grant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('grant_approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_approvals_grant_id'))
    op.drop_table('grant_approvals')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_grants_award_override_by_id_users'), type_='foreignkey')
        batch_op.drop_column('award_override_by_id')
        batch_op.drop_column('award_override_reason')
