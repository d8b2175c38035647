"""Fixtures for the solutions tests: pilots (a grant in a city of its own, its milestones accepted or not) and a
verified replicating city with its official (wrappers over tests/factories, as in tests/grants)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from facility.accounts.models import OrgKind, OrgType, User
from facility.cities.models import City
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards, milestones, summaries
from facility.grants.models import Grant
from tests import factories
from tests.factories.grants import NO_SPENDING


@dataclass
class Scene:
    manager: User  # a fund manager, who verified the replicating city
    city: City  # verified, replicating
    official: User  # its official
    make_pilot: object  # make_pilot(name=..., accepted=2, ...) -> (grant, grantee)


def build_pilot(manager: User, *, name: str = "Pilot", accepted: int = 2, amounts=(1_000_000, 2_000_000),
                country: str = "FJI", focus_area: str = "public_interest_tech", summary: str = "",
                **challenge_fields) -> tuple[Grant, User]:
    """A closed challenge in a city of its own, a proposal awarded as the panel recommended and accepted by its
    grantee, with its first `accepted` milestones reported and accepted (the first summarised for the public
    when `summary`)."""
    city, _ = factories.cities.make_city(via="models", name=f"{name} city", org_name=f"{name} city org",
                                         country=country)
    now = utcnow()
    challenge = factories.challenges.make_challenge(
        city, via="models", state="published", title=f"{name} challenge", summary=f"{name} problem.",
        description=f"## {name}\n\nThe original description.", focus_area=focus_area,
        opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1), **challenge_fields)
    org = factories.accounts.make_org(name=f"{name} grantee", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP,
                                      country="KEN")
    grantee = factories.accounts.make_user("innovator", organization=org)
    proposal = factories.proposals.make_proposal(challenge, via="models", org=org, title=f"{name} solution",
                                                 amounts=amounts)
    factories.grants.recommend(proposal, manager)
    factories.ledger.fund(key=f"pilot-{name}", challenge=challenge, pool=sum(amounts) * 2)
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=sum(amounts))
    awards.accept_grant(grant=grant, actor=grantee)
    for tranche in grant.tranches[:accepted]:
        report = milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Private report text.",
                                                    spending=NO_SPENDING, kpi_values={"secret kpi": 77})
        milestones.accept_milestone_report(report=report, actor=manager)
        if summary and tranche.position == grant.tranches[0].position:
            summaries.write_public_summary(report=report, actor=grantee, text=summary)
    db.session.commit()
    return grant, grantee


@pytest.fixture
def scene(app, make_user) -> Scene:
    manager = make_user("fund_manager")
    factories.ledger.fund(key="scene-unallocated", unallocated=100_000_000)
    city, official = factories.cities.make_city(name="Lyon", country="FRA", fund_manager=manager)
    return Scene(manager=manager, city=city, official=official,
                 make_pilot=lambda **kw: build_pilot(manager, **kw))
