"""The bounds and guards of facility.core.inputs and the one dollar parser of facility.core.forms."""
from __future__ import annotations

import pytest

from facility.core.forms import parse_usd
from facility.core.inputs import MAX_CENTS, MAX_ID, MAX_PAGE, bounded_int, unstorable


@pytest.mark.parametrize(("text", "expected"), [
    ("7", 7), (" 12 ", 12), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("0", None), ("-3", None),
    ("abc", None), ("", None), (None, None), ("1e3", None), ("²", None), ("9" * 5000, None), ("١٢", 12),
])
def test_bounded_int(text, expected):
    assert bounded_int(text, minimum=1, maximum=MAX_ID) == expected


@pytest.mark.parametrize(("text", "cents"), [
    ("1250.50", 125050), ("1,250.5", 125050), ("$ 1 250", 125000), ("USD 3", 300), ("", None),
    (str(MAX_CENTS // 100), MAX_CENTS),
])
def test_parse_usd_accepts(app, text, cents):
    with app.test_request_context():
        assert parse_usd(text) == cents


@pytest.mark.parametrize("text", ["abc", "NaN", "sNaN", "Infinity", "1.234", "0", "-5", str(10**30), "1e400", "1.000",
                                  str(MAX_CENTS // 100 + 1)])
def test_parse_usd_refuses_with_a_message(app, text):
    with app.test_request_context(), pytest.raises(ValueError, match="."):
        parse_usd(text)


def test_parse_usd_zero_when_allowed(app):
    with app.test_request_context():
        assert parse_usd("0", allow_zero=True) == 0


@pytest.mark.parametrize(("text", "bad"), [("fine", False), ("a\x00b", True), ("\ud800", True), ("é 中", False)])
def test_unstorable(text, bad):
    assert unstorable(text) is bad


def test_huge_ids_match_no_route(client):
    assert client.get(f"/cities/{MAX_ID + 1}").status_code == 404
    assert client.get("/cities/99999999999999999999").status_code == 404
    assert client.get(f"/api/v1/cities/{MAX_ID + 1}").status_code == 404
    assert client.get(f"/api/v1/cities/{MAX_ID}").status_code == 404


def test_openapi_documents_the_id_bound(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    param = spec["paths"]["/api/v1/cities/{city_id}"]["parameters"][0]
    assert param["schema"]["maximum"] == MAX_ID


def test_page_argument_is_bounded(client):
    for page in ("abc", "-1", str(10**20), str(MAX_PAGE)):
        assert client.get("/challenges", query_string={"page": page}).status_code == 200
    assert client.get("/api/v1/challenges", query_string={"page": str(MAX_PAGE + 1)}).status_code == 422


def test_nul_in_a_page_form_is_refused_and_named(client):
    response = client.get("/challenges", query_string={"q": "a\x00b"})
    assert response.status_code == 422
    assert "cannot be stored: q." in response.get_data(as_text=True)


def test_nul_in_api_json_is_refused_per_field(client, make_user, api_headers):
    headers = api_headers(make_user("city_official"))
    response = client.post("/api/v1/cities", headers=headers,
                           json={"name": "Kam\x00pala", "country": "UGA", "population": 10,
                                 "informal_settlement_share_pct": 5, "climate_risk": "low", "x": {"k\x00": 1}})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert set(response.get_json()["errors"]) == {"name", "x"}


def test_anonymous_gets_401_before_body_validation(client):
    response = client.post("/api/v1/cities", json={"name": ""})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/cities").status_code == 200  # @public
