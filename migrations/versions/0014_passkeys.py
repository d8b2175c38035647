"""accounts: passkeys (WebAuthn credentials) as a second factor

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

import facility.core.models

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'passkey_credentials',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.String(length=1400), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.BigInteger(), nullable=False),
        sa.Column('transports', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('created_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('last_used_at', facility.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_passkey_credentials_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey_credentials')),
        sa.UniqueConstraint('credential_id', name=op.f('uq_passkey_credentials_credential_id')),
    )
    with op.batch_alter_table('passkey_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_credentials_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('passkey_credentials')
