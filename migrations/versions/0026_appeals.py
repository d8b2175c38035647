"""review: appeals (requests for reconsideration of a released decision)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 02:30:00.000000

- `review_decisions.set_aside_at`: when an upheld appeal set the decision aside (the proposal is reviewed
  again and gets a new decision).
- `review_appeals`: one row per appeal, at most one per decision: the applicant's grounds and statement,
  its status (submitted, upheld, dismissed), the fund manager who handled it and the reasons given.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('review_decisions', sa.Column('set_aside_at', facility.core.models.UTCDateTime(), nullable=True))
    op.create_table(
        'review_appeals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('applicant_id', sa.Integer(), nullable=True),
        sa.Column('grounds', sa.Enum('procedural_error', 'undeclared_conflict', 'factual_error', name='appealgrounds',
                                     native_enum=False, create_constraint=True, length=40), nullable=False),
        sa.Column('statement', sa.Text(), nullable=False),
        sa.Column('status', sa.Enum('submitted', 'upheld', 'dismissed', name='appealstatus', native_enum=False,
                                    create_constraint=True, length=40), nullable=False),
        sa.Column('handler_id', sa.Integer(), nullable=True),
        sa.Column('outcome_reasons', sa.Text(), nullable=False),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('decided_at', facility.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['decision_id'], ['review_decisions.id'],
                                name=op.f('fk_review_appeals_decision_id_review_decisions'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_review_appeals_proposal_id_proposals'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_review_appeals_organization_id_organizations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['applicant_id'], ['users.id'], name=op.f('fk_review_appeals_applicant_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['handler_id'], ['users.id'], name=op.f('fk_review_appeals_handler_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_appeals')),
        sa.UniqueConstraint('decision_id', name='uq_review_appeals_decision'),
    )
    op.create_index(op.f('ix_review_appeals_proposal_id'), 'review_appeals', ['proposal_id'], unique=False)
    op.create_index(op.f('ix_review_appeals_organization_id'), 'review_appeals', ['organization_id'], unique=False)
    op.create_index(op.f('ix_review_appeals_status'), 'review_appeals', ['status'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_review_appeals_status'), table_name='review_appeals')
    op.drop_index(op.f('ix_review_appeals_organization_id'), table_name='review_appeals')
    op.drop_index(op.f('ix_review_appeals_proposal_id'), table_name='review_appeals')
    op.drop_table('review_appeals')
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_column('set_aside_at')
