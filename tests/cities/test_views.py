"""City profile pages: creation, verification, who may do what (the API: tests/api/test_cities.py)."""
import sqlalchemy as sa

from facility.cities.models import City
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.cities import KAMPALA, make_city


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
