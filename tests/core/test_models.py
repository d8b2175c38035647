from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind
from facility.core.models import UTCDateTime, utcnow
from facility.extensions import db


def test_times_are_stored_utc_and_returned_aware(app):
    org = Organization(name="X", kind=OrgKind.DONOR)
    db.session.add(org)
    db.session.commit()
    local = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    org.created_at = local
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Organization, org.id).created_at
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == local
    assert stored.hour == 9


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), None)


def test_utcnow_is_aware():
    assert utcnow().tzinfo is not None


def test_sqlite_foreign_keys_enforced(app, backend):
    from facility.accounts.models import User

    db.session.add(User(email="fk@example.org", name="FK", password_hash="x", organization_id=999999))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_enum_columns_refuse_unknown_values(app):
    with pytest.raises(sa.exc.SQLAlchemyError):
        db.session.execute(sa.text(
            "INSERT INTO organizations (name, kind, description, created_at, updated_at) "
            "VALUES ('x', 'pirate', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
        db.session.commit()
    db.session.rollback()


def test_sqlite_write_transactions_begin_immediate(app, backend):
    """A second writer waits for (and here, times out on) the first: no read-then-write race."""
    if backend != "sqlite":
        pytest.skip("SQLite-specific locking; PostgreSQL uses row locks")
    first = db.engine.connect()
    second = db.engine.connect()
    try:
        first.execute(sa.text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is taken now
        second.connection.driver_connection.execute("PRAGMA busy_timeout=50")
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            second.execute(sa.text("SELECT 1"))
    finally:
        first.rollback()
        first.close()
        second.close()
