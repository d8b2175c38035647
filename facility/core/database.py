"""Engine behaviour per database: SQLite pragmas and BEGIN IMMEDIATE, PostgreSQL locks."""
from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine(engine: Engine) -> None:
    """SQLite: foreign keys on, WAL, a busy timeout, and every transaction BEGIN IMMEDIATE.

    pysqlite's own transaction handling is switched off so that SQLAlchemy's
    "begin" event can issue BEGIN IMMEDIATE: a writer takes the database lock
    at the start of its transaction, so read-then-write races (balances,
    status changes) serialise instead of failing half-way.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql() -> bool:
    from facility.extensions import db

    return db.engine.dialect.name == "postgresql"


def lock_row(model: type, object_id: int, *, missing: str) -> Any:
    """Re-read a row under a row lock (PostgreSQL `FOR UPDATE`; SQLite transactions already hold the
    write lock), with fresh values; NotFound with the message `missing` when there is no such row."""
    import sqlalchemy as sa

    from facility.core.errors import NotFound
    from facility.extensions import db

    row = db.session.execute(
        sa.select(model).where(model.id == object_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(missing)
    return row
