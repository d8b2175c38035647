"""seed-demo shows an earmarked fund drawn by a challenge's approval and a co-funded challenge."""
from __future__ import annotations

import sqlalchemy as sa

from facility.challenges.models import Challenge
from facility.extensions import db
from facility.grants.models import Contribution
from facility.ledger.balances import fund_balances
from facility.ledger.services import pool_code
from facility.ledger.verify import verify_ledger


def test_seed_demo_has_an_earmarked_fund_and_a_cofunded_challenge(app):
    result = app.test_cli_runner().invoke(args=["facility", "seed-demo"])
    assert result.exit_code == 0, result.output
    earmarked = db.session.execute(sa.select(Contribution).where(
        Contribution.earmark_kind == "focus_area")).scalar_one()
    cofund = db.session.execute(sa.select(Contribution).where(Contribution.earmark_kind == "challenge")).scalar_one()
    coast = db.session.execute(sa.select(Challenge).where(Challenge.title == "Open coastal resilience data")).scalar_one()
    flood = db.session.get(Challenge, int(cofund.earmark_value))
    assert fund_balances(pool_code(coast.id)).get(earmarked.fund_id) == earmarked.received_cents
    assert fund_balances(pool_code(flood.id)).get(cofund.fund_id) == cofund.received_cents
    assert verify_ledger() == []
