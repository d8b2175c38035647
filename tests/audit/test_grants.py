"""PostgreSQL: the audit tables belong to `facility_audit_owner`; an application role granted as the migration
grants it (facility.audit.privileges) may add and read records, and nothing else: no UPDATE, DELETE or TRUNCATE,
no ALTER TABLE ... DISABLE TRIGGER. The test suite's own role is a superuser, so the proof uses a throwaway role."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from facility.audit import privileges
from facility.audit.services import record
from facility.extensions import db

INSERT_EVENT = sa.text(
    "INSERT INTO audit_events (occurred_at, actor_label, action, object_type, object_id, ip_address, details, "
    "prev_hash, hash, key_id) VALUES (now(), '', 'app.insert', '', '', '', '{}', :p, :h, 'k1') RETURNING id")
INSERT_ANCHOR = sa.text("INSERT INTO audit_anchors (anchored_at, last_event_id, row_count, head_hash, key_id) "
                        "VALUES (now(), 1, 1, :h, 'k1')")
REFUSED = {
    "update": "UPDATE audit_events SET action = 'rewritten'",
    "delete": "DELETE FROM audit_events",
    "truncate": "TRUNCATE audit_events",
    "disable trigger": "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change",
    "drop trigger": "DROP TRIGGER audit_events_no_change ON audit_events",
    "change owner": "ALTER TABLE audit_events OWNER TO CURRENT_USER",
    "update anchor": "UPDATE audit_anchors SET row_count = 0",
    "delete anchor": "DELETE FROM audit_anchors",
    "disable anchor trigger": "ALTER TABLE audit_anchors DISABLE TRIGGER audit_anchors_no_change",
}


@pytest.fixture
def app_role(app, backend):
    """A LOGIN role, not superuser, granted on the audit tables exactly as the migration grants the app's role."""
    if backend != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's")
    name = f"audit_app_{uuid.uuid4().hex[:10]}"
    db.session.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
    for statement in privileges.app_grant_statements(name):
        db.session.execute(sa.text(statement))
    db.session.commit()
    url = db.engine.url.set(username=name, password=None)
    engine = sa.create_engine(url)
    try:
        yield name, engine
    finally:
        engine.dispose()
        db.session.rollback()
        db.session.execute(sa.text(f'DROP OWNED BY "{name}"'))
        db.session.execute(sa.text(f'DROP ROLE "{name}"'))
        db.session.commit()


def test_the_migration_gave_the_audit_tables_to_their_own_role(app, backend):
    if backend != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's")
    owners = db.session.execute(sa.text(
        "SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relname IN "
        "('audit_events', 'audit_anchors', 'audit_events_id_seq', 'audit_anchors_id_seq')")).all()
    assert dict(owners) == dict.fromkeys(
        ("audit_events", "audit_anchors", "audit_events_id_seq", "audit_anchors_id_seq"), privileges.OWNER_ROLE)
    functions = db.session.execute(sa.text(
        "SELECT proname, pg_get_userbyid(proowner) FROM pg_proc WHERE proname LIKE 'audit_%_append_only'")).all()
    assert dict(functions) == {"audit_events_append_only": privileges.OWNER_ROLE,
                               "audit_anchors_append_only": privileges.OWNER_ROLE}
    login = db.session.execute(sa.text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"),
                               {"r": privileges.OWNER_ROLE}).scalar_one()
    assert login is False


def test_the_app_role_inserts_and_selects(app_role):
    record("before.app", details={})
    db.session.commit()
    _name, engine = app_role
    with engine.begin() as conn:
        new_id = conn.execute(INSERT_EVENT, {"p": "p" * 64, "h": "h" * 64}).scalar_one()
        conn.execute(INSERT_ANCHOR, {"h": "h" * 64})
    with engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action FROM audit_events ORDER BY id")).scalars().all()
        anchors = conn.execute(sa.text("SELECT count(*) FROM audit_anchors")).scalar_one()
    assert actions == ["before.app", "app.insert"] and new_id == 2 and anchors == 1


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_the_app_role_cannot_change_remove_or_unguard_records(app_role, what):
    record("kept", details={})
    db.session.commit()
    _name, engine = app_role
    with engine.connect() as conn:
        conn.execute(INSERT_ANCHOR, {"h": "h" * 64})
        conn.commit()
        with pytest.raises(sa.exc.ProgrammingError) as caught:
            conn.execute(sa.text(REFUSED[what]))
        conn.rollback()
    message = str(caught.value.orig)
    assert "permission denied" in message or "must be owner" in message
    assert db.session.execute(sa.text("SELECT action FROM audit_events")).scalars().all() == ["kept"]


def test_a_role_that_may_not_create_roles_skips_with_a_notice(app_role):
    _name, engine = app_role
    notices: list[str] = []
    with engine.connect() as conn:
        assert privileges.separate_owner(conn, notice=notices.append) is False
    assert len(notices) == 1 and privileges.OWNER_ROLE in notices[0]


def test_role_names_are_checked_before_they_reach_sql():
    assert privileges.role_sql(None) == "CURRENT_USER"
    assert privileges.role_sql("facility_app") == '"facility_app"'
    with pytest.raises(ValueError):
        privileges.role_sql('x"; DROP TABLE audit_events; --')


def test_a_createrole_migrator_that_is_not_superuser_hands_the_tables_over(app, backend):
    """The README's production setup: migrations run as a CREATEROLE role owning the database, the app as another."""
    if backend != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's")
    tag = uuid.uuid4().hex[:8]
    migrator, app_name, scratch = f"audit_mig_{tag}", f"audit_app_{tag}", f"audit_scratch_{tag}"
    admin = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{migrator}" LOGIN CREATEROLE'))
        conn.execute(sa.text(f'CREATE ROLE "{app_name}" LOGIN'))
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}" OWNER "{migrator}"'))
    engines = []
    try:
        as_migrator = sa.create_engine(db.engine.url.set(database=scratch, username=migrator, password=None))
        as_app = sa.create_engine(db.engine.url.set(database=scratch, username=app_name, password=None))
        engines = [as_migrator, as_app]
        with as_migrator.begin() as conn:
            for table in privileges.TABLES:
                conn.execute(sa.text(f"CREATE TABLE {table} (id serial PRIMARY KEY, note text)"))
                conn.execute(sa.text(f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
                                     "BEGIN RAISE EXCEPTION 'append-only'; END; $$ LANGUAGE plpgsql"))
                conn.execute(sa.text(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                                     f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"))
            assert privileges.separate_owner(conn, app_name, notice=pytest.fail) is True
            member = conn.execute(sa.text("SELECT pg_has_role(current_user, :r, 'MEMBER')"),
                                  {"r": privileges.OWNER_ROLE}).scalar_one()
            owner = conn.execute(sa.text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'audit_events'"))
            assert member is False and owner.scalar_one() == privileges.OWNER_ROLE
        with as_app.connect() as conn:
            conn.execute(sa.text("INSERT INTO audit_events (note) VALUES ('added')"))
            conn.commit()
            for statement in ("UPDATE audit_events SET note = 'changed'",
                              "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"):
                with pytest.raises(sa.exc.ProgrammingError):
                    conn.execute(sa.text(statement))
                conn.rollback()
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{app_name}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{migrator}"'))
        admin.dispose()
