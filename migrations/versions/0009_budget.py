"""proposals and grants: budget by category, and what each milestone report says was spent

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:30:00.000000

`proposal_budget_lines`: a proposal's budget, one row per category (at submission the rows add up
to the request). `report_spending_lines`: what a milestone report states was spent per category.
Categories are a portable enum (VARCHAR + CHECK), amounts integer cents, never negative.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

CATEGORIES = ('personnel', 'equipment', 'services', 'travel', 'other')


def _category():
    return sa.Enum(*CATEGORIES, name='budgetcategory', native_enum=False, create_constraint=True, length=40)


def upgrade():
    op.create_table('proposal_budget_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('category', _category(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_proposal_budget_lines_amount_not_negative')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_proposal_budget_lines_proposal_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_budget_lines')),
    sa.UniqueConstraint('proposal_id', 'category', name='uq_proposal_budget_lines_category')
    )
    op.create_table('report_spending_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('category', _category(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_report_spending_lines_amount_not_negative')),
    sa.ForeignKeyConstraint(['report_id'], ['milestone_reports.id'], name=op.f('fk_report_spending_lines_report_id_milestone_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_spending_lines')),
    sa.UniqueConstraint('report_id', 'category', name='uq_report_spending_lines_category')
    )


def downgrade():
    op.drop_table('report_spending_lines')
    op.drop_table('proposal_budget_lines')
