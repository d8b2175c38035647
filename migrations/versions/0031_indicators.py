"""indicators: milestone indicators, tranche indicators (payment conditions) and their readings

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04 18:40:00.000000

- `milestone_indicators`: a proposal milestone's (by position) catalogue indicator with unit, baseline, target
  (integers scaled by 10^4), direction and measurement method.
- `tranche_indicators`: the same terms copied to a grant's tranche at award, and `is_condition`.
- `indicator_readings`: values the grantee reported, with evidence (a milestone report, a note) and verification.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def _direction():
    return sa.Enum('increase', 'decrease', name='direction', native_enum=False, create_constraint=True, length=40)


def _terms():
    return [
        sa.Column('code', sa.String(length=30), nullable=False),
        sa.Column('unit', sa.String(length=40), nullable=False),
        sa.Column('baseline_scaled', sa.BigInteger(), nullable=False),
        sa.Column('target_scaled', sa.BigInteger(), nullable=False),
        sa.Column('direction', _direction(), nullable=False),
        sa.Column('method', sa.Text(), nullable=False),
    ]


def upgrade():
    op.create_table(
        'milestone_indicators',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('milestone_position', sa.Integer(), nullable=False),
        *_terms(),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'],
                                name=op.f('fk_milestone_indicators_proposal_id_proposals'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone_indicators')),
        sa.UniqueConstraint('proposal_id', 'milestone_position', 'code', name='uq_milestone_indicators_code'),
    )
    op.create_index(op.f('ix_milestone_indicators_proposal_id'), 'milestone_indicators', ['proposal_id'])
    op.create_table(
        'tranche_indicators',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tranche_id', sa.Integer(), nullable=False),
        *_terms(),
        sa.Column('is_condition', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(['tranche_id'], ['tranches.id'], name=op.f('fk_tranche_indicators_tranche_id_tranches'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tranche_indicators')),
        sa.UniqueConstraint('tranche_id', 'code', name='uq_tranche_indicators_code'),
    )
    op.create_index(op.f('ix_tranche_indicators_tranche_id'), 'tranche_indicators', ['tranche_id'])
    op.create_index(op.f('ix_tranche_indicators_code'), 'tranche_indicators', ['code'])
    op.create_table(
        'indicator_readings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('indicator_id', sa.Integer(), nullable=False),
        sa.Column('value_scaled', sa.BigInteger(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.Enum('submitted', 'verified', 'rejected', name='readingstatus', native_enum=False,
                                    create_constraint=True, length=40), nullable=False),
        sa.Column('reported_by_id', sa.Integer(), nullable=True),
        sa.Column('reported_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('verified_by_id', sa.Integer(), nullable=True),
        sa.Column('verified_at', facility.core.models.UTCDateTime(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['indicator_id'], ['tranche_indicators.id'],
                                name=op.f('fk_indicator_readings_indicator_id_tranche_indicators'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['report_id'], ['milestone_reports.id'],
                                name=op.f('fk_indicator_readings_report_id_milestone_reports'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_indicator_readings_reported_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_indicator_readings_verified_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_readings')),
    )
    op.create_index(op.f('ix_indicator_readings_indicator_id'), 'indicator_readings', ['indicator_id'])
    op.create_index(op.f('ix_indicator_readings_status'), 'indicator_readings', ['status'])


def downgrade():
    op.drop_table('indicator_readings')
    op.drop_table('tranche_indicators')
    op.drop_table('milestone_indicators')
