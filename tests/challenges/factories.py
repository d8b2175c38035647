"""Builders for cities and challenges shared by the cities and challenges tests."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from facility.accounts.models import User
from facility.challenges import services as challenge_services
from facility.challenges.models import Challenge
from facility.cities import services as city_services
from facility.cities.models import City
from facility.extensions import db

# Tests freeze the clock here (time_machine) unless they say otherwise.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def make_city(make_user, *, name: str = "Kampala", country: str = "UGA", population: int = 1_700_000,
              share: int = 60, risk: str = "high", verified: bool = True, fund_manager: User | None = None
              ) -> tuple[City, User]:
    """A city created by a new official through the service (and verified by a fund manager)."""
    official = make_user("city_official")
    city = city_services.create_city(actor=official, name=name, country=country, population=population,
                                     informal_settlement_share_pct=share, climate_risk=risk)
    if verified:
        city_services.verify_city(city=city, actor=fund_manager or make_user("fund_manager"))
    db.session.commit()
    return city, official


def challenge_fields(**overrides) -> dict:
    """Valid fields for the service (datetimes, not strings)."""
    fields = dict(
        title="Safer walking routes to school",
        summary="Reduce road injuries among children walking to school in informal settlements.",
        description="## The problem\n\nChildren walk **long** distances.",
        focus_area="inclusive_innovation",
        sdg_targets=["11.2", "3.6"],
        prize_pool_cents=50_000_000,
        max_award_cents=10_000_000,
        opens_at=NOW + timedelta(days=1),
        closes_at=NOW + timedelta(days=60),
        eligible_org_types=[],
        eligible_countries=[],
        criteria=[
            {"name": "Impact", "description": "Lives improved", "weight": 50},
            {"name": "Feasibility", "description": "", "weight": 30},
            {"name": "Openness", "description": "Open standards", "weight": 20},
        ],
    )
    fields.update(overrides)
    return fields


def challenge_json(city_id: int, **overrides) -> dict:
    """The same fields as JSON for POST /api/v1/challenges."""
    fields = challenge_fields(**overrides)
    for key in ("opens_at", "closes_at"):
        if isinstance(fields[key], datetime):
            fields[key] = fields[key].isoformat()
    return {"city_id": city_id, **fields}


def make_challenge(city: City, official: User, *, state: str = "draft", fund_manager: User | None = None,
                   **overrides) -> Challenge:
    """A challenge in `state` (draft, pending_approval or published), built through the services."""
    challenge = challenge_services.create_challenge(actor=official, city=city, **challenge_fields(**overrides))
    if state in ("pending_approval", "published"):
        challenge_services.submit_challenge(challenge=challenge, actor=official)
    if state == "published":
        challenge_services.approve_challenge(challenge=challenge, actor=fund_manager)
    db.session.commit()
    return challenge
