"""The challenge-deadline reminders (proposals.jobs.deadline_reminders): a week and a day before a challenge
closes, to the innovators of each organisation with a draft; never for submitted or withdrawn proposals; once
per window however often the job runs; in the recipient's language; an opted-out person is left alone."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind, OrgType
from facility.challenges import services as challenge_services
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.proposals import services
from facility.proposals.jobs import deadline_reminders, window_for
from tests.factories.accounts import make_org, make_user
from tests.factories.proposals import make_proposal


def _reminders(to: str | None = None) -> list[OutboundEmail]:
    query = sa.select(OutboundEmail).where(OutboundEmail.subject.like("%left%")).order_by(OutboundEmail.id)
    if to is not None:
        query = query.where(OutboundEmail.to_address == to)
    return list(db.session.execute(query).scalars())


def _innovator(name: str, **kwargs):
    org = make_org(name=name, kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP)
    return org, make_user("innovator", organization=org, **kwargs)


@pytest.fixture
def drafts(world):
    """Two organisations with a draft (one of two people, the other's second person French), one withdrawn draft;
    `world.proposal` is submitted."""
    org, drafter = _innovator("Draft Labs")
    colleague = make_user("innovator", organization=org)
    fr_org, french = _innovator("Brouillon SARL")
    french.locale = "fr"
    _, quitter = _innovator("Quit Co")
    draft = make_proposal(world.challenge, drafter)
    fr_draft = make_proposal(world.challenge, french)
    gone = make_proposal(world.challenge, quitter)
    services.withdraw_proposal(actor=quitter, proposal=gone)
    db.session.commit()
    return {"drafter": drafter, "colleague": colleague, "french": french, "quitter": quitter,
            "draft": draft, "fr_draft": fr_draft}


def _run_at(clock, when) -> int:
    clock.move_to(when)
    db.session.commit()  # the job has its own session: end the test's transaction first, as between processes
    return deadline_reminders()


def test_a_week_and_a_day_ahead_once_each(world, drafts, clock):
    closes = world.challenge.closes_at
    assert _run_at(clock, closes - timedelta(days=8)) == 0
    assert _reminders() == []
    assert _run_at(clock, closes - timedelta(days=7)) == 3  # drafter, colleague, the French drafter
    assert _run_at(clock, closes - timedelta(days=7) + timedelta(minutes=5)) == 0  # run again: nothing new
    assert _run_at(clock, closes - timedelta(days=2)) == 0
    week = _reminders(drafts["drafter"].email)
    assert len(week) == 1 and "One week left" in week[0].subject
    assert _run_at(clock, closes - timedelta(days=1)) == 3
    assert _run_at(clock, closes - timedelta(hours=2)) == 0
    assert [m.subject.split(":")[0] for m in _reminders(drafts["drafter"].email)] == ["One week left", "One day left"]
    assert len(_reminders(drafts["colleague"].email)) == 2
    assert _reminders(world.innovator.email) == []  # submitted
    assert _reminders(drafts["quitter"].email) == []  # withdrawn
    body = week[0].body
    assert f"/proposals/{drafts['draft'].id}" in body and "/profile#reminders" in body
    assert "is still a draft" in body


def test_a_submitted_draft_is_not_reminded_and_a_closed_challenge_neither(world, drafts, clock):
    closes = world.challenge.closes_at
    clock.move_to(closes - timedelta(days=3))
    services.submit_proposal(actor=drafts["drafter"], proposal=drafts["draft"])
    db.session.commit()
    assert _run_at(clock, closes - timedelta(days=1)) == 1  # the French drafter only
    assert _run_at(clock, closes + timedelta(minutes=1)) == 0


def test_the_reminder_is_in_the_recipient_language(world, drafts, clock):
    _run_at(clock, world.challenge.closes_at - timedelta(days=7))
    (mail,) = db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.to_address == drafts["french"].email)).scalars()
    assert mail.subject.startswith("Plus qu'une semaine")
    assert "/profile#reminders" in mail.body


def test_an_opted_out_innovator_is_not_nudged(world, drafts, clock):
    drafts["colleague"].optional_reminders = False
    db.session.commit()
    assert _run_at(clock, world.challenge.closes_at - timedelta(days=7)) == 2
    assert _reminders(drafts["colleague"].email) == []


def test_an_extended_deadline_is_a_new_deadline(world, drafts, clock):
    closes = world.challenge.closes_at
    assert _run_at(clock, closes - timedelta(days=7)) == 3
    challenge_services.extend_deadline(actor=world.fund_manager, challenge=world.challenge,
                                       new_closes_at=closes + timedelta(days=14), reason="More time for cities")
    db.session.commit()
    assert _run_at(clock, closes + timedelta(days=7)) == 3


def test_the_windows():
    assert window_for(timedelta(days=8)) is None
    assert window_for(timedelta(days=7)) == "7d"
    assert window_for(timedelta(days=2)) == "7d"
    assert window_for(timedelta(days=1)) == "1d"
