"""The audit trail is append-only and hash-chained; tampering is detected."""
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from facility.audit.models import AuditEvent
from facility.audit.services import GENESIS, record, verify_chain
from facility.cli import facility_cli
from facility.extensions import db
from tests.conftest import sign_in


def _three_events(make_user):
    user = make_user("fund_manager")
    for n in range(3):
        record("test.action", actor=user, object_type="Thing", object_id=n, details={"n": n})
    db.session.commit()
    return user


def test_records_chain_from_genesis(app, make_user):
    _three_events(make_user)
    events = db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert events[0].prev_hash == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    assert verify_chain() == []


def test_security_actions_are_audited_with_who_and_where(client, make_user):
    user = make_user("donor")
    sign_in(client, user, "wrong password 1234")
    sign_in(client, user)
    actions = [(e.action, e.actor_id, e.ip_address) for e in
               db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert ("user.sign_in_failed", None, "127.0.0.1") in actions
    assert ("user.signed_in", user.id, "127.0.0.1") in actions


def test_database_refuses_update_and_delete(app, make_user):
    _three_events(make_user)
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("UPDATE audit_events SET action = 'x'"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError):
        db.session.execute(sa.text("DELETE FROM audit_events"))
        db.session.commit()
    db.session.rollback()


def test_orm_refuses_changes(app, make_user):
    _three_events(make_user)
    event = db.session.execute(sa.select(AuditEvent).limit(1)).scalar_one()
    event.action = "rewritten"
    with pytest.raises(RuntimeError):
        db.session.commit()
    db.session.rollback()


def _drop_guards(backend):
    # Someone with database rights could drop the triggers; the chain must still tell.
    if backend == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))


def _restore_guards(backend):
    if backend == "postgresql":
        db.session.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))
        db.session.commit()


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_tampering_is_detected(app, backend, make_user, tamper):
    _three_events(make_user)
    ids = db.session.execute(sa.select(AuditEvent.id).order_by(AuditEvent.id)).scalars().all()
    _drop_guards(backend)
    if tamper == "edit":
        db.session.execute(sa.text("UPDATE audit_events SET details = :d WHERE id = :i"),
                           {"d": '{"n": 99}', "i": ids[1]})
    elif tamper == "delete":
        db.session.execute(sa.text("DELETE FROM audit_events WHERE id = :i"), {"i": ids[1]})
    else:
        db.session.execute(sa.text("UPDATE audit_events SET occurred_at = occurred_at WHERE id = :i"), {"i": ids[0]})
        db.session.execute(sa.text("UPDATE audit_events SET action = 'test.swapped' WHERE id = :i"), {"i": ids[2]})
    db.session.commit()
    try:
        problems = verify_chain()
        assert problems, "tampering went unnoticed"
        result = CliRunner().invoke(facility_cli, ["audit-verify"], obj=None, standalone_mode=False,
                                    catch_exceptions=True)
        assert isinstance(result.exception, SystemExit) and result.exception.code == 1
    finally:
        _restore_guards(backend)


def test_cli_reports_intact_chain(app, make_user):
    _three_events(make_user)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["facility", "audit-verify"])
    assert result.exit_code == 0 and "intact" in result.output
