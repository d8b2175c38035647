"""Budget against actual spending: what milestone reports state was spent, the variance maths and its flag,
the grant page, the report page, the query count and the API's fields."""
# ruff: noqa: F811 - test arguments name the fixtures of the package's conftest
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind, OrgType
from facility.core.errors import ValidationFailed
from facility.demo import seed
from facility.extensions import db
from facility.grants import awards, milestones
from facility.grants.budget import budget_data, compare, grant_budget, is_flagged, scale_budget, variance
from facility.grants.models import Grant, MilestoneReport, ReportSpendingLine, ReportStatus, TrancheStatus
from facility.proposals.models import BudgetCategory, Proposal, ProposalStatus
from tests import factories
from tests.conftest import get_csrf
from tests.factories.grants import NO_SPENDING, spending

P, E, S, T, OT = (BudgetCategory.PERSONNEL, BudgetCategory.EQUIPMENT, BudgetCategory.SERVICES,
                 BudgetCategory.TRAVEL, BudgetCategory.OTHER)
BUDGET = {"personnel": 1_500_000, "equipment": 900_000, "services": 600_000, "travel": 0}  # adds up to 3,000,000


@pytest.fixture
def budget_grant(make_challenge, make_org, make_user, fund):
    """`budget_grant(amount=..., tranches=3)`: an accepted grant of a proposal with BUDGET (request 3,000,000)."""
    def _make(*, amount=3_000_000, tranches=3, budget=BUDGET):
        challenge = make_challenge()
        org = make_org(name=f"Innovator {challenge.id}", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP)
        part = 3_000_000 // tranches
        amounts = [part] * (tranches - 1) + [3_000_000 - part * (tranches - 1)]
        proposal = factories.proposals.make_proposal(challenge, via="models", org=org, title=f"P{challenge.id}",
                                                     amounts=amounts, budget_lines=budget)
        fund(challenge=challenge, pool=5_000_000)
        manager = make_user("fund_manager")
        grantee = make_user("innovator", organization=org)
        specs = None
        if amount != 3_000_000:
            specs = [{"title": "All of it", "amount_cents": amount, "due_date": None}]
        grant = factories.grants.award(proposal, manager, amount_cents=amount, tranches=specs)
        awards.accept_grant(grant=grant, actor=grantee)
        db.session.commit()
        return grant, manager, grantee

    return _make


def _report(grant, grantee, position, accept_by=None, **cents):
    report = milestones.submit_milestone_report(tranche=grant.tranches[position - 1], actor=grantee,
                                                text="Delivered", spending=spending(**cents))
    if accept_by is not None:
        milestones.accept_milestone_report(report=report, actor=accept_by)
    db.session.commit()
    return report


def _row(result, category):
    return next(row for row in result.rows if row.category is category)


# --- pure functions ---------------------------------------------------------------------------

def test_scale_budget_keeps_the_budget_when_the_award_is_the_request():
    assert scale_budget({P: 700, E: 300}, 1000, 1000) == {P: 700, E: 300, S: 0, T: 0, OT: 0}
    assert scale_budget({P: 700}, 0, 500) == {P: 700, E: 0, S: 0, T: 0, OT: 0}  # no request: nothing to scale by


def test_scale_budget_adds_up_to_the_award_to_the_cent():
    assert scale_budget({P: 700, E: 300}, 1000, 500) == {P: 350, E: 150, S: 0, T: 0, OT: 0}
    # 1/3 each of 100 cents: the left-over cent goes to the first of the equal remainders.
    assert scale_budget({P: 1, E: 1, S: 1}, 3, 100) == {P: 34, E: 33, S: 33, T: 0, OT: 0}
    scaled = scale_budget({P: 333_33, E: 333_33, S: 333_34}, 1_000_00, 777_77)
    assert sum(scaled.values()) == 777_77
    assert scale_budget({P: 10, E: 10}, 20, 1) == {P: 1, E: 0, S: 0, T: 0, OT: 0}


def test_variance_in_cents_and_percent():
    assert variance(1000, 1250) == (250, 25.0)
    assert variance(1000, 0) == (-1000, -100.0)
    assert variance(3, 4) == (1, 33.3)
    assert variance(0, 500) == (500, None)  # no percentage of a zero budget
    assert variance(0, 0) == (0, None)


@pytest.mark.parametrize(("budget", "actual", "flagged"), [
    (1000, 1100, False),  # exactly +10 %: not more than 10 %
    (1000, 1101, True),
    (1000, 900, False),   # exactly -10 %
    (1000, 899, True),
    (1000, 1000, False),
    (1000, 0, True),      # nothing spent yet against the whole budget
    (0, 0, False),        # no budget, no spending
    (0, 1, True),         # any spending without a budget
    (7, 8, True),         # +14.3 %: integer maths, no rounding
    (10, 11, False),      # +10 % on a tiny budget
])
def test_the_flag_threshold(budget, actual, flagged):
    assert is_flagged(budget, actual) is flagged


def test_compare_gives_every_category_and_a_total():
    rows, total = compare({P: 1000, E: 500}, {P: 1200, T: 50}, {E: 400})
    assert [row.category for row in rows] == [P, E, S, T, OT]
    assert (rows[0].variance_cents, rows[0].variance_pct, rows[0].flagged) == (200, 20.0, True)
    assert (rows[1].actual_cents, rows[1].pending_cents, rows[1].flagged) == (0, 400, True)
    assert (rows[3].budget_cents, rows[3].variance_pct, rows[3].flagged) == (0, None, True)
    assert not rows[2].flagged and not rows[4].flagged
    assert (total.budget_cents, total.actual_cents, total.pending_cents, total.variance_cents) == (1500, 1250, 400, -250)
    assert total.flagged  # -16.7 %


# --- report spending ----------------------------------------------------------------------------

def test_a_report_states_spending_in_every_category(budget_grant):
    grant, manager, grantee = budget_grant()
    report = _report(grant, grantee, 1, personnel=400_000, equipment=0, services=1)
    db.session.expire_all()
    assert report.spending == {P: 400_000, E: 0, S: 1, T: 0, OT: 0}


@pytest.mark.parametrize(("given", "fields"), [
    (None, {f"spending.{name}_cents" for name in ("personnel", "equipment", "services", "travel", "other")}),
    ({**NO_SPENDING, "travel_cents": None}, {"spending.travel_cents"}),
    ({**NO_SPENDING, "personnel_cents": -1}, {"spending.personnel_cents"}),
    ({**NO_SPENDING, "other_cents": "5"}, {"spending.other_cents"}),
    ({**NO_SPENDING, "food_cents": 5}, {"spending"}),
    ("lots", {"spending"}),
])
def test_report_spending_is_required_and_checked_per_field(budget_grant, given, fields):
    grant, manager, grantee = budget_grant()
    with pytest.raises(ValidationFailed) as caught:
        milestones.submit_milestone_report(tranche=grant.tranches[0], actor=grantee, text="Done", spending=given)
    assert set(caught.value.errors) == fields
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(MilestoneReport.id))).scalar_one() == 0
    assert grant.tranches[0].status is TrancheStatus.PENDING


def test_the_evidence_form_asks_for_spending(client, login, budget_grant):
    grant, manager, grantee = budget_grant()
    login(client, grantee)
    path = f"/tranches/{grant.tranches[0].id}/evidence"
    html = client.get(path).get_data(as_text=True)
    assert "What was spent in this reporting period" in html and '<label for="spending_travel">' in html
    data = {"text": "Pilot live", "csrf_token": get_csrf(client, path), "spending_personnel": "1,000",
            "spending_equipment": "0", "spending_services": "-3", "spending_travel": "", "spending_other": "0"}
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="spending_services-error"' in body and 'id="spending_travel-error"' in body
    assert "Give the amount spent (0 if nothing)." in body
    assert db.session.execute(sa.select(sa.func.count(ReportSpendingLine.id))).scalar_one() == 0

    data.update(spending_services="250.25", spending_travel="0", csrf_token=get_csrf(client, path),
                files=[(io.BytesIO(b"%PDF-1.4 x"), "proof.pdf")])
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    report = db.session.execute(sa.select(MilestoneReport)).scalar_one()
    assert report.spending == {P: 1_000_00, E: 0, S: 250_25, T: 0, OT: 0}

    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "What was spent in this period" in page and "Services" in page and "USD 250.25" in page
    assert "USD 1,250.25" in page  # the total


def test_the_api_needs_spending_per_field(client, api_headers, budget_grant):
    grant, manager, grantee = budget_grant()
    url = f"/api/v1/tranches/{grant.tranches[0].id}/evidence"
    response = client.post(url, json={"text": "Done"}, headers=api_headers(grantee))
    assert response.status_code == 422 and "spending" in response.json["errors"]
    response = client.post(url, json={"text": "Done", "spending": {**NO_SPENDING, "travel_cents": -1,
                                                                   "other_cents": None}},
                           headers=api_headers(grantee))
    assert response.status_code == 422
    assert {"spending.travel_cents", "spending.other_cents"} <= set(response.json["errors"])
    assert db.session.execute(sa.select(sa.func.count(MilestoneReport.id))).scalar_one() == 0
    response = client.post(url, json={"text": "Done", "spending": spending(personnel=5_00)},
                           headers=api_headers(grantee))
    assert response.status_code == 201
    assert response.json["spending"] == spending(personnel=5_00)


# --- budget against actual ------------------------------------------------------------------------

def test_only_accepted_reports_count_and_reports_under_review_show_apart(budget_grant):
    grant, manager, grantee = budget_grant()
    _report(grant, grantee, 1, accept_by=manager, personnel=600_000, equipment=300_000, travel=10_000)
    returned = _report(grant, grantee, 2, personnel=999_999)
    milestones.return_milestone_report(report=returned, actor=manager, comment="Add the photos")
    db.session.commit()
    _report(grant, grantee, 2, personnel=200_000, services=50_000)  # under review
    result = grant_budget(grant)
    personnel, equipment, services, travel = (_row(result, c) for c in (P, E, S, T))
    assert (personnel.budget_cents, personnel.actual_cents, personnel.pending_cents) == (1_500_000, 600_000, 200_000)
    assert (personnel.variance_cents, personnel.variance_pct, personnel.flagged) == (-900_000, -60.0, True)
    assert (services.actual_cents, services.pending_cents) == (0, 50_000)
    # Travel was budgeted at zero: any spending is flagged, and no percentage is given.
    assert (travel.budget_cents, travel.actual_cents, travel.variance_pct, travel.flagged) == (0, 10_000, None, True)
    assert equipment.actual_cents == 300_000
    assert (result.total.budget_cents, result.total.actual_cents) == (3_000_000, 910_000)
    assert result.has_budget and not result.scaled


def test_spending_as_budgeted_is_not_flagged(budget_grant):
    grant, manager, grantee = budget_grant(budget={"personnel": 1_500_000, "equipment": 1_500_000})
    _report(grant, grantee, 1, accept_by=manager, personnel=1_000_000, equipment=1_000_000)
    _report(grant, grantee, 2, accept_by=manager, personnel=650_000, equipment=350_000)  # +10 % and -10 %
    result = grant_budget(grant)
    assert [(_row(result, c).variance_pct, _row(result, c).flagged) for c in (P, E)] == [(10.0, False),
                                                                                        (-10.0, False)]
    assert not result.flagged_rows and not result.total.flagged


def test_a_smaller_award_scales_the_budget(budget_grant):
    grant, manager, grantee = budget_grant(amount=1_500_000)
    result = grant_budget(grant)
    assert result.scaled and (result.requested_cents, result.awarded_cents) == (3_000_000, 1_500_000)
    assert [row.budget_cents for row in result.rows] == [750_000, 450_000, 300_000, 0, 0]
    assert result.total.budget_cents == 1_500_000


def test_a_proposal_without_a_budget_is_budgeted_at_zero(active_grant):
    grant, manager, grantee = active_grant
    _report(grant, grantee, 1, accept_by=manager, other=100)
    result = grant_budget(grant)
    assert not result.has_budget and result.total.budget_cents == 0
    assert [row.category for row in result.flagged_rows] == [OT]


# --- the grant page -----------------------------------------------------------------------------------

def test_the_grant_page_shows_budget_actual_and_the_flag_in_words(client, login, budget_grant, make_user):
    grant, manager, grantee = budget_grant()
    _report(grant, grantee, 1, accept_by=manager, personnel=1_800_000, equipment=900_000, services=600_000)
    _report(grant, grantee, 2, personnel=1)
    for viewer in (grantee, manager, make_user("innovator", organization=grantee.organization)):
        login(client, viewer)
        html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
        assert "Budget and actual spending" in html and "The budget is the proposal’s, as submitted." in html
        assert '<th scope="row">Personnel</th>' in html and "USD 18,000.00" in html and "USD 3,000.00" in html
        assert "+20.0 %" in html and "Flagged: over budget" in html
        assert "1 category is flagged." in html  # personnel; the others are as budgeted
        assert "Within range" in html and "In reports under review" in html and "USD 0.01" in html
        client.post("/signout", data={"csrf_token": get_csrf(client, f"/grants/{grant.id}")})


def test_the_grant_page_says_when_the_budget_is_scaled(client, login, budget_grant):
    grant, manager, grantee = budget_grant(amount=1_500_000)
    login(client, manager)
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "scaled to the award: USD 15,000.00 awarded of USD 30,000.00 requested" in html
    assert "Flagged: under budget" in html  # nothing spent yet


def test_strangers_do_not_see_the_budget(client, login, budget_grant, make_user, make_org, api_headers):
    """The grant is public, its budget is not: strangers get the public page and the public record."""
    grant, manager, grantee = budget_grant()
    _report(grant, grantee, 1, accept_by=manager, personnel=1)
    stranger = make_user("innovator", organization=make_org(name="Elsewhere", kind=OrgKind.INNOVATOR))
    for who in (None, stranger, make_user("donor")):
        if who is not None:
            login(client, who)
        page = client.get(f"/grants/{grant.id}")
        assert page.status_code == 200 and 'id="budget-heading"' not in page.get_data(as_text=True)
        body = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(who) if who else {}).json
        assert "budget" not in body and "tranches" in body
    login(client, grantee)
    assert 'id="budget-heading"' in client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "budget" in client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(grantee)).json


def test_the_grant_pages_query_count_does_not_grow_with_reports(client, login, budget_grant, count_queries):
    grant, manager, grantee = budget_grant(tranches=3)
    _report(grant, grantee, 1, accept_by=manager, personnel=1)
    login(client, manager)
    client.get(f"/grants/{grant.id}")  # warm up
    with count_queries() as few:
        assert client.get(f"/grants/{grant.id}").status_code == 200
    _report(grant, grantee, 2, accept_by=manager, personnel=1)
    _report(grant, grantee, 3, personnel=1)
    with count_queries() as many:
        html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "USD 0.02" in html and many() == few()


# --- the API --------------------------------------------------------------------------------------------

def test_the_grant_api_has_the_budget(client, api_headers, budget_grant):
    grant, manager, grantee = budget_grant(amount=1_500_000)
    _report(grant, grantee, 1, accept_by=manager, personnel=900_000, travel=5)
    for viewer in (grantee, manager):
        body = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(viewer)).json["budget"]
        assert body["basis"] == "scaled_to_award" and body["flag_threshold_pct"] == 10
        assert (body["requested_cents"], body["awarded_cents"]) == (3_000_000, 1_500_000)
        personnel = body["categories"][0]
        assert personnel == {"category": "personnel", "budget_cents": 750_000, "actual_cents": 900_000,
                             "pending_cents": 0, "variance_cents": 150_000, "variance_pct": 20.0, "flagged": True}
        travel = body["categories"][3]
        assert (travel["category"], travel["variance_pct"], travel["flagged"]) == ("travel", None, True)
        assert body["total"]["category"] is None and body["total"]["actual_cents"] == 900_005
    assert budget_data(grant) == body


def test_the_grant_apis_query_count_does_not_grow_with_reports(client, api_headers, budget_grant, count_queries):
    grant, manager, grantee = budget_grant(tranches=3)
    _report(grant, grantee, 1, accept_by=manager, personnel=1)
    headers = api_headers(manager)
    client.get(f"/api/v1/grants/{grant.id}", headers=headers)  # warm up
    with count_queries() as few:
        assert client.get(f"/api/v1/grants/{grant.id}", headers=headers).status_code == 200
    _report(grant, grantee, 2, accept_by=manager, personnel=1)
    _report(grant, grantee, 3, travel=1)
    with count_queries() as many:
        body = client.get(f"/api/v1/grants/{grant.id}", headers=headers).json
    assert [t["reports"][0]["spending"]["personnel_cents"] for t in body["tranches"]] == [1, 1, 0]
    assert many() == few()


def test_the_openapi_document_names_the_budget_fields(client):
    spec = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert "variance_pct" in spec["Grant"]["properties"]["budget"]["description"]
    assert set(spec["SpendingIn"]["required"]) == {"personnel_cents", "equipment_cents", "services_cents",
                                                   "travel_cents", "other_cents"}


# --- seed-demo ----------------------------------------------------------------------------------------

def test_the_demo_has_budgets_spending_and_a_flagged_grant(app):
    seed(echo=lambda _: None)
    proposals = db.session.execute(sa.select(Proposal).where(Proposal.status != ProposalStatus.DRAFT)).scalars().all()
    assert proposals and all(p.budget_total_cents == p.requested_cents for p in proposals)
    accepted = db.session.execute(sa.select(MilestoneReport).where(
        MilestoneReport.status == ReportStatus.ACCEPTED)).scalars().all()
    assert accepted and all(len(report.spending) == 5 for report in accepted)
    grants = db.session.execute(sa.select(Grant).order_by(Grant.id)).scalars().all()
    flagged = [grant for grant in grants if grant_budget(grant).flagged_rows]
    assert flagged and grant_budget(flagged[0]).has_budget
    assert any(row.flagged and row.variance_cents > 0 for row in grant_budget(flagged[0]).rows)  # an overspend
