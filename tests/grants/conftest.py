"""Fixtures for the grants tests (wrappers over tests/factories): a closed challenge, a proposal with
milestones, a funded pool, and the scenes the grants and grants-API tests share (`setup`, `grant_setup`,
`active_grant`, `donor`)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facility.accounts.models import OrgKind, OrgType
from facility.challenges.models import ChallengeStatus
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards
from facility.grants.models import GrantStatus
from facility.proposals.models import ProposalStatus
from tests import factories


@pytest.fixture
def make_challenge(app):
    """`make_challenge(closed=True, ...)`: a published challenge in a city of its own, built as rows (its window
    already closed unless closed=False; the test funds its pool with `fund`)."""
    counter = {"n": 0}

    def _make(*, country="UGA", status=ChallengeStatus.PUBLISHED, closed=True, max_award_cents=5_000_000,
              prize_pool_cents=10_000_000):
        counter["n"] += 1
        n = counter["n"]
        city, _ = factories.cities.make_city(via="models", name=f"City {n}", org_name=f"City {n}", country=country,
                                             population=400_000, share=30, risk="high")
        now = utcnow()
        opens, closes = (now - timedelta(days=60), now - timedelta(days=1)) if closed else \
            (now - timedelta(days=1), now + timedelta(days=30))
        return factories.challenges.make_challenge(
            city, via="models", state=status, title=f"Challenge {n}", summary="Clean water", description="...",
            sdg_targets=["11.1"], prize_pool_cents=prize_pool_cents, max_award_cents=max_award_cents,
            opens_at=opens, closes_at=closes, criteria=[])

    return _make


@pytest.fixture
def make_proposal(make_org):
    """`make_proposal(challenge, amounts=...)`: a submitted proposal of a new innovator, built as rows, which the
    panel's released decision recommends for an award unless recommended=False."""
    counter = {"n": 0}

    def _make(challenge, *, org=None, amounts=(1_000_000, 2_000_000), status=ProposalStatus.SUBMITTED,
              recommended=True):
        counter["n"] += 1
        n = counter["n"]
        org = org or make_org(name=f"Innovator {n}", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP)
        proposal = factories.proposals.make_proposal(challenge, via="models", org=org, title=f"Proposal {n}",
                                                     amounts=amounts, status=status)
        if recommended:
            factories.grants.recommend(proposal)
            db.session.commit()
        return proposal

    return _make


@pytest.fixture
def fund(app):
    """Put money in the facility (as if contributed) and in a challenge's pool."""
    counter = {"n": 0}

    def _fund(*, unallocated: int = 0, challenge=None, pool: int = 0):
        counter["n"] += 1
        factories.ledger.fund(key=str(counter["n"]), unallocated=unallocated, challenge=challenge, pool=pool)

    return _fund



@pytest.fixture
def setup(make_challenge, make_proposal, make_user, fund):
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    fund(unallocated=1_000_000, challenge=challenge, pool=5_000_000)
    manager = make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    return challenge, proposal, manager, grantee


@pytest.fixture
def donor(make_user, make_org):
    return make_user("donor", organization=make_org(name="Open Cities Foundation", kind=OrgKind.DONOR, country="NOR"))


@pytest.fixture
def grant_setup(make_challenge, make_proposal, make_user, fund):
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    fund(challenge=challenge, pool=5_000_000)
    manager = make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    db.session.commit()
    return grant, manager, grantee


@pytest.fixture
def active_grant(make_challenge, make_proposal, make_user, fund):
    challenge = make_challenge()
    proposal = make_proposal(challenge, amounts=(1_000_000,))
    fund(challenge=challenge, pool=5_000_000)
    manager = make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000)
    assert grant.status is GrantStatus.OFFERED
    awards.accept_grant(grant=grant, actor=grantee)
    assert grant.status is GrantStatus.ACTIVE  # offered -> active
    db.session.commit()
    return grant, manager, grantee
