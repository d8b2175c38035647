"""The shared builders reach the states they promise, through the services."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facility.challenges.models import ChallengeStatus
from facility.proposals.models import ProposalStatus
from tests.factories import NOW
from tests.factories.challenges import make_challenge
from tests.factories.ledger import fund_facility


def test_the_world_is_built_through_the_services(world, clock):
    assert clock.now == NOW
    assert world.city.verified_at is not None and world.official.organization_id == world.city.organization_id
    assert world.challenge.status is ChallengeStatus.PUBLISHED and world.challenge.approved_by_id == world.fund_manager.id
    assert world.challenge.opens_at < NOW < world.challenge.closes_at
    assert world.proposal.status is ProposalStatus.SUBMITTED
    assert world.proposal.organization_id == world.innovator_org.id == world.innovator.organization_id
    assert world.fund_manager.id != world.second_fund_manager.id
    assert {"reviewer"} <= set(world.reviewer.roles) and world.donor.organization_id == world.donor_org.id


@pytest.mark.parametrize("state", ["draft", "pending_approval", "published", "finished"])
def test_make_challenge_reaches_each_state(app, clock, state):
    fund_facility()
    challenge = make_challenge(state=state)
    assert challenge.status is ChallengeStatus(state)


def test_the_clock_moves_and_shifts(clock):
    clock.shift(days=2)
    assert clock.now == NOW + timedelta(days=2)
    clock.move_to(NOW)
    assert clock.now == NOW
