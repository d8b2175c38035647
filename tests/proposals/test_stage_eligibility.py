"""Staged prizes, the proposals side: an invitation-only stage takes proposals only from organisations invited
from the previous stage; the others are told why on the challenge's page instead of the apply button."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facility.accounts.models import OrgKind, OrgType
from facility.challenges.models import ChallengeInvitation, ChallengeStatus
from facility.core.errors import Conflict
from facility.extensions import db
from facility.proposals import policy, services
from facility.proposals.queries import open_challenges_without_proposal
from tests.factories.accounts import make_org, make_user
from tests.factories.challenges import make_challenge
from tests.factories.proposals import complete_data, make_proposal, service_data

REASON = "This stage is by invitation: only organisations invited from the previous stage may apply."


@pytest.fixture
def stage(world):
    """The world's open challenge made the invitation-only second stage of a finished pilot of the same city."""
    now = world.challenge.opens_at
    pilot = make_challenge(world.city, via="models", state=ChallengeStatus.FINISHED, title="Pilot",
                           opens_at=now - timedelta(days=200), closes_at=now - timedelta(days=100))
    world.challenge.previous_stage_id = pilot.id
    world.challenge.invitation_only = True
    world.challenge.stage_name = "Scale"
    db.session.commit()
    return world.challenge


@pytest.fixture
def outsider():
    org = make_org(name="WaterWatch", kind=OrgKind.INNOVATOR, org_type=OrgType.NGO)
    return make_user("innovator", organization=org)


def _invite(stage, user) -> None:
    db.session.add(ChallengeInvitation(challenge_id=stage.id, organization_id=user.organization_id,
                                       reason="Its pilot milestones were all accepted."))
    db.session.commit()


def test_the_uninvited_may_not_propose(stage, outsider):
    refusal = policy.can_create(outsider, stage)
    assert refusal is not None and refusal.reason == REASON and refusal.is_state
    with pytest.raises(Conflict, match="by invitation"):
        services.create_proposal(actor=outsider, challenge=stage, data=service_data(complete_data()))


def test_the_invited_may_propose_and_submit(stage, outsider):
    _invite(stage, outsider)
    assert policy.can_create(outsider, stage) is None
    proposal = make_proposal(stage, outsider, submit=True)
    assert proposal.status.value == "submitted"


def test_a_draft_cannot_be_submitted_once_the_invitation_is_gone(stage, outsider):
    _invite(stage, outsider)
    proposal = make_proposal(stage, outsider)
    db.session.query(ChallengeInvitation).delete()
    db.session.commit()
    refusal = policy.can_submit(outsider, proposal)
    assert refusal is not None and refusal.reason == REASON


def test_a_challenge_open_to_all_takes_anyone(world, outsider):
    assert not world.challenge.invitation_only
    assert policy.can_create(outsider, world.challenge) is None


def test_the_page_shows_the_reason_instead_of_the_apply_button(stage, outsider, client, login):
    login(client, outsider)
    html = client.get(f"/challenges/{stage.id}").get_data(as_text=True)
    assert REASON in html
    assert f"/challenges/{stage.id}/proposals/new" not in html
    assert client.get(f"/challenges/{stage.id}/proposals/new").status_code in (302, 403, 409)
    _invite(stage, outsider)
    html = client.get(f"/challenges/{stage.id}").get_data(as_text=True)
    assert f"/challenges/{stage.id}/proposals/new" in html


def test_the_api_refuses_the_uninvited(stage, outsider, client, api_headers):
    response = client.post(f"/api/v1/challenges/{stage.id}/proposals", json=complete_data(),
                           headers=api_headers(outsider))
    assert response.status_code == 409 and response.get_json()["detail"] == REASON


def test_the_open_challenges_an_innovator_is_shown_leave_out_stages_it_was_not_invited_to(stage, outsider):
    assert stage.is_open
    assert stage not in open_challenges_without_proposal(outsider.organization_id, limit=50)
    _invite(stage, outsider)
    assert stage in open_challenges_without_proposal(outsider.organization_id, limit=50)
