"""contributions: earmarks (what the money may pay for) and the ledger fund that keeps them apart

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 14:00:00.000000

- `contributions.earmark_kind` (portable enum: focus_area, country_group, region, challenge) and
  `earmark_value`, both NULL for unrestricted money (CHECK `earmark_whole`);
- `contributions.fund_id`: the ledger fund created when an earmarked contribution is received
  (CHECK `fund_earmarked`: only an earmarked contribution has one).
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

KINDS = ('focus_area', 'country_group', 'region', 'challenge')


def upgrade():
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('earmark_kind', sa.Enum(*KINDS, name='earmarkkind', native_enum=False,
                                                               create_constraint=True, length=30), nullable=True))
        batch_op.add_column(sa.Column('earmark_value', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('fund_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_contributions_fund_id'), ['fund_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_contributions_fund_id_ledger_funds'), 'ledger_funds',
                                    ['fund_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_check_constraint('earmark_whole', '(earmark_kind IS NULL) = (earmark_value IS NULL)')
        batch_op.create_check_constraint('fund_earmarked', 'fund_id IS NULL OR earmark_kind IS NOT NULL')


def downgrade():
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_contributions_fund_earmarked'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_contributions_earmark_whole'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_contributions_earmarkkind'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_contributions_fund_id_ledger_funds'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_contributions_fund_id'))
        batch_op.drop_column('fund_id')
        batch_op.drop_column('earmark_value')
        batch_op.drop_column('earmark_kind')
