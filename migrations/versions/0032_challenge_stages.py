"""challenges: staged prizes (a challenge's stages and the invitations from one stage to the next)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04 18:30:00.000000

- `challenges.previous_stage_id` (the stage before this one), `challenges.stage_name` (e.g. "Pilot",
  "Scale"; empty for a one-stage challenge) and `challenges.invitation_only` (only invited organisations
  may apply). Added with `add_column` alone: no batch rebuild of `challenges` (its full-text triggers);
  on SQLite the foreign key is declared inline in the ADD COLUMN.
- `challenge_invitations`: an organisation invited to a stage, the grant of the previous stage it came from,
  the public reason why it advanced, who invited it and when; one per stage and organisation.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute('ALTER TABLE challenges ADD COLUMN previous_stage_id INTEGER '
                   'CONSTRAINT fk_challenges_previous_stage_id_challenges REFERENCES challenges (id)')
    else:
        op.add_column('challenges', sa.Column('previous_stage_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_challenges_previous_stage_id_challenges'), 'challenges', 'challenges',
                              ['previous_stage_id'], ['id'])
    op.create_index(op.f('ix_challenges_previous_stage_id'), 'challenges', ['previous_stage_id'], unique=False)
    op.add_column('challenges', sa.Column('stage_name', sa.String(length=80), server_default='', nullable=False))
    op.add_column('challenges', sa.Column('invitation_only', sa.Boolean(), server_default=sa.false(),
                                          nullable=False))
    op.create_table(
        'challenge_invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('challenge_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('source_grant_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('invited_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'],
                                name=op.f('fk_challenge_invitations_challenge_id_challenges'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_challenge_invitations_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_grant_id'], ['grants.id'],
                                name=op.f('fk_challenge_invitations_source_grant_id_grants'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'],
                                name=op.f('fk_challenge_invitations_invited_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_invitations')),
        sa.UniqueConstraint('challenge_id', 'organization_id', name='uq_challenge_invitations_org'),
    )
    op.create_index(op.f('ix_challenge_invitations_challenge_id'), 'challenge_invitations', ['challenge_id'],
                    unique=False)
    op.create_index(op.f('ix_challenge_invitations_organization_id'), 'challenge_invitations', ['organization_id'],
                    unique=False)
    op.create_index(op.f('ix_challenge_invitations_source_grant_id'), 'challenge_invitations', ['source_grant_id'],
                    unique=False)


def downgrade():
    op.drop_index(op.f('ix_challenge_invitations_source_grant_id'), table_name='challenge_invitations')
    op.drop_index(op.f('ix_challenge_invitations_organization_id'), table_name='challenge_invitations')
    op.drop_index(op.f('ix_challenge_invitations_challenge_id'), table_name='challenge_invitations')
    op.drop_table('challenge_invitations')
    op.drop_index(op.f('ix_challenges_previous_stage_id'), table_name='challenges')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('fk_challenges_previous_stage_id_challenges'), 'challenges', type_='foreignkey')
    op.drop_column('challenges', 'invitation_only')
    op.drop_column('challenges', 'stage_name')
    op.drop_column('challenges', 'previous_stage_id')
