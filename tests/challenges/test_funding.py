"""Approving a challenge funds its prize pool from unallocated money, in the same transaction."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from facility.challenges import services
from facility.challenges.models import Challenge, ChallengeStatus
from facility.core.errors import Conflict
from facility.extensions import db
from facility.ledger.balances import balance, facility_totals
from facility.ledger.services import pool_code
from facility.ledger.verify import verify_ledger
from tests.conftest import fund_facility
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city


@pytest.mark.unfunded
def test_approval_moves_the_prize_pool_from_unallocated(app, make_user, clock):
    fund_facility(1_000_000_00)
    fund_manager = make_user("fund_manager")
    city, official = make_city(fund_manager=fund_manager)
    challenge = make_challenge(city, official, state="published", fund_manager=fund_manager,
                               prize_pool_cents=300_000_00, max_award_cents=100_000_00)
    assert balance(pool_code(challenge.id)) == 300_000_00
    totals = facility_totals()
    assert totals["unallocated"] == 700_000_00 and totals["allocated"] == 300_000_00
    assert verify_ledger() == []


@pytest.mark.unfunded
def test_short_of_money_is_409_and_nothing_changes(app, make_user, client, api_headers, clock):
    fund_facility(100_00)
    fund_manager = make_user("fund_manager")
    city, official = make_city(fund_manager=fund_manager)
    challenge = make_challenge(city, official, state="pending_approval", prize_pool_cents=500_00,
                               max_award_cents=100_00)
    response = client.post(f"/api/v1/challenges/{challenge.id}/approve", headers=api_headers(fund_manager))
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert "short by" in response.json["detail"]
    db.session.expire_all()
    assert db.session.get(Challenge, challenge.id).status == ChallengeStatus.PENDING_APPROVAL
    assert balance(pool_code(challenge.id)) == 0
    assert facility_totals()["unallocated"] == 100_00


@pytest.mark.unfunded
def test_200_concurrent_approvals_against_money_for_100(app, make_user, clock):
    """Exactly as many challenges are published as the facility can fund, whatever the race."""
    fund_facility(100 * 1_000_00)
    fund_manager = make_user("fund_manager")
    city, official = make_city(fund_manager=fund_manager)
    ids = []
    for n in range(200):
        challenge = services.create_challenge(actor=official, city=city, **_fields(n))
        services.submit_challenge(challenge=challenge, actor=official)
        ids.append(challenge.id)
    fund_manager_id = fund_manager.id
    db.session.commit()  # and leave no transaction open: on SQLite it would hold the write lock

    def approve(challenge_id: int) -> str:
        with app.app_context():
            try:
                actor = db.session.get(type(fund_manager), fund_manager_id)
                services.approve_challenge(challenge=db.session.get(Challenge, challenge_id), actor=actor)
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "short"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(approve, ids))
    assert outcomes.count("ok") == 100 and outcomes.count("short") == 100
    db.session.expire_all()
    published = db.session.scalar(sa.select(sa.func.count()).where(Challenge.status == ChallengeStatus.PUBLISHED))
    assert published == 100
    totals = facility_totals()
    assert totals["unallocated"] == 0 and totals["allocated"] == 100 * 1_000_00
    assert verify_ledger() == []


def _fields(n: int) -> dict:
    from tests.factories.challenges import challenge_fields

    return challenge_fields(title=f"Challenge {n}", prize_pool_cents=1_000_00, max_award_cents=1_000_00)

