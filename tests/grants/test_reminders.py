"""Milestone reminders (grants.jobs.milestone_reminders) and the report-arrived e-mail.

14 days before a milestone is due (not yet reported) and once its due date has passed without an accepted
report, the grantee's innovators and the fund managers hear of it, once; an overdue milestone whose report is
under review waits on the fund managers only; overdue is essential (an opt-out does not stop it), due-soon
is not; the recipient's language; grants not yet accepted are left alone.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.grants import milestones
from facility.grants.jobs import milestone_reminders
from tests.factories.grants import NO_SPENDING, make_grant

FIRST_DUE = date(2027, 3, 21)  # NOW is 2027-03-01
SECOND_DUE = date(2027, 4, 30)


def _mails(to: str, like: str = "Milestone%") -> list[OutboundEmail]:
    return list(db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.to_address == to, OutboundEmail.subject.like(like)).order_by(OutboundEmail.id)).scalars())


def _at(day: date) -> datetime:
    return datetime.combine(day, time(7, 0), tzinfo=UTC)


@pytest.fixture
def grant(clock, setup):
    _, proposal, manager, grantee = setup
    made = make_grant(proposal, manager, grantee, amount_cents=3_000_000, tranches=[
        {"title": "Pilot kiosks", "amount_cents": 1_000_000, "due_date": FIRST_DUE},
        {"title": "Twenty kiosks", "amount_cents": 2_000_000, "due_date": SECOND_DUE}])
    return made, manager, grantee


def _run_at(clock, day: date) -> int:
    clock.move_to(_at(day))
    db.session.commit()  # the job has its own session
    return milestone_reminders()


def test_due_in_14_days_then_overdue_once_each_to_grantee_and_fund_managers(grant, clock):
    _, manager, grantee = grant
    assert _run_at(clock, FIRST_DUE - timedelta(days=15)) == 0
    assert _run_at(clock, FIRST_DUE - timedelta(days=14)) == 2
    assert _run_at(clock, FIRST_DUE - timedelta(days=13)) == 0  # the next day's run: nothing new
    for person in (manager, grantee):
        (due,) = _mails(person.email)
        assert due.subject == "Milestone due on 2027-03-21: Pilot kiosks"
        assert "USD 10,000.00" in due.body and "/grants/" in due.body and "/profile#reminders" in due.body
    assert _run_at(clock, FIRST_DUE) == 0  # due today is not overdue yet
    assert _run_at(clock, FIRST_DUE + timedelta(days=1)) == 2
    assert _run_at(clock, FIRST_DUE + timedelta(days=2)) == 0
    overdue = _mails(grantee.email, "Milestone overdue%")
    assert len(overdue) == 1 and "no accepted report" in overdue[0].body
    assert "essential" in overdue[0].body


def test_a_reported_milestone_is_not_due_and_overdue_waits_on_the_fund_managers(grant, clock):
    made, manager, grantee = grant
    milestones.submit_milestone_report(tranche=made.tranches[0], actor=grantee, text="Kiosks built.",
                                                spending=NO_SPENDING)
    db.session.commit()
    (arrived,) = _mails(manager.email, "Milestone report to review%")  # the event e-mail
    assert "Pilot kiosks" in arrived.subject and "/reports/" in arrived.body
    assert _mails(grantee.email, "Milestone report%") == []
    assert _run_at(clock, FIRST_DUE - timedelta(days=14)) == 0
    assert _run_at(clock, FIRST_DUE + timedelta(days=1)) == 1
    assert len(_mails(manager.email, "Milestone overdue%")) == 1 and _mails(grantee.email) == []


def test_an_accepted_report_ends_the_reminders(grant, clock):
    made, manager, grantee = grant
    report = milestones.submit_milestone_report(tranche=made.tranches[0], actor=grantee, text="Kiosks built.",
                                                spending=NO_SPENDING)
    milestones.accept_milestone_report(report=report, actor=manager)
    db.session.commit()
    assert _run_at(clock, FIRST_DUE + timedelta(days=1)) == 0


def test_overdue_is_essential_and_due_soon_is_not(grant, clock):
    _, manager, _ = grant
    manager.optional_reminders = False
    db.session.commit()
    assert _run_at(clock, FIRST_DUE - timedelta(days=14)) == 1  # the grantee only
    assert _run_at(clock, FIRST_DUE + timedelta(days=1)) == 2
    assert [m.subject.split(" ")[1] for m in _mails(manager.email)] == ["overdue"]


def test_in_the_recipient_language(grant, clock):
    _, manager, _ = grant
    manager.locale = "fr"
    db.session.commit()
    _run_at(clock, FIRST_DUE - timedelta(days=14))
    (mail,) = _mails(manager.email, "Jalon à échéance%")
    assert mail.subject.replace("\xa0", " ") == "Jalon à échéance le 2027-03-21 : Pilot kiosks"
    assert "USD 10\u202f000,00" in mail.body  # amounts in the French way: grouped by a narrow space, decimal comma


def test_a_grant_not_yet_accepted_is_left_alone(clock, setup):
    _, proposal, manager, grantee = setup
    make_grant(proposal, manager, grantee, accept=False, amount_cents=3_000_000, tranches=[
        {"title": "Pilot kiosks", "amount_cents": 3_000_000, "due_date": FIRST_DUE}])
    assert _run_at(clock, FIRST_DUE + timedelta(days=1)) == 0
