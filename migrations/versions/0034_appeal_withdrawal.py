"""review: an applicant may withdraw an appeal awaiting a decision

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-04 18:40:00.000000

- `review_appeals.status` is a portable enum (VARCHAR + CHECK); the CHECK gains 'withdrawn'.
- `review_appeals.withdrawn_at`: when the applicant withdrew it.
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

OLD = ('submitted', 'upheld', 'dismissed')
NEW = (*OLD, 'withdrawn')


def _check(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table('review_appeals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_review_appeals_appealstatus'), type_='check')
        batch_op.create_check_constraint('appealstatus', _check(NEW))
        batch_op.add_column(sa.Column('withdrawn_at', facility.core.models.UTCDateTime(), nullable=True))


def downgrade():
    op.execute("DELETE FROM review_appeals WHERE status = 'withdrawn'")
    with op.batch_alter_table('review_appeals', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_constraint(batch_op.f('ck_review_appeals_appealstatus'), type_='check')
        batch_op.create_check_constraint('appealstatus', _check(OLD))
