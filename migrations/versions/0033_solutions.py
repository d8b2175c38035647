"""solutions: replications (a challenge started from a proven solution)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04 18:30:00.000000

- `replications`: one row per replication challenge (unique), naming the solution's grant it replicates,
  the original grantee organisation it invites, who started it and when. Solutions are derived from grants
  and tranches (`solutions.queries.solution_condition`): no table.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'replications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('solution_grant_id', sa.Integer(), nullable=False),
        sa.Column('challenge_id', sa.Integer(), nullable=False),
        sa.Column('invited_organization_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['solution_grant_id'], ['grants.id'],
                                name=op.f('fk_replications_solution_grant_id_grants'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'],
                                name=op.f('fk_replications_challenge_id_challenges'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_organization_id'], ['organizations.id'],
                                name=op.f('fk_replications_invited_organization_id_organizations'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_replications_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_replications')),
        sa.UniqueConstraint('challenge_id', name=op.f('uq_replications_challenge_id')),
    )
    op.create_index(op.f('ix_replications_solution_grant_id'), 'replications', ['solution_grant_id'], unique=False)
    op.create_index(op.f('ix_replications_invited_organization_id'), 'replications', ['invited_organization_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_replications_invited_organization_id'), table_name='replications')
    op.drop_index(op.f('ix_replications_solution_grant_id'), table_name='replications')
    op.drop_table('replications')
