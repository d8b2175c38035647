"""A proposal's budget by category: saved from the form and the API, shown on the page, added up to the
request at submission (every problem at once), bad input refused per field with nothing changed."""
# ruff: noqa: F811 - test arguments name the fixtures of the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.core.errors import ValidationFailed
from facility.extensions import db
from facility.proposals import services
from facility.proposals.budgets import clean_budget
from facility.proposals.models import BudgetCategory, Proposal, ProposalBudgetLine, ProposalStatus
from tests.conftest import get_csrf
from tests.factories.proposals import budget_for, complete_data

CATEGORIES = ("personnel", "equipment", "services", "travel", "other")


def _form(**overrides) -> dict:
    data = {
        "title": "Solar water kiosks", "summary": "Clean water.", "approach": "We build kiosks.", "team": "Amina",
        "requested": "30,000.00", "beneficiary_groups": ["urban_poor"], "privacy_impact": "Phone numbers only.",
        "milestones-0-title": "Pilot", "milestones-0-due_date": "2027-06-30", "milestones-0-amount": "30000",
        "milestones-0-deliverable": "Two kiosks",
        "budget_personnel": "12,000.50", "budget_equipment": "9999.50", "budget_services": "8000",
        "budget_travel": "", "budget_other": "0",
    }
    data.update(overrides)
    return data


def _lines(proposal: Proposal) -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.execute(sa.select(ProposalBudgetLine).where(ProposalBudgetLine.proposal_id == proposal.id))
    return {line.category.value: line.amount_cents for line in rows.scalars()}


def _budget(**cents) -> dict:
    return {f"{name}_cents": cents.get(name) for name in CATEGORIES}


# --- the page ---------------------------------------------------------------------------------

def test_form_saves_the_budget_and_the_page_shows_it(client, login, challenge, innovator):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    html = client.get(path).get_data(as_text=True)
    for name in CATEGORIES:  # every box has its label
        assert f'<label for="budget_{name}">' in html
    response = client.post(path, data=dict(_form(), csrf_token=get_csrf(client, path)))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    proposal = db.session.execute(sa.select(Proposal)).scalar_one()
    # An empty box is "not given"; 0 is a line of zero.
    assert _lines(proposal) == {"personnel": 12_000_50, "equipment": 9_999_50, "services": 8_000_00, "other": 0}

    page = client.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert "Budget" in page and "Personnel" in page and "USD 12,000.50" in page and "Other costs" in page
    assert "The budget adds up to USD 30,000.00 of USD 30,000.00 requested" in page
    assert "personnel_cents" not in page  # no raw codes

    edit = client.get(f"/proposals/{proposal.id}/edit").get_data(as_text=True)
    assert 'name="budget_personnel"' in edit and 'value="12000.50"' in edit

    # Saving again replaces the budget: a category emptied goes away.
    edit_path = f"/proposals/{proposal.id}/edit"
    response = client.post(edit_path, data=dict(_form(budget_personnel="20000", budget_equipment="10000",
                                                      budget_services="", budget_other=""),
                                                 csrf_token=get_csrf(client, edit_path)))
    assert response.status_code == 302
    assert _lines(proposal) == {"personnel": 20_000_00, "equipment": 10_000_00}

    response = client.post(f"/proposals/{proposal.id}/submit",
                           data={"csrf_token": get_csrf(client, f"/proposals/{proposal.id}")})
    assert response.status_code == 302
    db.session.expire_all()
    snapshot = proposal.latest_snapshot.data
    assert snapshot["budget"] == _budget(personnel=20_000_00, equipment=10_000_00)


@pytest.mark.parametrize("typed", ["-5", "lots", "12.345"])
def test_form_refuses_a_bad_amount_next_to_its_field(client, login, challenge, innovator, typed):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    response = client.post(path, data=dict(_form(budget_travel=typed), csrf_token=get_csrf(client, path)))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="budget_travel-error"' in html and 'aria-invalid="true"' in html
    assert db.session.execute(sa.select(sa.func.count(Proposal.id))).scalar_one() == 0


def test_a_draft_may_be_incomplete_but_submission_needs_the_sum(client, login, challenge, innovator):
    login(client, innovator)
    path = f"/challenges/{challenge.id}/proposals/new"
    client.post(path, data=dict(_form(budget_personnel="1000", budget_equipment="", budget_services="",
                                      budget_other=""), csrf_token=get_csrf(client, path)))
    proposal = db.session.execute(sa.select(Proposal)).scalar_one()
    assert proposal.status is ProposalStatus.DRAFT and _lines(proposal) == {"personnel": 1_000_00}
    show = f"/proposals/{proposal.id}"
    checklist = client.get(show).get_data(as_text=True)
    assert "Budget: The budget adds up to USD 1,000.00, not the USD 30,000.00 requested." in checklist
    response = client.post(f"{show}/submit", data={"csrf_token": get_csrf(client, show)})
    assert response.status_code == 422
    assert "The budget adds up to USD 1,000.00, not the USD 30,000.00 requested." in response.get_data(as_text=True)
    db.session.expire_all()
    assert proposal.status is ProposalStatus.DRAFT and proposal.snapshots == []


# --- the service --------------------------------------------------------------------------------

def test_submission_reports_the_budget_with_every_other_problem(challenge, innovator, make_proposal):
    proposal = make_proposal(challenge, budget=None, summary="")
    with pytest.raises(ValidationFailed) as caught:
        services.submit_proposal(actor=innovator, proposal=proposal)
    errors = caught.value.errors
    assert errors["budget"] == ["Give the budget by category; it must add up to the amount requested."]
    assert "summary" in errors  # all at once
    db.session.rollback()

    over = proposal  # one proposal per organisation: this one's budget is changed instead
    services.update_proposal(actor=innovator, proposal=over, data={"summary": "s", "budget": budget_for(30_000_01)})
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        services.submit_proposal(actor=innovator, proposal=over)
    assert caught.value.errors == {"budget": ["The budget adds up to USD 30,000.01, not the USD 30,000.00 requested."]}
    db.session.rollback()
    services.update_proposal(actor=innovator, proposal=over, data={"budget": budget_for(30_000_00)})
    services.submit_proposal(actor=innovator, proposal=over)
    assert over.status is ProposalStatus.SUBMITTED


@pytest.mark.parametrize(("budget", "field"), [
    ("all of it", "budget"),
    ({"personnel_cents": -1}, "budget.personnel_cents"),
    ({"travel_cents": True}, "budget.travel_cents"),
    ({"other_cents": 1.5}, "budget.other_cents"),
    ({"salaries_cents": 100}, "budget"),
])
def test_the_service_refuses_bad_budget_input_per_field(challenge, innovator, make_proposal, budget, field):
    proposal = make_proposal(challenge)
    before = _lines(proposal)
    with pytest.raises(ValidationFailed) as caught:
        services.update_proposal(actor=innovator, proposal=proposal, data={"budget": budget})
    assert field in caught.value.errors
    db.session.rollback()
    assert _lines(proposal) == before


def test_clean_budget_requires_every_category_when_asked():
    errors: dict[str, list[str]] = {}
    assert clean_budget({"personnel_cents": 0}, errors, field="spending", required=True) == {
        BudgetCategory.PERSONNEL: 0}
    assert set(errors) == {f"spending.{name}_cents" for name in CATEGORIES if name != "personnel"}


# --- the API ------------------------------------------------------------------------------------

def test_api_saves_replaces_and_clears_the_budget(client, challenge, innovator, api_headers):
    headers = api_headers(innovator)
    response = client.post(f"/api/v1/challenges/{challenge.id}/proposals",
                           json=complete_data(budget={"personnel_cents": 10_000_00, "travel_cents": 0}),
                           headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["budget"] == _budget(personnel=10_000_00, travel=0)
    url = f"/api/v1/proposals/{response.json['id']}"

    response = client.patch(url, json={"summary": "Kept"}, headers=headers)
    assert response.json["budget"] == _budget(personnel=10_000_00, travel=0)  # left out: unchanged

    response = client.post(f"{url}/submit", headers=headers)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "budget": ["The budget adds up to USD 10,000.00, not the USD 30,000.00 requested."]}

    response = client.patch(url, json={"budget": None}, headers=headers)
    assert response.status_code == 200 and response.json["budget"] == _budget()

    response = client.patch(url, json={"budget": budget_for(30_000_00)}, headers=headers)
    assert response.json["budget"] == budget_for(30_000_00)
    response = client.post(f"{url}/submit", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "submitted"


def test_api_bad_budget_is_a_422_per_field_and_changes_nothing(client, challenge, innovator, api_headers,
                                                               make_proposal):
    proposal = make_proposal(challenge)
    before = _lines(proposal)
    response = client.patch(f"/api/v1/proposals/{proposal.id}", headers=api_headers(innovator), json={
        "title": "Changed", "budget": {"personnel_cents": -1, "travel_cents": "ten", "salaries_cents": 5}})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert {"budget.personnel_cents", "budget.travel_cents", "budget.salaries_cents"} <= set(response.json["errors"])
    response = client.patch(f"/api/v1/proposals/{proposal.id}", headers=api_headers(innovator),
                            json={"budget": [{"category": "personnel", "amount_cents": 5}]})
    assert response.status_code == 422 and "budget._schema" in response.json["errors"]  # not an object
    db.session.expire_all()
    assert _lines(proposal) == before and proposal.title == "Solar water kiosks"


def test_the_openapi_document_describes_the_budget(client):
    spec = client.get("/api/v1/openapi.json").json
    patch = spec["components"]["schemas"]["ProposalPatch"]["properties"]["budget"]
    assert "replaces the whole budget" in str(patch)
    budget_in = spec["components"]["schemas"]["BudgetIn"]["properties"]
    assert set(budget_in) == {f"{name}_cents" for name in CATEGORIES}


# --- permissions are unchanged --------------------------------------------------------------------

def test_only_the_applicants_innovators_change_the_budget(client, login, challenge, innovator, people,
                                                          api_headers, make_proposal):
    proposal = make_proposal(challenge)
    before = _lines(proposal)
    url = f"/api/v1/proposals/{proposal.id}"
    body = {"budget": budget_for(1_00)}
    assert client.patch(url, json=body).status_code == 401  # anonymous
    assert client.patch(url, json=body, headers=api_headers(people["other_innovator"])).status_code == 404
    assert client.patch(url, json=body, headers=api_headers(people["fund_manager"])).status_code == 403
    assert client.patch(url, json=body, headers=api_headers(people["official"])).status_code in (403, 404)
    edit = f"/proposals/{proposal.id}/edit"
    anonymous = client.post(edit, data=_form(budget_personnel="1"))
    assert anonymous.status_code in (302, 400, 401)
    login(client, people["other_innovator"])
    assert client.get(edit).status_code == 404
    db.session.expire_all()
    assert _lines(proposal) == before
