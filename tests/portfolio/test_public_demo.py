"""seed-demo gives the public record something to show: grants in the register, a public summary,
every kind of movement in the public ledger, an anonymous donor."""
from datetime import timedelta

import sqlalchemy as sa

from facility.core.models import utcnow
from facility.demo import seed
from facility.extensions import db
from facility.grants.models import Contribution, MilestoneReport
from tests.factories.accounts import make_user
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city
from tests.factories.proposals import make_proposal


def test_demo_fills_the_register_and_the_ledger(client, app):
    city, _ = make_city(via="models", name="Demo City", country="UGA", population=400_000)
    challenge = make_challenge(city, via="models", state="published", prize_pool_cents=10_000_000,
                               max_award_cents=5_000_000, opens_at=utcnow() - timedelta(days=60),
                               closes_at=utcnow() - timedelta(days=1))
    first = make_proposal(challenge, via="models", title="Demo water kiosks")
    make_user("innovator", organization=first.organization)
    seed(echo=lambda _: None)
    register = client.get("/grants").get_data(as_text=True)
    assert first.title in register
    summary = db.session.execute(sa.select(MilestoneReport.public_summary)
                                 .where(MilestoneReport.public_summary != "")).scalars().all()
    # the portfolio's grant's summary, beside the solutions demo's for the Kathmandu pilot
    assert any(text.startswith("The pilot runs") for text in summary)
    assert any(text.startswith("Twelve water kiosks") for text in summary)
    grant_id = db.session.execute(sa.select(MilestoneReport).where(MilestoneReport.public_summary != "")
                                  ).scalars().first().tranche.grant_id
    assert summary[0] in client.get(f"/grants/{grant_id}").get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count()).where(Contribution.anonymous.is_(True))).scalar_one() == 1
    kinds = {m["kind"] for m in client.get("/api/v1/facility/ledger?per_page=100").json["items"]}
    assert {"contribution", "allocation", "award"} <= kinds
    ledger = client.get("/facility/ledger").get_data(as_text=True)
    assert "anonymous donor" in ledger
