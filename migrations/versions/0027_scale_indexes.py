"""scale: indexes the full-scale pages need

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 02:45:00.000000

Measured at full scale (`facility seed-scale`, 461,000 contributions, 10,000 grants):
- `contributions.ledger_transaction_id`: the public ledger names the donor of each contribution on
  its page by transaction id; without an index every page read all contributions (about 100 ms).
- `grants (awarded_at, id)`: the grants register and its API list are newest award first; the index
  gives the first page without joining and sorting every grant.
"""
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_contributions_ledger_transaction_id', 'contributions', ['ledger_transaction_id'])
    op.create_index('ix_grants_awarded_at_id', 'grants', ['awarded_at', 'id'])


def downgrade():
    op.drop_index('ix_grants_awarded_at_id', table_name='grants')
    op.drop_index('ix_contributions_ledger_transaction_id', table_name='contributions')
