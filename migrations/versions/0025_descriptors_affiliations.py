"""review: per-criterion score descriptors and reviewers' declared affiliations

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 02:30:00.000000

- `challenge_criteria.descriptor_low`, `descriptor_mid`, `descriptor_high`: what the low, middle and
  high scores of a criterion mean (plain text, empty when not given). Added with `op.add_column` (no
  table rebuild).
- `review_affiliations`: the organisations a reviewer declares having worked with (name, optional
  website domain, optional link to an existing organisation, from/to years; no end year: current),
  read by the conflict-of-interest detection.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

DESCRIPTORS = ('descriptor_low', 'descriptor_mid', 'descriptor_high')


def upgrade():
    for column in DESCRIPTORS:
        op.add_column('challenge_criteria', sa.Column(column, sa.String(length=500), server_default='',
                                                      nullable=False))
    op.create_table('review_affiliations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('organization_name', sa.String(length=200), nullable=False),
    sa.Column('website_domain', sa.String(length=253), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('from_year', sa.Integer(), nullable=True),
    sa.Column('to_year', sa.Integer(), nullable=True),
    sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
    sa.CheckConstraint('from_year IS NULL OR to_year IS NULL OR from_year <= to_year',
                       name=op.f('ck_review_affiliations_years_in_order')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_review_affiliations_organization_id_organizations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_review_affiliations_reviewer_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_affiliations'))
    )
    with op.batch_alter_table('review_affiliations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_affiliations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_affiliations_reviewer_id'), ['reviewer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('review_affiliations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_affiliations_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_review_affiliations_organization_id'))
    op.drop_table('review_affiliations')
    with op.batch_alter_table('challenge_criteria', schema=None) as batch_op:
        for column in reversed(DESCRIPTORS):
            batch_op.drop_column(column)
