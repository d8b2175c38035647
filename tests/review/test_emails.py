"""The review e-mails go through core.notify: a template each, links built from BASE_URL, the
decision by its label (never a raw code), each applicant in their own language."""
from __future__ import annotations

import sqlalchemy as sa

from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.review import decisions, panels
from tests.review.conftest import assign, review_the_rest, submit


def _mails() -> list[OutboundEmail]:
    return list(db.session.execute(sa.select(OutboundEmail).order_by(OutboundEmail.id)).scalars())


def test_the_invitation_links_to_the_signed_acceptance_page(app, world):
    invitation = panels.invite_reviewer(actor=world.manager, challenge=world.challenge, email="new@uni.example")
    db.session.commit()
    (mail,) = _mails()
    assert mail.to_address == "new@uni.example"
    assert "Clean water kiosks" in mail.body and "Invitation to review" in mail.subject
    base = app.config["BASE_URL"].rstrip("/")
    assert f"{base}/review/invitations/" in mail.body
    link = next(line for line in mail.body.splitlines() if line.startswith(base))
    assert panels.invitation_for_token(link.rsplit("/", 1)[-1]) == invitation


def test_a_released_decision_is_told_by_its_label_with_the_feedback_link(app, world):
    proposal = world.proposals[0]
    submit(world, assign(world, world.reviewers[0], proposal), [7, 7])
    review_the_rest(world)
    decisions.prepare_decision(actor=world.manager, proposal=proposal, kind="award_recommendation")
    decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.commit()
    reviewers = {r.email for r in world.reviewers}  # they heard of their assignments
    (mail,) = [m for m in _mails() if m.to_address not in reviewers]
    assert mail.to_address == world.applicants[0].email
    assert "Solar kiosk plan 0" in mail.subject
    assert "recommended for an award" in mail.body and "award_recommendation" not in mail.body
    assert f"{app.config['BASE_URL'].rstrip('/')}/review/proposals/{proposal.id}/feedback" in mail.body
