"""seed-demo fills the results framework: every chart of /results has data."""
import sqlalchemy as sa

from facility.demo import seed
from facility.extensions import db
from facility.grants.models import Contribution, ContributionStatus
from facility.ledger.balances import facility_totals
from facility.ledger.verify import verify_ledger
from facility.portfolio import results
from facility.portfolio.results_views import build_charts


def test_seed_gives_every_results_chart_data(app):
    seed(echo=lambda _: None)
    figures = results.results()
    assert len(figures.capital.quarters) >= 5 and figures.capital.rate_basis == "last_four_quarters"
    assert figures.capital.raised_cents == facility_totals()["raised"]
    assert [e.count > 0 for e in figures.engagement] == [True, True, True]
    assert figures.money.grants >= 3 and figures.money.disbursed_cents > 0
    assert all(m.grants for m in figures.by_focus_area)  # both focus areas
    assert sum(1 for m in figures.by_beneficiary_group if m.grants) >= 4
    assert sum(1 for m in figures.by_sdg_target if m.grants) >= 3
    empty = [key for key, chart in build_charts(figures).items() if chart.is_empty]
    assert empty == []
    received = db.session.execute(sa.select(sa.func.count(Contribution.id)).where(
        Contribution.status == ContributionStatus.RECEIVED)).scalar_one()
    assert received >= 6
    assert verify_ledger() == []
