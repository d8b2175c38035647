"""Per-criterion score descriptors: edited with the rubric (page and API), shown to reviewers beside the
scale and on the public challenge page; refused when too long."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.challenges.models import DESCRIPTOR_CHARS, Challenge
from facility.extensions import db
from facility.review.forms import review_form_class
from tests.conftest import get_csrf
from tests.factories.challenges import challenge_json, make_challenge, two_cities
from tests.factories.ledger import fund_facility
from tests.review.conftest import assign

LOW, MID, HIGH = "No evidence of reach", "Some wards reached", "Every ward reached"


@pytest.fixture
def cities(app, clock):
    fund_facility()
    return two_cities()


def _page_data(token: str, **criterion0) -> dict:
    data = {
        "csrf_token": token, "title": "Safer streets", "summary": "Fewer injuries.", "description": "**Why**",
        "focus_area": "inclusive_innovation", "sdg_targets": "11.2", "prize_pool": "500,000",
        "max_award": "100000", "opens_at": "2027-03-10T09:00", "closes_at": "2027-05-10T17:00",
        "criteria-0-name": "Impact", "criteria-0-weight": "60", "criteria-1-name": "Cost", "criteria-1-weight": "40",
    }
    data.update({f"criteria-0-{key}": value for key, value in criterion0.items()})
    return data


def test_page_round_trip(cities, client, login):
    login(client, cities["official"])
    token = get_csrf(client, "/challenges/new")
    response = client.post("/challenges/new", data=_page_data(
        token, descriptor_low=LOW, descriptor_mid=MID, descriptor_high=HIGH))
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    challenge = db.session.scalars(sa.select(Challenge)).one()
    impact, cost = challenge.criteria
    assert (impact.descriptor_low, impact.descriptor_mid, impact.descriptor_high) == (LOW, MID, HIGH)
    assert (cost.descriptor_low, cost.descriptor_mid, cost.descriptor_high) == ("", "", "")
    assert impact.score_bands == [(0, 3, LOW), (4, 6, MID), (7, 10, HIGH)] and cost.score_bands == []
    edit = client.get(f"/challenges/{challenge.id}/edit").get_data(as_text=True)
    assert f'value="{LOW}"' in edit and f'value="{HIGH}"' in edit
    page = client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    assert "What the scores mean" in page and f"0–3: {LOW}" in page and f"7–10: {HIGH}" in page


def test_page_refuses_a_descriptor_too_long(cities, client, login):
    login(client, cities["official"])
    token = get_csrf(client, "/challenges/new")
    response = client.post("/challenges/new", data=_page_data(token, descriptor_mid="x" * (DESCRIPTOR_CHARS + 1)))
    assert response.status_code == 422
    assert f"longer than {DESCRIPTOR_CHARS}" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


def test_public_page_without_descriptors_has_no_extra_column(cities, client):
    challenge = make_challenge(cities["city"], cities["official"], state="published",
                               fund_manager=cities["fund_manager"])
    page = client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    assert "What the scores mean" not in page


def test_api_round_trip(cities, client, api_headers):
    payload = challenge_json(cities["city"].id)
    payload["criteria"][0].update(descriptor_low=LOW, descriptor_high=HIGH)
    response = client.post("/api/v1/challenges", json=payload, headers=api_headers(cities["official"]))
    assert response.status_code == 201, response.get_json()
    first, second = response.get_json()["criteria"][:2]
    assert (first["descriptor_low"], first["descriptor_mid"], first["descriptor_high"]) == (LOW, "", HIGH)
    assert (second["descriptor_low"], second["descriptor_mid"], second["descriptor_high"]) == ("", "", "")
    got = client.get(f"/api/v1/challenges/{response.get_json()['id']}", headers=api_headers(cities["official"]))
    assert got.get_json()["criteria"][0]["descriptor_high"] == HIGH


def test_api_refuses_a_descriptor_too_long(cities, client, api_headers):
    payload = challenge_json(cities["city"].id)
    payload["criteria"][0]["descriptor_high"] = "x" * (DESCRIPTOR_CHARS + 1)
    response = client.post("/api/v1/challenges", json=payload, headers=api_headers(cities["official"]))
    assert response.status_code == 422
    assert "descriptor_high" in str(response.get_json())
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


def test_openapi_documents_the_descriptors(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    criterion_in = next(s for name, s in schemas.items() if name.startswith("CriterionIn"))
    assert {"descriptor_low", "descriptor_mid", "descriptor_high"} <= set(criterion_in["properties"])


def test_the_service_refuses_too_long_and_markup_stays_text(cities):
    from facility.challenges import services
    from facility.core.errors import ValidationFailed

    fields = challenge_json(cities["city"].id)
    fields.pop("city_id")
    fields["criteria"][0]["descriptor_low"] = "x" * (DESCRIPTOR_CHARS + 1)
    with pytest.raises(ValidationFailed) as refused:
        services.clean_challenge_fields(fields)
    assert "criteria.0.descriptor_low" in refused.value.errors


def test_review_form_shows_the_descriptors_beside_the_scale(world, client, login):
    c1, c2 = world.criteria
    c1.descriptor_low, c1.descriptor_mid, c1.descriptor_high = LOW, MID, "<script>alert(1)</script>"
    db.session.commit()
    a = assign(world, world.reviewers[0], world.proposals[0])
    login(client, world.reviewers[0])
    page = client.get(f"/review/assignments/{a.id}").get_data(as_text=True)
    assert f"0–3: {LOW}; 4–6: {MID}; 7–10: &lt;script&gt;" in page
    assert "<script>alert" not in page
    form = review_form_class([c1, c2], eligibility=False)(meta={"csrf": False})
    assert form[f"c_{c2.id}"].description == ""  # no descriptors, nothing extra
    assert form[f"c_{c1.id}"].description.startswith("0–3: ")


def test_the_reviewers_api_returns_the_descriptors(world, client, api_headers):
    c1, _c2 = world.criteria
    c1.descriptor_high = HIGH
    db.session.commit()
    assign(world, world.reviewers[0], world.proposals[0])
    body = client.get(f"/api/v1/proposals/{world.proposals[0].id}/review",
                      headers=api_headers(world.reviewers[0])).get_json()
    shown = {c["id"]: c for c in body["criteria"]}
    assert shown[c1.id]["descriptor_high"] == HIGH and shown[c1.id]["descriptor_low"] == ""
