"""seed-demo: proposals in every state, and no failure when there are no challenges."""
from __future__ import annotations

from datetime import timedelta

from facility.extensions import db
from facility.proposals import demo
from facility.proposals.models import Proposal, ProposalStatus
from tests.proposals.conftest import NOW


def _accounts_state():
    from facility.accounts import demo as accounts_demo

    state = {"password": "demo-facility-2026"}
    accounts_demo.seed(state)
    db.session.flush()
    return state


def test_skips_without_challenges(app, capsys):
    state = _accounts_state()
    demo.seed(state)
    assert db.session.query(Proposal).count() == 0
    assert "skipping" in capsys.readouterr().out


def test_proposals_in_every_state(app, make_challenge):
    open_one = make_challenge()
    closed = make_challenge(title="Closed one", opens_at=NOW - timedelta(days=90), closes_at=NOW - timedelta(days=5))
    make_challenge(title="Upcoming", opens_at=NOW + timedelta(days=5), closes_at=NOW + timedelta(days=50))
    state = _accounts_state()
    demo.seed(state)
    db.session.commit()
    statuses = {(p.challenge_id, p.status) for p in db.session.query(Proposal)}
    assert {s for _c, s in statuses} == {ProposalStatus.DRAFT, ProposalStatus.SUBMITTED, ProposalStatus.WITHDRAWN}
    assert {c for c, _s in statuses} == {open_one.id, closed.id}
    for proposal in db.session.query(Proposal):
        assert proposal.milestones_total_cents == proposal.requested_cents <= proposal.challenge.max_award_cents
        if proposal.status != ProposalStatus.DRAFT:
            assert proposal.latest_snapshot.data["title"] == proposal.title
    orgs = {p.organization.name for p in db.session.query(Proposal)}
    assert {"SolarKiosk Labs", "WaterWatch Collective"} <= orgs


def test_applicants_hear_of_extensions_once_wired(app):
    from facility.challenges import services as challenge_services
    from facility.proposals.queries import applicant_emails

    assert applicant_emails in challenge_services._extension_recipient_providers
