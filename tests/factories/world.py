"""A small facility, fully built through the factories (and so the services): the `world` fixture."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.challenges.models import Challenge
from facility.cities.models import City
from facility.core.models import utcnow
from facility.proposals.models import Proposal
from tests.factories.accounts import make_org, make_user
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city
from tests.factories.ledger import fund_facility
from tests.factories.proposals import make_proposal


@dataclass
class World:
    city: City
    official: User  # the city's official, who drafted the challenge
    challenge: Challenge  # published (its prize pool funded), open now and for 30 days
    innovator_org: Organization
    innovator: User
    proposal: Proposal  # submitted by `innovator` to `challenge`
    fund_manager: User  # verified the city and approved the challenge
    second_fund_manager: User  # a colleague, for the decisions that take two people
    reviewer: User
    donor_org: Organization
    donor: User


def build_world() -> World:
    """Build it at the current (frozen) time; the facility holds USD 100 million before the challenge's pool."""
    fund_facility(key="test:world-funding")
    fund_manager = make_user("fund_manager", email="fm.world@example.org", name="Fatima Manager")
    second_fund_manager = make_user("fund_manager", email="fm2.world@example.org", name="Sam Second")
    city, official = make_city(fund_manager=fund_manager)
    now = utcnow()
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager,
                               opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30))
    innovator_org = make_org(name="SolarKiosk", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="KEN")
    innovator = make_user("innovator", organization=innovator_org, email="founder.world@example.org",
                          name="Imani Innovator")
    proposal = make_proposal(challenge, innovator, submit=True)
    donor_org = make_org(name="Harbour Foundation", kind=OrgKind.DONOR, country="NOR")
    return World(city=city, official=official, challenge=challenge, innovator_org=innovator_org, innovator=innovator,
                 proposal=proposal, fund_manager=fund_manager, second_fund_manager=second_fund_manager,
                 reviewer=make_user("reviewer", email="reviewer.world@example.org", name="Rosa Reviewer"),
                 donor_org=donor_org,
                 donor=make_user("donor", organization=donor_org, email="donor.world@example.org", name="Dan Donor"))
