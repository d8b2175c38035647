"""Two challenges approved at once, both eligible for the last of an earmarked fund: one gets the
earmarked money, the other falls to the general fund (or, with no general money, gets a 409 and stays
pending); nothing goes below zero. Each thread is a request of its own (own session and connection)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from facility.accounts.models import User
from facility.challenges import services as challenge_services
from facility.challenges.models import Challenge, ChallengeStatus
from facility.core.errors import Conflict
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import contributions
from facility.ledger.balances import fund_balances
from facility.ledger.services import GENERAL_FUND, UNALLOCATED, pool_code
from facility.ledger.verify import verify_ledger
from tests import factories


def _approve_both(app, challenge_ids, manager_id):
    def approve(challenge_id):
        with app.app_context():
            try:
                challenge_services.approve_challenge(challenge=db.session.get(Challenge, challenge_id),
                                                     actor=db.session.get(User, manager_id))
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "conflict"
            finally:
                db.session.remove()

    db.session.commit()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(approve, challenge_ids))
    db.session.expire_all()
    return results


@pytest.mark.unfunded
@pytest.mark.parametrize("general_cents", [1_000_000, 0])
def test_two_approvals_race_for_the_last_of_an_earmarked_fund(app, make_user, general_cents):
    manager, donor = make_user("fund_manager"), make_user("donor")
    if general_cents:
        factories.ledger.fund_facility(general_cents)
    pledge = contributions.pledge_contribution(actor=donor, amount_cents=200_000, method="wire",
                                               earmark={"country_group": "LDC"})
    contributions.confirm_wire_contribution(contribution=pledge, actor=manager, received_cents=200_000,
                                            received_on=utcnow().date(), bank_reference="FT-RACE")
    db.session.commit()
    city, official = factories.cities.make_city(name="Kampala", country="UGA")
    ids = []
    for n in range(2):
        challenge = factories.challenges.make_challenge(city, official, state="pending_approval",
                                                        title=f"Race {n}", prize_pool_cents=200_000,
                                                        max_award_cents=200_000)
        ids.append(challenge.id)
    db.session.commit()

    results = _approve_both(app, ids, manager.id)

    pools = [{k: v for k, v in fund_balances(pool_code(cid)).items() if v} for cid in ids]
    statuses = [db.session.get(Challenge, cid).status for cid in ids]
    earmarked = [pool for pool in pools if pool.get(pledge.fund_id)]
    assert len(earmarked) == 1 and earmarked[0] == {pledge.fund_id: 200_000}  # one got all of the fund
    if general_cents:
        assert sorted(results) == ["ok", "ok"]
        assert {GENERAL_FUND: 200_000} in pools  # the other fell to the general fund
        assert fund_balances(UNALLOCATED) == {GENERAL_FUND: general_cents - 200_000, pledge.fund_id: 0}
    else:
        assert sorted(results) == ["conflict", "ok"]
        assert sorted(s.value for s in statuses) == ["pending_approval", "published"]
        assert {} in pools  # the refused one holds nothing
        assert statuses.count(ChallengeStatus.PUBLISHED) == 1
    assert all(cents >= 0 for cents in fund_balances(UNALLOCATED).values())
    assert verify_ledger() == []
