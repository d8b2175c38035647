"""Fixtures: a verified city with a published challenge, innovators, proposals, a frozen clock.

Challenges are built as rows (tests/factories, via="models"), so a test can put one in any state or window directly.
The clock stands at NOW, inside the challenge's window (OPENS .. CLOSES).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facility.accounts.models import OrgKind, OrgType
from facility.challenges.models import ChallengeStatus
from tests import factories
from tests.factories import NOW  # noqa: F401 - the clock stands here; imported from here by tests
from tests.factories.proposals import complete_data, service_data  # noqa: F401 - imported from here by tests

OPENS = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
CLOSES = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
BEFORE_OPEN = OPENS - timedelta(days=3)
AFTER_CLOSE = CLOSES + timedelta(hours=1)
MAX_AWARD = 50_000_00


@pytest.fixture(autouse=True)
def _frozen(clock):
    """Every proposals test runs with the shared clock standing at NOW."""


@pytest.fixture
def make_city(app):
    """`make_city(name, country)`: a city verified a month before the window opens, built as rows."""
    counter = {"n": 0}

    def _make(name="Kampala", country="UGA"):
        counter["n"] += 1
        city, _ = factories.cities.make_city(via="models", name=name, country=country,
                                             org_name=f"City of {name} {counter['n']}", population=1_500_000,
                                             share=40, risk="high", verified_at=OPENS - timedelta(days=30))
        return city

    return _make


@pytest.fixture
def make_challenge(make_city):
    """`make_challenge(city, status=..., opens_at=..., ...)`: a challenge in any status and window, built as rows."""
    def _make(city=None, *, status=ChallengeStatus.PUBLISHED, opens_at=OPENS, closes_at=CLOSES,
              max_award_cents=MAX_AWARD, eligible_org_types=(), eligible_countries=(), title="Clean water kiosks"):
        return factories.challenges.make_challenge(
            city or make_city(), via="models", state=status, title=title,
            summary="Safe water for informal settlements.", description="Details.", sdg_targets=["11.1"],
            prize_pool_cents=max_award_cents * 4, max_award_cents=max_award_cents, opens_at=opens_at,
            closes_at=closes_at, eligible_org_types=eligible_org_types, eligible_countries=eligible_countries,
            criteria=[{"name": "Impact", "weight": 60}, {"name": "Feasibility", "weight": 40}])

    return _make


@pytest.fixture
def city(make_city):
    return make_city()


@pytest.fixture
def challenge(make_challenge, city):
    return make_challenge(city)


@pytest.fixture
def innovator_org(app, make_org):
    return make_org(name="SolarKiosk", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="KEN")


@pytest.fixture
def innovator(make_user, innovator_org):
    return make_user("innovator", organization=innovator_org, email="founder.solarkiosk@example.org")


@pytest.fixture
def other_innovator(make_user, make_org):
    org = make_org(name="WaterWatch", kind=OrgKind.INNOVATOR, org_type=OrgType.NGO, country="BGD")
    return make_user("innovator", organization=org, email="lead.waterwatch@example.org")


@pytest.fixture
def official(make_user, city):
    return make_user("city_official", organization=city.organization, email="official.city@example.org")


@pytest.fixture
def other_official(make_user, make_city):
    other = make_city(name="Suva", country="FJI")
    return make_user("city_official", organization=other.organization, email="official.other@example.org")


@pytest.fixture
def fund_manager(make_user):
    return make_user("fund_manager", email="fm.facility@example.org")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", email="reviewer.facility@example.org")


@pytest.fixture
def people(make_user, innovator, other_innovator, official, other_official, fund_manager, reviewer):
    colleague = make_user("innovator", organization=innovator.organization, email="colleague.solarkiosk@example.org")
    admin = make_user("admin", email="admin.facility@example.org")
    donor = make_user("donor", email="donor.example@example.org")
    return {"owner": innovator, "colleague": colleague, "other_innovator": other_innovator,
            "official": official, "other_official": other_official, "fund_manager": fund_manager,
            "admin": admin, "reviewer": reviewer, "donor": donor, "anonymous": None}


@pytest.fixture
def make_proposal(innovator):
    """`make_proposal(challenge, user=innovator, submit=False, **data)`: through the services."""
    def _make(challenge, *, user=None, submit=False, **overrides):
        return factories.proposals.make_proposal(challenge, user or innovator, submit=submit, **overrides)

    return _make
