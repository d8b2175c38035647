"""`/portfolio`: who may see it, the same money as `/facility`, filters kept and bad ones reported,
charts with their data and CSV, right to left in Arabic, and a query count independent of the rows."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.models import utcnow
from facility.core.templating import money
from facility.extensions import db
from facility.ledger.balances import facility_totals
from facility.portfolio import pipeline
from tests import factories
from tests.portfolio import staff_scene
from tests.portfolio.test_foundations import assert_time_runs_from_the_right

STAFF = ("fund_manager", "admin", "auditor")
OTHERS = ("innovator", "reviewer", "donor", "city_official")


@pytest.mark.parametrize("role", STAFF)
def test_staff_and_auditors_see_the_portfolio(client, login, app, clock, role):
    login(client, factories.accounts.make_user(role))
    response = client.get("/portfolio")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Pipeline" in text and "Cash forecast" in text and 'href="/portfolio"' in text


@pytest.mark.parametrize("role", OTHERS)
@pytest.mark.parametrize("path", ["/portfolio", "/portfolio?chart=money&format=csv", "/portfolio/exports/grants.csv",
                                  "/portfolio/exports/proposals.xlsx"])
def test_everyone_else_is_refused(client, login, app, clock, role, path):
    login(client, factories.accounts.make_user(role))
    response = client.get(path)
    assert response.status_code == 403
    assert 'href="/portfolio"' not in response.get_data(as_text=True)


def test_people_in_the_portfolio_do_not_see_it(login, app, clock):
    """A grantee and the official of a city with a grant are in the portfolio, yet see none of it."""
    scene = staff_scene.build(1)
    grant = scene.grants[0]
    grantee = db.session.scalars(sa.select(User).where(User.organization_id == grant.organization_id)).first()
    official = factories.accounts.make_user("city_official", organization=scene.challenges[0].city.organization)
    for person in (grantee, official):
        client = login(app.test_client(), person)
        for path in ("/portfolio", "/portfolio/exports/grants.csv", "/portfolio?chart=grants&format=csv"):
            assert client.get(path).status_code == 403, (person.email, path)


@pytest.mark.parametrize("path", ["/portfolio", "/portfolio?chart=money&format=csv", "/portfolio/exports/grants.csv"])
def test_strangers_are_sent_to_sign_in(client, app, clock, path):
    response = client.get(path)
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def _cells(html: str) -> dict[str, str]:
    return dict(re.findall(r'<td class="num" data-step="(\w+)">([^<]+)</td>', html))


def _facility_amounts(html: str) -> list[str]:
    return re.findall(r"<td>(USD[^<]+)</td>", html)


def test_the_same_money_shows_the_same_amount_as_the_facility_page(client, login, app, clock):
    staff_scene.build(2)
    manager = factories.accounts.make_user("fund_manager")
    login(client, manager)
    page = client.get("/portfolio").get_data(as_text=True)
    totals = facility_totals()
    cells = _cells(page)
    assert cells == {step: money(totals[step]) for step in pipeline.MONEY_STEPS}
    facility = client.get("/facility").get_data(as_text=True)
    assert _facility_amounts(facility) == [cells[step] for step in pipeline.MONEY_STEPS]
    api = client.get("/api/v1/facility").get_json()
    # The API names amounts with their unit (`raised_cents`), or did before that rename: either way, the same cents.
    assert [api.get(f"{step}_cents", api.get(step)) for step in pipeline.MONEY_STEPS] == [
        totals[step] for step in pipeline.MONEY_STEPS]


def test_filters_are_kept_in_links_and_bad_values_reported(client, login, app, clock):
    staff_scene.build(2)
    login(client, factories.accounts.make_user("fund_manager"))
    page = client.get("/portfolio?country=KEN&size_class=huge&sdg_target=99.9")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Give an SDG target code" in text and "Not a valid choice" in text
    # The good value is applied and kept in every chart and export link; the bad ones are dropped.
    assert "/portfolio/exports/grants.csv?country=KEN" in text
    assert "chart=money&amp;format=csv&amp;country=KEN" in text
    kept = re.findall(r'href="(/portfolio[^"]*(?:exports/|chart=)[^"]*)"', text)
    assert kept and all("size_class" not in href and "sdg_target" not in href for href in kept)
    kenya = pipeline.money_by_step(pipeline.PortfolioFilter(country="KEN"))
    assert _cells(text)["committed"] == money(kenya.committed)
    assert "belongs to no city" in text


@pytest.mark.parametrize("query", ["?country=%00%ff", "?region=Mars&page=-3", "?page=99999999999999999999",
                                   "?country_group=" + "x" * 5000, "?chart=nope&format=csv"])
def test_garbage_never_gives_a_500(client, login, app, clock, query):
    login(client, factories.accounts.make_user("fund_manager"))
    assert client.get("/portfolio" + query).status_code in (200, 404, 422)


def test_every_chart_has_a_title_summary_table_and_csv(client, login, app, clock):
    scene = staff_scene.build(2)
    staff_scene.add_grant(scene, "waiting", pay="requested")
    login(client, factories.accounts.make_user("fund_manager"))
    text = client.get("/portfolio").get_data(as_text=True)
    for key in ("money", "challenges", "proposals", "grants", "forecast", "payments"):
        assert f'id="chart-{key}-title"' in text and f'id="chart-{key}-summary"' in text
        response = client.get(f"/portfolio?chart={key}&format=csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert len(rows) > 1, key
    assert "<script" not in text
    money_rows = list(csv.reader(io.StringIO(client.get("/portfolio?chart=money&format=csv")
                                             .get_data(as_text=True).lstrip("\ufeff"))))
    totals = facility_totals()
    assert [row[1] for row in money_rows[1:]] == [f"{totals[s] / 100:.2f}" for s in pipeline.MONEY_STEPS]


def test_charts_read_right_to_left_in_arabic(client, login, app, clock):
    scene = staff_scene.build(1)
    staff_scene.add_grant(scene, "later", pay=None, first_due=utcnow().date() + timedelta(days=100))
    login(client, factories.accounts.make_user("fund_manager"))
    arabic = client.get("/portfolio", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    english = client.get("/portfolio", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert_time_runs_from_the_right(english, arabic, "forecast")


def test_page_query_count_does_not_grow_with_rows(client, login, app, clock, count_queries):
    scene = staff_scene.build(1)
    staff_scene.add_grant(scene, "late-1", accept_first=False)
    login(client, factories.accounts.make_user("fund_manager"))
    client.get("/portfolio")
    with count_queries() as few:
        assert client.get("/portfolio").status_code == 200
    staff_scene.build(3, scene=scene)
    for tag in ("late-2", "late-3"):
        staff_scene.add_grant(scene, tag, accept_first=False, country="KEN")
    staff_scene.add_grant(scene, "asked", pay="requested")
    with count_queries() as many:
        text = client.get("/portfolio").get_data(as_text=True)
    assert few() == many()
    assert text.count("Pilot</a>") == 3  # the three overdue milestones
