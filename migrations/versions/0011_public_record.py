"""grants: the public record: a contribution's `anonymous` choice and a milestone report's public summary

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:30:00.000000

`contributions.anonymous`: the donor chose, at pledge time, to appear as "anonymous donor" on the
public ledger. `milestone_reports.public_summary` (and when it was written): the grantee's short public
account of an accepted milestone, separate from the private report.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymous', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('milestone_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_summary', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('public_summary_at', facility.core.models.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('milestone_reports', schema=None) as batch_op:
        batch_op.drop_column('public_summary_at')
        batch_op.drop_column('public_summary')
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_column('anonymous')
