"""PostgreSQL: the audit tables belong to a role of their own; the application may only add and read.

Today's threat: the application's database role owned `audit_events`, so whoever took it over could
disable the no-change trigger, rewrite rows and recompute the chain. Migration 0016 therefore, where
the role running it may create roles (superuser or CREATEROLE):

1. creates `facility_audit_owner` (NOLOGIN) if it does not exist;
2. gives it `audit_events`, `audit_anchors` (their id sequences follow the table) and the trigger
   functions: only the owner (or a superuser) can ALTER the tables, disable their triggers or grant;
3. leaves the application's role (AUDIT_APP_ROLE, default the role running the migration) with
   INSERT and SELECT on both tables and USAGE on their sequences, nothing else.

The same statements are run by the test that proves a non-superuser role granted this way cannot
UPDATE, DELETE, TRUNCATE or disable the trigger (tests/audit/test_grants.py). They are plain SQL
strings so the README can show them to operators setting up roles by hand.
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

OWNER_ROLE = "facility_audit_owner"
TABLES = ("audit_events", "audit_anchors")
SEQUENCES = ("audit_events_id_seq", "audit_anchors_id_seq")
FUNCTIONS = ("audit_events_append_only()", "audit_anchors_append_only()")
_ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


def role_sql(name: str | None) -> str:
    """A role as SQL: CURRENT_USER for None, else the quoted identifier (names are checked, never pasted raw)."""
    if name is None:
        return "CURRENT_USER"
    if not _ROLE_NAME.match(name):
        raise ValueError(f"not a role name: {name!r}")
    return '"' + name + '"'


def create_owner_statement(owner: str = OWNER_ROLE) -> str:
    return f"CREATE ROLE {role_sql(owner)} NOLOGIN"


def create_owner(conn: sa.Connection, owner: str = OWNER_ROLE) -> None:
    """Create the owner role unless it exists (the cluster's roles are shared: another database may have made it)."""
    exists = sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r")
    if conn.execute(exists, {"r": owner}).first():
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.text(create_owner_statement(owner)))
    except sa.exc.DBAPIError:
        if not conn.execute(exists, {"r": owner}).first():
            raise  # not a concurrent creation: a real error


def ownership_statements(owner: str | None = OWNER_ROLE) -> list[str]:
    """Give the tables (and with them their owned sequences) and the trigger functions to `owner` (None: CURRENT_USER)."""
    quoted = role_sql(owner)
    return ([f"ALTER TABLE {table} OWNER TO {quoted}" for table in TABLES]
            + [f"ALTER FUNCTION {function} OWNER TO {quoted}" for function in FUNCTIONS])


def app_grant_statements(app_role: str | None) -> list[str]:
    """The application's role: INSERT and SELECT on the audit tables, USAGE on their sequences; nothing else."""
    role = role_sql(app_role)
    tables = ", ".join(TABLES)
    sequences = ", ".join(SEQUENCES)
    return [
        f"REVOKE ALL ON {tables} FROM PUBLIC",
        f"REVOKE ALL ON {tables} FROM {role}",
        f"REVOKE ALL ON SEQUENCE {sequences} FROM {role}",
        f"GRANT SELECT, INSERT ON {tables} TO {role}",
        f"GRANT USAGE ON SEQUENCE {sequences} TO {role}",
    ]


def may_manage_roles(conn: sa.Connection) -> tuple[bool, bool]:
    """(may create roles, is superuser) for the role `conn` runs as."""
    row = conn.execute(sa.text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")).one()
    return bool(row.rolsuper or row.rolcreaterole), bool(row.rolsuper)


def separate_owner(conn: sa.Connection, app_role: str | None = None, *, notice: Any = print) -> bool:
    """Run the whole setup on `conn` (PostgreSQL); False, with a notice and nothing changed, when the role running
    it may not create roles or the setup is refused.

    A CREATEROLE role that is not superuser must be a member of the owner role to hand it the tables, and the
    owner role needs CREATE on their schema to receive them: both are granted for the duration and revoked
    again, so the migrating role keeps no way to act as the owner."""
    can, superuser = may_manage_roles(conn)
    if not can:
        notice(f"audit: the role running the migration may not create roles; {OWNER_ROLE} was not set up and the "
               "application's role still owns the audit tables (see README, \"Audit trail\").")
        return False
    owner = role_sql(OWNER_ROLE)
    schema = role_sql(conn.execute(sa.text("SELECT current_schema()")).scalar_one())  # an identifier, quoted alike
    try:
        with conn.begin_nested():
            create_owner(conn)
            if not superuser:
                conn.execute(sa.text(f"GRANT {owner} TO CURRENT_USER"))
                conn.execute(sa.text(f"GRANT CREATE ON SCHEMA {schema} TO {owner}"))
            for statement in ownership_statements() + app_grant_statements(app_role):
                conn.execute(sa.text(statement))
            if not superuser:
                conn.execute(sa.text(f"REVOKE CREATE ON SCHEMA {schema} FROM {owner}"))
                conn.execute(sa.text(f"REVOKE {owner} FROM CURRENT_USER"))
    except sa.exc.DBAPIError as exc:
        notice(f"audit: {OWNER_ROLE} was not set up ({str(getattr(exc, 'orig', exc)).splitlines()[0]}); the "
               "application's role still owns the audit tables (see README, \"Audit trail\").")
        return False
    return True
