"""disbursements: payouts in local currency (the amount the grantee received and the exchange rate)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 14:00:00.000000

- `disbursements.local_currency` (ISO 4217), `local_amount_minor` (minor units), `exchange_rate`
  (local units per US dollar, exact text), `exchange_rate_source` ('manual' or 'stripe', a portable
  enum: VARCHAR + CHECK). All four or none (a payment in US dollars); the amount is above zero.
  The ledger is untouched: the USD amount alone is booked.
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

COMPLETE = ("(local_currency IS NULL AND local_amount_minor IS NULL AND exchange_rate IS NULL "
            "AND exchange_rate_source IS NULL) OR (local_currency IS NOT NULL AND local_amount_minor IS NOT NULL "
            "AND exchange_rate IS NOT NULL AND exchange_rate_source IS NOT NULL)")


def upgrade():
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('local_amount_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('exchange_rate', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('exchange_rate_source', sa.Enum(
            'manual', 'stripe', name='exchangeratesource', native_enum=False, length=40, create_constraint=True),
            nullable=True))
        batch_op.create_check_constraint('local_amount_positive', 'local_amount_minor IS NULL OR local_amount_minor > 0')
        batch_op.create_check_constraint('local_payment_complete', COMPLETE)


def downgrade():
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_disbursements_local_payment_complete'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_disbursements_local_amount_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_disbursements_exchangeratesource'), type_='check')
        batch_op.drop_column('exchange_rate_source')
        batch_op.drop_column('exchange_rate')
        batch_op.drop_column('local_amount_minor')
        batch_op.drop_column('local_currency')
