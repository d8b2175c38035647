"""accounts: role grant requests (a second administrator approves fund manager, administrator and auditor)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

STATUSES = ('pending', 'approved', 'rejected', 'withdrawn')


def upgrade():
    op.create_table(
        'role_grant_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('roles', sa.JSON(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('status', sa.Enum(*STATUSES, name='rolerequeststatus', native_enum=False, length=40,
                                    create_constraint=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', facility.core.models.UTCDateTime(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('role_grant_requests', schema=None) as batch_op:
        batch_op.create_index('ix_role_grant_requests_person_id', ['person_id'], unique=False)
        batch_op.create_index('ix_role_grant_requests_status', ['status'], unique=False)


def downgrade():
    op.drop_table('role_grant_requests')
