"""Fixtures: a verified city with a published challenge, innovators, proposals, a frozen clock.

Challenges are built as model objects, so a test can put one in any state or window directly.
The clock stands at NOW, inside the challenge's window (OPENS .. CLOSES).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from facility.accounts.models import OrgKind, OrgType
from facility.challenges.models import Challenge, ChallengeStatus, Criterion, FocusArea
from facility.cities.models import City, ClimateRisk
from facility.extensions import db

OPENS = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
CLOSES = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
BEFORE_OPEN = OPENS - timedelta(days=3)
AFTER_CLOSE = CLOSES + timedelta(hours=1)
MAX_AWARD = 50_000_00


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def make_city(app, make_org):
    counter = {"n": 0}

    def _make(name="Kampala", country="UGA"):
        counter["n"] += 1
        org = make_org(name=f"City of {name} {counter['n']}", kind=OrgKind.CITY, country=country)
        city = City(organization_id=org.id, name=name, country=country, population=1_500_000,
                    informal_settlement_share_pct=40, climate_risk=ClimateRisk.HIGH,
                    verified_at=OPENS - timedelta(days=30))
        db.session.add(city)
        db.session.commit()
        return city

    return _make


@pytest.fixture
def make_challenge(make_city):
    def _make(city=None, *, status=ChallengeStatus.PUBLISHED, opens_at=OPENS, closes_at=CLOSES,
              max_award_cents=MAX_AWARD, eligible_org_types=(), eligible_countries=(), title="Clean water kiosks"):
        city = city or make_city()
        challenge = Challenge(
            city=city, title=title, summary="Safe water for informal settlements.", description="Details.",
            focus_area=FocusArea.INCLUSIVE_INNOVATION, sdg_targets=["11.1"], prize_pool_cents=max_award_cents * 4,
            max_award_cents=max_award_cents, opens_at=opens_at, closes_at=closes_at,
            eligible_org_types=list(eligible_org_types), eligible_countries=list(eligible_countries), status=status,
        )
        challenge.criteria = [Criterion(name="Impact", description="", weight=60, position=1),
                              Criterion(name="Feasibility", description="", weight=40, position=2)]
        db.session.add(challenge)
        db.session.commit()
        return challenge

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


def complete_data(**overrides) -> dict:
    """A proposal that may be submitted as it stands (API shapes: dates as ISO strings)."""
    data = {
        "title": "Solar water kiosks",
        "summary": "Pay-as-you-go clean water.",
        "approach": "We *install* kiosks.",
        "team": "Amina (engineer), Tom (operations)",
        "requested_cents": 30_000_00,
        "beneficiary_groups": ["urban_poor", "women"],
        "privacy_impact": "No personal data beyond phone numbers, deleted after 90 days.",
        "milestones": [
            {"title": "Pilot", "due_date": "2027-06-30", "amount_cents": 10_000_00, "deliverable": "Two kiosks"},
            {"title": "Scale", "due_date": "2027-12-31", "amount_cents": 20_000_00, "deliverable": "Ten kiosks"},
        ],
    }
    data.update(overrides)
    return data


def service_data(data: dict) -> dict:
    """API-shaped data with real dates, as the API schema hands it to the service."""
    out = dict(data)
    out["milestones"] = [dict(m, due_date=date.fromisoformat(m["due_date"]) if m.get("due_date") else None)
                         for m in data.get("milestones", [])]
    return out


@pytest.fixture
def make_proposal(innovator):
    from facility.proposals import services

    def _make(challenge, *, user=None, submit=False, **overrides):
        user = user or innovator
        proposal = services.create_proposal(actor=user, challenge=challenge,
                                            data=service_data(complete_data(**overrides)))
        if submit:
            services.submit_proposal(actor=user, proposal=proposal)
        db.session.commit()
        return proposal

    return _make
