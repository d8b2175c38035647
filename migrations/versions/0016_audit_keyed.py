"""audit: keyed chain (key_id on each record), audit_anchors, and on PostgreSQL a separate owner role

Existing records keep their unkeyed SHA-256 and are marked key_id 'sha256-v1' (the column's default
fills them: no UPDATE, which the no-change trigger refuses). New records are signed with AUDIT_KEY.

On PostgreSQL, where the role running the migration may create roles, the audit tables and their
trigger functions are handed to `facility_audit_owner` (NOLOGIN) and the application's role
(AUDIT_APP_ROLE, default the role running this) keeps only INSERT and SELECT (facility.audit.privileges).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:45:00.000000
"""
import os

import sqlalchemy as sa
from alembic import op

import facility.core.models
from facility.audit import privileges

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('audit_events', sa.Column('key_id', sa.String(length=40), server_default='sha256-v1',
                                            nullable=False))
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.alter_column('audit_events', 'key_id', server_default=None)  # new rows must name their key
    op.create_table(
        'audit_anchors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('anchored_at', facility.core.models.UTCDateTime(), nullable=False),
        sa.Column('last_event_id', sa.Integer(), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_anchors')),
    )
    _anchors_append_only(postgresql)
    if postgresql:
        privileges.separate_owner(op.get_bind(), os.environ.get("AUDIT_APP_ROLE") or None)


def _anchors_append_only(postgresql):
    """As for audit_events (0001): the database itself refuses UPDATE and DELETE of an anchor."""
    if postgresql:
        op.execute("""
            CREATE FUNCTION audit_anchors_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit_anchors is append-only'; END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER audit_anchors_no_change BEFORE UPDATE OR DELETE ON audit_anchors
            FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only()
        """)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_anchors_no_{verb.lower()} BEFORE {verb} ON audit_anchors
                BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END
            """)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        can, _superuser = privileges.may_manage_roles(bind)
        if can and bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                {"r": privileges.OWNER_ROLE}).first():
            # Back to the role running the downgrade (which 0001 made the owner), so it can drop what 0016 added.
            for statement in privileges.ownership_statements(owner=None):
                if "audit_anchors" not in statement:
                    op.execute(statement)
            op.execute("GRANT ALL ON audit_events TO CURRENT_USER")
        op.execute("DROP TABLE audit_anchors")
        op.execute("DROP FUNCTION IF EXISTS audit_anchors_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_anchors_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_anchors_no_delete")
        op.drop_table('audit_anchors')
    op.drop_column('audit_events', 'key_id')
