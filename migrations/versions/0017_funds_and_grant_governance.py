"""ledger: earmarked funds as a dimension of the accounts; grants: awaiting approval, cancelled tranches

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 13:50:00.000000

- `ledger_funds`: one row per earmarked fund (the general fund has none).
- `ledger_accounts.base_code` (the purpose account a fund's share belongs to; its own code for the
  general fund, filled in for every existing account) and `fund_id`.
- `grants.status` gains 'pending_approval' (an award above the approval threshold), and
  `tranches.status` 'cancelled' (removed by an amendment or with its grant). Both are portable
  enums (VARCHAR + CHECK): the CHECK is replaced.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

GRANT_OLD = ('offered', 'active', 'completed', 'cancelled')
GRANT_NEW = ('pending_approval', *GRANT_OLD)
TRANCHE_OLD = ('pending', 'evidence_submitted', 'accepted', 'disbursing', 'paid')
TRANCHE_NEW = (*TRANCHE_OLD, 'cancelled')


def _check(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace_status_check(table, name, values):
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(f'ck_{table}_{name}'), type_='check')
        batch_op.create_check_constraint(name, _check(values))


def upgrade():
    op.create_table(
        'ledger_funds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('earmark_kind', sa.String(length=30), nullable=False),
        sa.Column('earmark_value', sa.String(length=60), nullable=False),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_ledger_funds_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_funds')),
    )
    with op.batch_alter_table('ledger_funds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_funds_created_by_id'), ['created_by_id'], unique=False)

    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('base_code', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('fund_id', sa.Integer(), nullable=True))
    op.execute("UPDATE ledger_accounts SET base_code = code")
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.alter_column('base_code', existing_type=sa.String(length=100), nullable=False)
        batch_op.create_index(batch_op.f('ix_ledger_accounts_base_code'), ['base_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_accounts_fund_id'), ['fund_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_ledger_accounts_fund_id_ledger_funds'), 'ledger_funds',
                                    ['fund_id'], ['id'])
        batch_op.create_check_constraint('fund_share_code', '(fund_id IS NULL) = (base_code = code)')

    _replace_status_check('grants', 'grantstatus', GRANT_NEW)
    _replace_status_check('tranches', 'tranchestatus', TRANCHE_NEW)


def downgrade():
    op.execute("UPDATE tranches SET status = 'pending' WHERE status = 'cancelled'")
    op.execute("UPDATE grants SET status = 'offered' WHERE status = 'pending_approval'")
    _replace_status_check('tranches', 'tranchestatus', TRANCHE_OLD)
    _replace_status_check('grants', 'grantstatus', GRANT_OLD)
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_fund_share_code'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_ledger_accounts_fund_id_ledger_funds'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_fund_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_base_code'))
        batch_op.drop_column('fund_id')
        batch_op.drop_column('base_code')
    with op.batch_alter_table('ledger_funds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_funds_created_by_id'))
    op.drop_table('ledger_funds')
