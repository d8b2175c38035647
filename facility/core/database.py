"""Engine behaviour per database: SQLite pragmas and BEGIN IMMEDIATE, PostgreSQL locks."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from facility.core.errors import NotFound
from facility.extensions import db

# Any constant works; it names the PostgreSQL advisory lock that serialises appends to the audit chain.
AUDIT_CHAIN_LOCK_KEY = 7_310_001


SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "OFF")


def configure_engine(engine: Engine, *, synchronous: str = "FULL") -> None:
    """SQLite: foreign keys on, WAL, a busy timeout, and every transaction BEGIN IMMEDIATE.

    `synchronous` is SQLite's flush setting (`SQLITE_SYNCHRONOUS` in the configuration): FULL, the
    default, flushes every commit to disk; the test suite's throwaway databases use OFF.

    pysqlite's own transaction handling is switched off so that SQLAlchemy's
    "begin" event can issue BEGIN IMMEDIATE: a writer takes the database lock
    at the start of its transaction, so read-then-write races (balances,
    status changes) serialise instead of failing half-way.
    """
    if engine.dialect.name != "sqlite":
        return
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql() -> bool:
    return bool(db.engine.dialect.name == "postgresql")


def lock_audit_chain() -> None:
    """PostgreSQL: hold the audit chain's lock until the end of the transaction (SQLite: a no-op).

    Appends to the audit chain take it, so concurrent appends queue up instead of forking the
    chain. The ledger takes it too, before its account locks: a posting is audited, and callers
    often audit their own action first, so every transaction takes the locks in the same order
    (audit chain, then accounts by id) and they queue instead of deadlocking.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_CHAIN_LOCK_KEY})


def lock_row(model: Any, object_id: int, *, missing: str, no_key: bool = False) -> Any:
    """Re-read a row under a row lock (PostgreSQL `FOR UPDATE OF` its table alone, whatever the model loads
    joined with it; SQLite transactions already hold the write lock), with fresh values; NotFound with the
    message `missing` when there is no such row.

    `no_key` takes `FOR NO KEY UPDATE` instead (the lock an UPDATE of non-key columns takes): it still
    excludes other lockers, but not a transaction inserting a child row, whose foreign key takes a
    key-share lock on this one. Use it where such an insert may already hold locks this caller wants next.
    """
    row = db.session.execute(
        sa.select(model).where(model.id == object_id).with_for_update(of=model, key_share=no_key)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(missing)
    return row


def key_segment(key: Any, prefix: str) -> Any:
    """SQL for the part of `key` after `prefix` up to the next ':' or the end ('disbursement:12:2' with prefix
    'disbursement:' gives '12'); `key` must start with `prefix`. One expression per database (PostgreSQL's
    split_part, SQLite's substr/instr), so a join on it is an equi-join rather than a LIKE per pair of rows."""
    rest = sa.func.substr(key, len(prefix) + 1)
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.split_part(rest, ":", 1)
    # As text (affinity), so that SQLite may index it when joining it to another text value.
    return sa.cast(sa.func.substr(rest, 1, sa.func.instr(rest + ":", ":") - 1), sa.String)
