"""City profiles through the API: creation, validation, verification, who may see an unverified city."""
import sqlalchemy as sa

from facility.accounts.models import OrgKind, User
from facility.audit.models import AuditEvent
from facility.cities.models import City
from facility.cities.policy import is_official
from facility.extensions import db
from tests.factories.cities import KAMPALA, make_city


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
