"""accounts: a second factor (TOTP secret, recovery codes), fresh-factor time on sessions, enrol-only tokens

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('mfa_enrolled_at', facility.core.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', facility.core.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('factor_verified_at', facility.core.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrol_only', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'mfa_recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=255), nullable=False),
        sa.Column('used_at', facility.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.create_index('ix_mfa_recovery_codes_user_id', ['user_id'], unique=False)


def downgrade():
    op.drop_table('mfa_recovery_codes')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('enrol_only')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('factor_verified_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('mfa_enrolled_at')
        batch_op.drop_column('totp_secret_encrypted')
