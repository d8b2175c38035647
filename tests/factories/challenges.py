"""Challenges."""
from __future__ import annotations

from datetime import datetime, timedelta

import time_machine

from facility.accounts.models import User
from facility.challenges import services as challenge_services
from facility.challenges.models import Challenge, ChallengeStatus, Criterion, FocusArea
from facility.cities.models import City
from facility.extensions import db
from tests.factories import NOW
from tests.factories.accounts import make_user
from tests.factories.cities import make_city

STATES = ("draft", "pending_approval", "published", "finished")


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


def make_challenge(city: City | None = None, official: User | None = None, *, state: str | ChallengeStatus = "draft",
                   fund_manager: User | None = None, via: str = "services", **overrides) -> Challenge:
    """A challenge in `state` with `challenge_fields(**overrides)`.

    via="services" (default): the city's official creates it, submits it (pending_approval) and a fund
    manager approves it (published: the prize pool is funded from the ledger, so the facility must hold
    the money) or, after its window closed, finishes it (finished). Without a city, a verified one is made.
    via="models": the row is inserted directly in any status and window (a window in the past, a published
    challenge whose pool the test funds itself); criteria are given as dicts, as for the service.
    """
    state = ChallengeStatus(state)
    if via == "models":
        fields = challenge_fields(**overrides)
        criteria = fields.pop("criteria")
        fields["focus_area"] = FocusArea(fields["focus_area"])
        fields["eligible_org_types"] = list(fields["eligible_org_types"])
        fields["eligible_countries"] = list(fields["eligible_countries"])
        challenge = Challenge(city=city or make_city(via="models")[0], status=state, **fields)
        challenge.criteria = [Criterion(name=c["name"], description=c.get("description", ""), weight=c["weight"],
                                        position=c.get("position", position))
                              for position, c in enumerate(criteria, start=1)]
        db.session.add(challenge)
        db.session.commit()
        return challenge
    if city is None:
        city, official = make_city(fund_manager=fund_manager)
    challenge = challenge_services.create_challenge(actor=official, city=city, **challenge_fields(**overrides))
    if state != ChallengeStatus.DRAFT:
        challenge_services.submit_challenge(challenge=challenge, actor=official)
    if state in (ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED):
        fund_manager = fund_manager or make_user("fund_manager")
        challenge_services.approve_challenge(challenge=challenge, actor=fund_manager)
    if state == ChallengeStatus.FINISHED:
        with time_machine.travel(challenge.closes_at + timedelta(seconds=1), tick=False):
            challenge_services.finish_challenge(challenge=challenge, actor=fund_manager)
    db.session.commit()
    return challenge


def two_cities() -> dict:
    """A fund manager who verified two cities (Kampala and Suva), their officials, and an innovator."""
    fund_manager = make_user("fund_manager")
    city, official = make_city(fund_manager=fund_manager)
    _, other_official = make_city(name="Suva", country="FJI", fund_manager=fund_manager)
    return {"fund_manager": fund_manager, "city": city, "official": official, "other_official": other_official,
            "innovator": make_user("innovator")}
