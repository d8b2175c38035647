"""accounts: the read-only `auditor` role (DESIGN.md section 1: reads everything, changes nothing)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:10:00.000000

`user_roles.role` is a portable enum (VARCHAR + CHECK); the CHECK gains 'auditor'.
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD = ('admin', 'fund_manager', 'city_official', 'innovator', 'reviewer', 'donor')
NEW = (*OLD, 'auditor')


def _check(values):
    return "role IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(values):
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_user_roles_role'), type_='check')
        batch_op.create_check_constraint('role', _check(values))


def upgrade():
    _replace(NEW)


def downgrade():
    op.execute("DELETE FROM user_roles WHERE role = 'auditor'")
    _replace(OLD)
