"""core.reminders.send_once: a reminder goes out once however often, or however concurrently, a job runs;
the optional kinds respect the person's opt-out, the essential ones do not."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.mail import OutboundEmail
from facility.core.reminders import KINDS, SentReminder, send_once, wants
from facility.extensions import db

THREADS = 6


def _mails(to: str | None = None) -> list[OutboundEmail]:
    query = sa.select(OutboundEmail).order_by(OutboundEmail.id)
    if to is not None:
        query = query.where(OutboundEmail.to_address == to)
    return list(db.session.execute(query).scalars())


def _send(person, *, kind="review.due", due="soon:2027-03-08T12:00", obj=None) -> bool:
    return send_once(kind=kind, obj=obj or person, person=person, due=due, template="accounts/password_reset",
                     token="t")


def test_a_reminder_goes_out_once_however_often_the_job_runs(app, make_user):
    person = make_user("reviewer")
    assert _send(person) is True
    db.session.commit()
    for _ in range(3):
        assert _send(person) is False
        db.session.commit()
    assert len(_mails(person.email)) == 1
    (row,) = db.session.execute(sa.select(SentReminder)).scalars()
    assert (row.kind, row.object_type, row.object_id, row.user_id, row.due_key) == (
        "review.due", "users", person.id, person.id, "soon:2027-03-08T12:00")


def test_another_due_date_object_or_person_is_another_reminder(app, make_user):
    person, other = make_user("reviewer"), make_user("reviewer")
    assert _send(person)
    assert _send(person, due="passed:2027-03-08T12:00")  # the same deadline, now passed
    assert _send(person, obj=other)  # about another object
    assert _send(other, obj=person)  # another person
    assert not _send(person)
    db.session.commit()
    assert len(_mails(person.email)) == 3 and len(_mails(other.email)) == 1


def test_a_rolled_back_run_leaves_neither_record_nor_e_mail_and_the_next_run_sends(app, make_user):
    person = make_user("reviewer")
    assert _send(person)
    db.session.rollback()  # the job failed before its commit
    assert _mails() == [] and db.session.execute(sa.select(SentReminder)).first() is None
    assert _send(person)
    db.session.commit()
    assert len(_mails(person.email)) == 1


def test_concurrent_runs_send_once(app, make_user):
    """Threads, each with its own session and connection, send the same reminder at the same moment."""
    person_id = make_user("reviewer").id
    db.session.commit()  # release the test's own transaction
    # All start together; each opens its transaction only after the barrier (on SQLite a transaction holds
    # the write lock from its first statement, so one waiting at the barrier would block the others).
    barrier = threading.Barrier(THREADS, timeout=60)
    results: list[bool] = []
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                person = db.session.get(User, person_id)
                results.append(_send(person))
                db.session.commit()
            except BaseException as error:  # reported below: a thread's failure must fail the test
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    assert len(_mails()) == 1
    assert db.session.execute(sa.select(sa.func.count(SentReminder.id))).scalar_one() == 1


def test_an_opt_out_stops_optional_reminders_only(app, make_user):
    person = make_user("fund_manager")
    person.optional_reminders = False
    db.session.commit()
    assert not _send(person, kind="review.due")
    assert not _send(person, kind="challenges.deadline")
    assert not _send(person, kind="grants.milestone_due")
    assert _send(person, kind="disbursements.approval_waiting")
    assert _send(person, kind="grants.milestone_overdue")
    db.session.commit()
    assert len(_mails(person.email)) == 2
    # Nothing is recorded for what was not sent: turning them on again lets the next run send.
    assert db.session.execute(sa.select(sa.func.count(SentReminder.id))).scalar_one() == 2
    person.optional_reminders = True
    assert _send(person, kind="review.due")


def test_the_kinds_state_which_are_essential():
    assert {name for name, kind in KINDS.items() if kind.essential} == {
        "disbursements.approval_waiting", "grants.milestone_overdue"}

    class Person:
        optional_reminders = False

    assert wants(Person(), "grants.milestone_overdue") and not wants(Person(), "review.due")


def test_an_unknown_kind_is_a_programming_error(app, make_user):
    with pytest.raises(ValueError):
        _send(make_user(), kind="nonsense")
