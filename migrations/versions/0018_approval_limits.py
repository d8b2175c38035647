"""accounts: personal approval limits and their requests; disbursements: the approver's limit on each approval

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 14:00:00.000000

- `users.approval_limit_cents` (NULL: the configured default, `DEFAULT_APPROVAL_LIMIT_CENTS`).
- `approval_limit_requests`: an administrator's proposal of a fund manager's new limit, which a second
  administrator approves (the role requests' statuses).
- `disbursement_approvals.limit_cents`: the approver's limit when they approved. Approvals recorded before
  limits existed counted under the rules of their time; they keep counting: their limit is filled in as the
  default limit (USD 500,000), or the disbursement's amount when that is larger.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'approved', 'rejected', 'withdrawn')
DEFAULT_LIMIT_CENTS = 50_000_000


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_limit_cents', sa.BigInteger(), nullable=True))

    op.create_table(
        'approval_limit_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('limit_cents', sa.BigInteger(), nullable=True),
        sa.Column('previous_limit_cents', sa.BigInteger(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('status', sa.Enum(*STATUSES, name='rolerequeststatus', native_enum=False, length=40,
                                    create_constraint=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', facility.core.models.UTCDateTime(), nullable=True),
        sa.Column('decision_reason', sa.Text(), nullable=False),
        sa.CheckConstraint('limit_cents IS NULL OR limit_cents >= 0',
                           name=op.f('ck_approval_limit_requests_limit_not_negative')),
        sa.ForeignKeyConstraint(['person_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('approval_limit_requests', schema=None) as batch_op:
        batch_op.create_index('ix_approval_limit_requests_person_id', ['person_id'], unique=False)
        batch_op.create_index('ix_approval_limit_requests_status', ['status'], unique=False)

    with op.batch_alter_table('disbursement_approvals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limit_cents', sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE disbursement_approvals SET limit_cents = (SELECT CASE WHEN d.amount_cents > "
        f"{DEFAULT_LIMIT_CENTS} THEN d.amount_cents ELSE {DEFAULT_LIMIT_CENTS} END FROM disbursements d "
        "WHERE d.id = disbursement_approvals.disbursement_id)")
    with op.batch_alter_table('disbursement_approvals', schema=None) as batch_op:
        batch_op.alter_column('limit_cents', existing_type=sa.BigInteger(), nullable=False)


def downgrade():
    with op.batch_alter_table('disbursement_approvals', schema=None) as batch_op:
        batch_op.drop_column('limit_cents')
    op.drop_table('approval_limit_requests')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('approval_limit_cents')
