"""Challenges through the API: creation, validation, the lifecycle, deadline extensions, clarifications
(pages and the API side by side: tests/challenges/test_views.py)."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.api.challenges import ChallengeRowFields, ChallengeSummarySchema
from facility.challenges.models import Challenge
from facility.extensions import db
from tests.factories import NOW
from tests.factories.challenges import challenge_json, make_challenge, two_cities
from tests.factories.cities import make_city
from tests.factories.ledger import fund_facility


@pytest.fixture
def world(app, clock):
    """Approvals take money: the facility holds USD 100 million (as in tests/challenges/conftest.py)."""
    fund_facility()
    return two_cities()


def _headers(api_headers, user):
    return api_headers(user) if user is not None else {}


# --- creation and validation ---------------------------------------------------------------------
def test_create_through_the_api(world, client, api_headers):
    response = client.post("/api/v1/challenges", json=challenge_json(world["city"].id),
                           headers=api_headers(world["official"]))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "draft" and body["phase"] is None
    assert body["closes_at"].endswith("+00:00")
    assert [c["weight"] for c in body["criteria"]] == [50, 30, 20]


def test_create_refusals(world, client, api_headers, make_user):
    payload = challenge_json(world["city"].id)
    assert client.post("/api/v1/challenges", json=payload).status_code == 401
    assert client.post("/api/v1/challenges", json=payload, headers=api_headers(world["innovator"])).status_code == 403
    assert client.post("/api/v1/challenges", json=payload,
                       headers=api_headers(world["fund_manager"])).status_code == 403
    # Another verified city's official: may see the city, may not draft for it.
    assert client.post("/api/v1/challenges", json=payload,
                       headers=api_headers(world["other_official"])).status_code == 403
    unverified, unverified_official = make_city(name="Recife", country="BRA", verified=False)
    assert client.post("/api/v1/challenges", json=challenge_json(unverified.id),
                       headers=api_headers(unverified_official)).status_code == 409
    assert client.post("/api/v1/challenges", json=challenge_json(unverified.id),
                       headers=api_headers(world["official"])).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


@pytest.mark.parametrize(("overrides", "field"), [
    (dict(criteria=[{"name": "A", "weight": 60}]), "criteria"),
    (dict(criteria=[{"name": "A", "weight": "heavy"}]), "criteria.0.weight"),
    (dict(max_award_cents=10**12), "max_award_cents"),
    (dict(prize_pool_cents="lots"), "prize_pool_cents"),
    (dict(closes_at="2027-05-01T12:00:00"), "closes_at"),
    (dict(closes_at="tomorrow"), "closes_at"),
    (dict(opens_at=(NOW + timedelta(days=70)).isoformat()), "closes_at"),
    (dict(sdg_targets=["11.9"]), "sdg_targets.0"),
    (dict(eligible_org_types=["cartel"]), "eligible_org_types.0"),
    (dict(eligible_countries=["XXX"]), "eligible_countries"),
    (dict(focus_area="space"), "focus_area"),
    (dict(title=None), "title"),
])
def test_api_validation_is_422_per_field(world, client, api_headers, overrides, field):
    response = client.post("/api/v1/challenges", json=challenge_json(world["city"].id, **overrides),
                           headers=api_headers(world["official"]))
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count(Challenge.id))) == 0


def test_missing_fields_are_listed(world, client, api_headers):
    response = client.post("/api/v1/challenges", json={"city_id": world["city"].id},
                           headers=api_headers(world["official"]))
    assert response.status_code == 422
    assert {"title", "criteria", "closes_at"} <= set(response.get_json()["errors"])


def test_patch_submit_approve_over_the_api(world, client, api_headers):
    official, fund_manager = world["official"], world["fund_manager"]
    challenge = make_challenge(world["city"], official)
    path = f"/api/v1/challenges/{challenge.id}"
    assert client.patch(path, json={"title": "New"}, headers=api_headers(world["other_official"])).status_code == 404
    assert client.patch(path, json={"title": "New"}, headers=api_headers(fund_manager)).status_code == 403
    response = client.patch(path, json={"title": "New title"}, headers=api_headers(official))
    assert response.status_code == 200 and response.get_json()["title"] == "New title"
    assert len(response.get_json()["criteria"]) == 3
    assert client.post(f"{path}/submit").status_code == 401
    assert client.post(f"{path}/submit", headers=api_headers(world["other_official"])).status_code == 404
    assert client.post(f"{path}/submit", headers=api_headers(official)).status_code == 200
    assert client.post(f"{path}/submit", headers=api_headers(official)).status_code == 409
    assert client.patch(path, json={"title": "Later"}, headers=api_headers(official)).status_code == 409
    assert client.post(f"{path}/approve", headers=api_headers(official)).status_code == 403
    assert client.post(f"{path}/approve", headers=api_headers(world["innovator"])).status_code == 403
    response = client.post(f"{path}/approve", headers=api_headers(fund_manager))
    assert response.status_code == 200 and response.get_json()["status"] == "published"
    assert client.post(f"{path}/approve", headers=api_headers(fund_manager)).status_code == 409


def test_deadline_extension_over_the_api(world, client, api_headers, run_jobs):
    challenge = make_challenge(world["city"], world["official"], state="published",
                               fund_manager=world["fund_manager"])
    path = f"/api/v1/challenges/{challenge.id}/deadline-extensions"
    later = (challenge.closes_at + timedelta(days=7)).isoformat()
    body = {"new_closes_at": later, "reason": "Public holidays"}
    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, headers=api_headers(world["innovator"])).status_code == 403
    assert client.post(path, json=body, headers=api_headers(world["other_official"])).status_code == 403
    earlier = {"new_closes_at": (challenge.closes_at - timedelta(days=1)).isoformat(), "reason": "x"}
    response = client.post(path, json=earlier, headers=api_headers(world["official"]))
    assert response.status_code == 422 and "new_closes_at" in response.get_json()["errors"]
    response = client.post(path, json=body, headers=api_headers(world["official"]))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["new_closes_at"] == later
    db.session.expire_all()
    assert db.session.get(Challenge, challenge.id).closes_at.isoformat() == later


def test_clarifications_over_the_api(world, client, api_headers):
    challenge = make_challenge(world["city"], world["official"], state="published",
                               fund_manager=world["fund_manager"])
    path = f"/api/v1/challenges/{challenge.id}/clarifications"
    assert client.post(path, json={"question": "Hi?"}).status_code == 401
    assert client.post(path, json={"question": ""}, headers=api_headers(world["innovator"])).status_code == 422
    response = client.post(path, json={"question": "SMS only?"}, headers=api_headers(world["innovator"]))
    assert response.status_code == 201 and response.get_json()["status"] == "open"
    qid = response.get_json()["id"]
    assert client.get(path).get_json()["total"] == 0  # unanswered: not public
    assert client.get(path, headers=api_headers(world["innovator"])).get_json()["total"] == 1
    assert client.get(path, headers=api_headers(world["fund_manager"])).get_json()["total"] == 1
    answer = f"/api/v1/clarifications/{qid}/answer"
    assert client.post(answer, json={"answer": "Yes"}).status_code == 401
    assert client.post(answer, json={"answer": "Yes"}, headers=api_headers(world["other_official"])).status_code == 404
    assert client.post(answer, json={"answer": "Yes"}, headers=api_headers(world["fund_manager"])).status_code == 403
    response = client.post(answer, json={"answer": "Yes."}, headers=api_headers(world["official"]))
    assert response.status_code == 200 and response.get_json()["status"] == "answered"
    public = client.get(path).get_json()
    assert public["total"] == 1 and public["items"][0]["answer"] == "Yes."
    assert "SMS only?" in client.get(f"/challenges/{challenge.id}").get_data(as_text=True)


# --- the list and the item -------------------------------------------------------------------------
LIST_FIELDS = {"id", "url", "city", "title", "summary", "focus_area", "sdg_targets", "prize_pool_cents",
               "max_award_cents", "opens_at", "closes_at", "status", "phase", "is_open"}
FULL_ONLY = {"description", "description_html", "criteria", "eligible_org_types", "eligible_countries",
             "submitted_at", "approved_at", "created_at"}


def test_the_list_sends_what_a_list_needs_and_the_item_the_full_text(world, client):
    challenge = make_challenge(world["city"], world["official"], state="published",
                               fund_manager=world["fund_manager"], description="## Water\n\nA **long** text.")
    db.session.expire_all()
    [row] = client.get("/api/v1/challenges").get_json()["items"]
    assert set(row) == LIST_FIELDS
    assert row["city"] == {"id": world["city"].id, "name": world["city"].name, "country": world["city"].country}
    assert (row["title"], row["focus_area"], sorted(row["sdg_targets"])) == (challenge.title, "inclusive_innovation",
                                                                              ["11.2", "3.6"])
    assert (row["status"], row["phase"], row["prize_pool_cents"]) == ("published", "upcoming", 50_000_000)
    assert row["url"] == f"/api/v1/challenges/{challenge.id}"
    item = client.get(row["url"]).get_json()
    assert set(item) >= FULL_ONLY | LIST_FIELDS
    assert item["description"] == "## Water\n\nA **long** text." and "<strong>long</strong>" in item["description_html"]
    assert [c["name"] for c in item["criteria"]] == ["Impact", "Feasibility", "Openness"]
    assert {name: item[name] for name in LIST_FIELDS - {"city"}} == {name: row[name] for name in LIST_FIELDS - {"city"}}


def test_the_openapi_document_describes_the_list_row_and_the_full_item(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    listed = spec["paths"]["/api/v1/challenges"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schemas[listed["$ref"].rsplit("/", 1)[1]]
    row = schemas[page["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(row["properties"]) == LIST_FIELDS
    item = spec["paths"]["/api/v1/challenges/{challenge_id}"]["get"]["responses"]["200"]["content"]
    full = schemas[item["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(full["properties"]) >= FULL_ONLY | LIST_FIELDS


def test_the_list_row_is_what_its_schema_would_dump(world, app, clock):
    """`summary_row` builds the list's rows by hand for speed: the same as marshmallow's dump of the fields
    the document shows, for a draft (no phase), an upcoming and an open challenge."""
    draft = make_challenge(world["city"], world["official"])
    upcoming = make_challenge(world["city"], world["official"], state="published", fund_manager=world["fund_manager"])
    clock.move_to(NOW + timedelta(days=2))
    challenges = [draft, upcoming]
    with app.test_request_context():
        assert ChallengeSummarySchema(many=True).dump(challenges) == ChallengeRowFields(many=True).dump(challenges)
        assert ChallengeSummarySchema().dump(upcoming) == ChallengeRowFields().dump(upcoming)
        assert ChallengeSummarySchema().dump(upcoming)["is_open"] is True
