"""seed-demo fills the portfolio: every chart and table has data, and its money is the ledger's."""
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.models import utcnow
from facility.demo import DEMO_PASSWORD, seed
from facility.disbursements.models import DisbursementStatus
from facility.extensions import db
from facility.grants.models import GrantStatus
from facility.ledger.balances import facility_totals
from facility.ledger.verify import verify_ledger
from facility.portfolio import forecast, pipeline
from facility.portfolio.filters import PortfolioFilter
from facility.portfolio.staff_charts import portfolio_charts

NONE = PortfolioFilter()


def test_demo_fills_every_chart_and_table(app):
    seed(echo=lambda _msg: None)
    now = utcnow()
    money = pipeline.money_by_step(NONE)
    months = forecast.committed_by_month(NONE)
    waiting = forecast.payments_waiting(NONE, now)
    grants = pipeline.grants_by_status(NONE)
    charts = portfolio_charts(money=money, challenges=pipeline.challenges_by_status(NONE),
                              funnel=pipeline.proposal_funnel(NONE), grants=grants, months=months, waiting=waiting,
                              rtl=False)
    assert {key for key, chart in charts.items() if chart.is_empty} == set()
    assert all(cents > 0 for _step, cents in money.steps())
    assert len(months) >= 3 and sum(c for _m, c in months) == facility_totals()["committed"]
    assert {s for s, (n, _c) in grants.items() if n} >= {GrantStatus.ACTIVE, GrantStatus.OFFERED}
    by_age = {b.key: n for b, n, _c in forecast.waiting_by_age(waiting)}
    assert sum(1 for n in by_age.values() if n) >= 3, by_age
    assert sum(1 for s in waiting if any(n for n, _c in waiting[s].values())) >= 4
    assert sum(n for n, _c in waiting[DisbursementStatus.REQUESTED].values()) >= 1  # approvals waiting
    overdue = forecast.overdue_milestones(NONE, now.date(), page=1, per_page=10)
    assert overdue.total >= 1 and overdue.items[0].grant.organization.name
    funnel = pipeline.proposal_funnel(NONE)
    assert funnel["submitted"] > 0 and funnel["awarded"] > 0
    assert verify_ledger() == []


def test_demo_portfolio_page_and_filters(app, client, login):
    seed(echo=lambda _msg: None)
    manager = db.session.scalars(sa.select(User).where(User.email == "fund.manager@demo.facility")).one()
    login(client, manager, DEMO_PASSWORD)
    page = client.get("/portfolio")
    assert page.status_code == 200 and "No data yet" not in page.get_data(as_text=True)
    for group in ("LDC", "SIDS", "global_south"):
        assert client.get(f"/portfolio?country_group={group}").status_code == 200
