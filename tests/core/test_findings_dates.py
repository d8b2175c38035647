"""Finding: a date like `9999-12-31T23:59:59-12:00` in challenge and extension forms and the API was an
OverflowError (a 500) when turned into UTC; every date and time people give is now bounded."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import marshmallow as ma
import pytest

from facility.api.schemas import date_field, datetime_field
from facility.challenges.models import Challenge
from facility.core.inputs import MAX_YEAR, MIN_YEAR, date_in_range
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.challenges import challenge_json, make_challenge, two_cities
from tests.factories.ledger import fund_facility

FAR_AHEAD = ["9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59+00:00", "3000-01-01T00:00:00+00:00"]
FAR_BEHIND = ["0001-01-01T00:00:00+14:00", "1899-12-31T23:59:00+00:00"]


@pytest.fixture
def cities(app, clock):
    fund_facility()
    return two_cities()


@pytest.mark.parametrize("when", FAR_AHEAD + FAR_BEHIND)
@pytest.mark.parametrize("field", ["opens_at", "closes_at"])
def test_api_challenge_dates_out_of_range_are_422(cities, client, api_headers, field, when):
    payload = challenge_json(cities["city"].id)
    payload[field] = when
    response = client.post("/api/v1/challenges", json=payload, headers=api_headers(cities["official"]))
    assert response.status_code == 422, response.get_json()
    assert str(MAX_YEAR) in response.get_json()["errors"][field][0]
    assert db.session.query(Challenge).count() == 0


@pytest.mark.parametrize("when", FAR_AHEAD)
def test_api_deadline_extension_out_of_range_is_422(cities, client, api_headers, when):
    challenge = make_challenge(cities["city"], cities["official"], state="published",
                               fund_manager=cities["fund_manager"])
    before = challenge.closes_at
    response = client.post(f"/api/v1/challenges/{challenge.id}/deadline-extensions",
                           json={"new_closes_at": when, "reason": "Holidays"}, headers=api_headers(cities["official"]))
    assert response.status_code == 422 and "new_closes_at" in response.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(Challenge, challenge.id).closes_at == before


def _in_zone(user, zone: str) -> None:
    user.timezone = zone
    db.session.commit()


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "3000-01-01T00:00"])
def test_page_deadline_extension_out_of_range_is_a_form_error(cities, client, login, when):
    official = cities["official"]
    challenge = make_challenge(cities["city"], official, state="published", fund_manager=cities["fund_manager"])
    before = challenge.closes_at
    _in_zone(official, "Pacific/Pago_Pago")  # UTC-11: 9999-12-31T23:59 there is past year 9999 in UTC
    login(client, official)
    token = get_csrf(client, f"/challenges/{challenge.id}")
    response = client.post(f"/challenges/{challenge.id}/extend",
                           data={"csrf_token": token, "new_closes_at": when, "reason": "Holidays"})
    assert response.status_code == 422
    assert f"between the years {MIN_YEAR} and {MAX_YEAR}" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Challenge, challenge.id).closes_at == before


@pytest.mark.parametrize(("zone", "when"), [("Pacific/Pago_Pago", "9999-12-31T23:59"),
                                            ("Pacific/Kiritimati", "0001-01-01T00:00")])
def test_page_new_challenge_out_of_range_is_a_form_error(cities, client, login, zone, when):
    official = cities["official"]
    _in_zone(official, zone)
    login(client, official)
    token = get_csrf(client, "/challenges/new")
    data = {"csrf_token": token, "city_id": cities["city"].id, "title": "Safer routes", "summary": "Short summary",
            "description": "Long description", "focus_area": "inclusive_innovation", "sdg_targets": "11.2",
            "prize_pool": "500,000", "max_award": "100,000", "opens_at": "2027-01-01T00:00", "closes_at": when}
    response = client.post("/challenges/new", data=data)
    assert response.status_code == 422
    assert f"between the years {MIN_YEAR} and {MAX_YEAR}" in response.get_data(as_text=True)
    assert db.session.query(Challenge).count() == 0


class _Dates(ma.Schema):
    at = datetime_field()
    on = date_field()


@pytest.mark.parametrize("payload", [{"at": "9999-12-31T23:59:59-12:00"}, {"at": "0001-01-01T00:00:00+14:00"},
                                     {"on": "9999-12-31"}, {"on": "0001-01-01"}])
def test_api_date_fields_refuse_far_dates(app, payload):
    with app.test_request_context(), pytest.raises(ma.ValidationError) as refused:
        _Dates().load(payload)
    assert set(refused.value.messages) == set(payload)


def test_api_date_fields_take_real_dates(app):
    with app.test_request_context():
        loaded = _Dates().load({"at": "2027-06-30T17:00:00-12:00", "on": "2027-06-30"})
    assert loaded["on"] == date(2027, 6, 30) and loaded["at"].utcoffset() == timedelta(hours=-12)


@pytest.mark.parametrize(("value", "ok"), [
    (datetime(MAX_YEAR, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))), True),
    (datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC), False), (date(MIN_YEAR, 1, 1), True),
    (date(MIN_YEAR - 1, 12, 31), False), (None, True),
])
def test_date_in_range(value, ok):
    assert date_in_range(value) is ok
    if ok and isinstance(value, datetime):
        value.astimezone(UTC)  # the bound leaves room for any time-zone conversion
