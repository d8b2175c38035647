"""Reviews-due reminders (review.jobs.review_due_reminders) and the assignment e-mail.

A reviewer with reviews not submitted hears once when the round closes within two days and once after it
closed; submitted and waived assignments do not count; a round closed early is left alone; in the reviewer's
language; an opted-out reviewer is not nudged. An assignment, by hand or automatic, is told to the reviewer.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.core.mail import OutboundEmail
from facility.core.models import utcnow
from facility.extensions import db
from facility.review import assignments
from facility.review.jobs import review_due_reminders
from tests.review.conftest import assign, submit


def _mails(to: str, like: str) -> list[OutboundEmail]:
    return list(db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.to_address == to, OutboundEmail.subject.like(like)).order_by(OutboundEmail.id)).scalars())


@pytest.fixture
def scene(clock, world):
    """Reviewer 0 has two reviews pending (one a draft), reviewer 1 submitted hers, reviewer 2's was waived."""
    r0, r1, r2 = world.reviewers
    assign(world, r0, world.proposals[0])
    submit(world, assign(world, r0, world.proposals[1]), [5, 5], submit=False)
    submit(world, assign(world, r1, world.proposals[0]), [7, 7])
    waived = assign(world, r2, world.proposals[2])
    assignments.waive_assignment(actor=world.manager, assignment=waived, reason="Away")
    db.session.commit()
    return world


def _run_at(clock, when) -> int:
    clock.move_to(when)
    db.session.commit()  # the job has its own session
    return review_due_reminders()


def test_due_soon_then_overdue_once_each_to_reviewers_with_pending_reviews(scene, clock):
    r0, r1, r2 = scene.reviewers
    closes = scene.scoring.closes_at
    assert _run_at(clock, closes - timedelta(days=3)) == 0
    assert _run_at(clock, closes - timedelta(days=2)) == 1
    assert _run_at(clock, closes - timedelta(days=1)) == 0  # run again: nothing new
    (soon,) = _mails(r0.email, "Reviews due soon%")
    assert "Clean water kiosks" in soon.subject and "2 reviews assigned to you" in soon.body
    assert "/review/" in soon.body and "/profile#reminders" in soon.body
    assert _run_at(clock, closes + timedelta(hours=1)) == 1
    assert _run_at(clock, closes + timedelta(hours=2)) == 0
    assert len(_mails(r0.email, "Reviews overdue%")) == 1
    assert _run_at(clock, closes + timedelta(days=8)) == 0
    for done in (r1, r2):  # submitted; waived
        assert _mails(done.email, "Reviews%") == []


def test_a_round_closed_early_sends_nothing(scene, clock):
    scene.scoring.closed_at = utcnow()
    db.session.commit()
    assert _run_at(clock, scene.scoring.closes_at - timedelta(days=1)) == 0


def test_a_moved_deadline_is_a_new_one(scene, clock):
    closes = scene.scoring.closes_at
    assert _run_at(clock, closes - timedelta(days=1)) == 1
    scene.scoring.closes_at = closes + timedelta(days=5)
    db.session.commit()
    assert _run_at(clock, closes + timedelta(days=4)) == 1


def test_in_the_reviewer_language_and_not_to_one_who_opted_out(scene, clock):
    r0 = scene.reviewers[0]
    r0.locale = "fr"
    db.session.commit()
    _run_at(clock, scene.scoring.closes_at - timedelta(days=1))
    (mail,) = _mails(r0.email, "%valuations bientôt dues%")
    assert "Clean water kiosks" in mail.subject
    r0.optional_reminders = False
    db.session.commit()
    assert _run_at(clock, scene.scoring.closes_at + timedelta(hours=1)) == 0


def test_an_assignment_by_hand_is_told_to_the_reviewer(clock, world):
    reviewer = world.reviewers[0]
    assign(world, reviewer, world.proposals[0])
    (mail,) = _mails(reviewer.email, "Proposals to review%")
    assert "1 proposal of “Clean water kiosks” was assigned to you" in mail.body
    assert "/review/" in mail.body
    for secret in world.secrets:  # the e-mail is as blind as the review pages
        assert secret not in mail.body
    assert _mails(world.reviewers[1].email, "%") == []


def test_an_automatic_assignment_tells_each_reviewer_their_own_count(clock, world):
    assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=2)
    db.session.commit()
    mails = db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.subject.like("Proposals to review%"))).scalars().all()
    assert sorted(m.to_address for m in mails) == sorted(r.email for r in world.reviewers)
    assert all("2 proposals of" in m.body for m in mails)  # 3 proposals x 2 reviewers over 3 reviewers
    assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=2)  # nothing new
    db.session.commit()
    assert db.session.execute(sa.select(sa.func.count(OutboundEmail.id)).where(
        OutboundEmail.subject.like("Proposals to review%"))).scalar_one() == 3
