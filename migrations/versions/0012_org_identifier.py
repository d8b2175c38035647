"""accounts: an optional org-id.guide identifier on organisations, published in the open data

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_identifier', sa.String(length=60), nullable=True))


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('org_identifier')
