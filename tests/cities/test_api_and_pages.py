"""City profiles through the API and pages: creation, verification, who may do what."""
import sqlalchemy as sa

from facility.accounts.models import OrgKind, User
from facility.audit.models import AuditEvent
from facility.cities.models import City
from facility.cities.policy import is_official
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.cities import make_city

KAMPALA = {"name": "Kampala", "country": "UGA", "population": 1_700_000, "informal_settlement_share_pct": 60,
           "climate_risk": "high"}


def test_official_creates_a_city_and_joins_its_organisation(client, make_user, api_headers):
    official = make_user("city_official")
    response = client.post("/api/v1/cities", json=KAMPALA, headers=api_headers(official))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["size_class"] == "large"
    assert body["country_groups"] == ["LDC", "LLDC"]
    assert body["global_south"] is True
    assert body["priority_score"] == 67
    assert body["is_verified"] is False
    db.session.expire_all()
    city = db.session.get(City, body["id"])
    assert city.organization.kind == OrgKind.CITY
    assert db.session.get(User, official.id).organization_id == city.organization_id
    assert is_official(db.session.get(User, official.id), city)
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "city.created"))


def test_city_validation_is_422_per_field_and_changes_nothing(client, make_user, api_headers):
    official = make_user("city_official")
    bad = dict(KAMPALA, country="XYZ", population=0, informal_settlement_share_pct=101, climate_risk="extreme")
    response = client.post("/api/v1/cities", json=bad, headers=api_headers(official))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"population", "informal_settlement_share_pct", "climate_risk"} <= set(errors)
    response = client.post("/api/v1/cities", json=dict(KAMPALA, country="XYZ"), headers=api_headers(official))
    assert response.status_code == 422 and "country" in response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count(City.id))) == 0


def test_city_creation_refusals(client, make_user, api_headers):
    assert client.post("/api/v1/cities", json=KAMPALA).status_code == 401
    innovator = make_user("innovator")
    assert client.post("/api/v1/cities", json=KAMPALA, headers=api_headers(innovator)).status_code == 403
    _, official = make_city()
    # An official already in a city organisation cannot create a second city.
    response = client.post("/api/v1/cities", json=dict(KAMPALA, name="Entebbe"), headers=api_headers(official))
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(City.id))) == 1


def test_verification_by_fund_manager_only(client, make_user, api_headers):
    city, official = make_city(verified=False)
    other_city, other_official = make_city(name="Suva", country="FJI")
    fund_manager = make_user("fund_manager")
    assert client.post(f"/api/v1/cities/{city.id}/verify").status_code == 401
    assert client.post(f"/api/v1/cities/{city.id}/verify", headers=api_headers(official)).status_code == 403
    assert client.post(f"/api/v1/cities/{city.id}/verify", headers=api_headers(other_official)).status_code == 403
    response = client.post(f"/api/v1/cities/{city.id}/verify", headers=api_headers(fund_manager))
    assert response.status_code == 200 and response.get_json()["is_verified"] is True
    again = client.post(f"/api/v1/cities/{city.id}/verify", headers=api_headers(fund_manager))
    assert again.status_code == 409
    assert client.post("/api/v1/cities/9999/verify", headers=api_headers(fund_manager)).status_code == 404


def test_unverified_city_is_hidden_from_others(client, make_user, api_headers):
    city, official = make_city(verified=False)
    _, other_official = make_city(name="Suva", country="FJI")
    assert client.get(f"/api/v1/cities/{city.id}").status_code == 404
    assert client.get(f"/api/v1/cities/{city.id}", headers=api_headers(other_official)).status_code == 404
    assert client.get(f"/api/v1/cities/{city.id}", headers=api_headers(official)).status_code == 200
    assert client.get(f"/api/v1/cities/{city.id}", headers=api_headers(make_user("fund_manager"))).status_code == 200
    assert client.get(f"/cities/{city.id}").status_code == 404


def test_city_page_explains_the_priority_score(client, make_user):
    city, _ = make_city()
    html = client.get(f"/cities/{city.id}").get_data(as_text=True)
    assert "Why this city ranks here" in html
    assert "67" in html and "LDC, LLDC" in html


def test_city_profile_page_create(client, make_user, login):
    official = make_user("city_official")
    login(client, official)
    token = get_csrf(client, "/cities/new")
    bad = client.post("/cities/new", data=dict(KAMPALA, population="-5", csrf_token=token))
    assert bad.status_code == 422
    response = client.post("/cities/new", data=dict(KAMPALA, csrf_token=token))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(City.name)) == "Kampala"


def test_city_pages_refuse_wrong_people(client, make_user, login):
    city, official = make_city(verified=False)
    _, other_official = make_city(name="Suva", country="FJI")
    assert client.get("/cities/new").status_code == 302  # anonymous: sign in
    assert client.get("/cities/verification").status_code == 302
    login(client, make_user("innovator"))
    assert client.get("/cities/new").status_code == 403
    assert client.get("/cities/verification").status_code == 403
    other = client.application.test_client()
    login(other, other_official)
    assert other.get(f"/cities/{city.id}/edit").status_code == 404
    token = get_csrf(other, "/profile")
    assert other.post(f"/cities/{city.id}/verify", data={"csrf_token": token}).status_code == 403


def test_verification_queue_sorted_by_priority(client, make_user, login):
    lyon, _ = make_city(name="Lyon", country="FRA", population=1_430_000, share=2, risk="medium",
                        verified=False)
    suva, _ = make_city(name="Suva", country="FJI", population=94_000, share=25, verified=False)
    kampala, _ = make_city(verified=False)
    login(client, make_user("fund_manager"))
    html = client.get("/cities/verification").get_data(as_text=True)
    assert html.index("Suva") < html.index("Kampala") < html.index("Lyon")
    token = get_csrf(client, "/cities/verification")
    response = client.post(f"/cities/{kampala.id}/verify", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(City, kampala.id).is_verified


def test_official_edits_own_city(client, make_user, login):
    city, official = make_city()
    login(client, official)
    token = get_csrf(client, f"/cities/{city.id}/edit")
    data = dict(KAMPALA, population="400000", csrf_token=token)
    assert client.post(f"/cities/{city.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(City, city.id).size_class.value == "small"
