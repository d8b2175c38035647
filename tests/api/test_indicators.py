"""The indicators API: a grant's indicators with their latest verified values, readings reported by the grantee
and verified by a fund manager, payment conditions; every write refuses the wrong role and organisation, and
garbage gets a 422."""
from __future__ import annotations

from facility.extensions import db
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401 - fixtures
from tests.grants.test_indicators import measured  # noqa: F401 - the fixture

API = "/api/v1"


def test_report_verify_and_condition_through_the_api(measured, client, api_headers, make_user):  # noqa: F811
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    as_grantee, as_manager = api_headers(grantee), api_headers(manager)
    listed = client.get(f"{API}/grants/{grant.id}/indicators", headers=as_grantee).get_json()["items"]
    assert [(i["code"], i["baseline"], i["target"], i["latest_verified_value"]) for i in listed] == [
        ("EC: I: WS: 1C", "40", "80", None), ("11.6.1", "40", "60", None)]

    url = f"{API}/tranches/{tranche.id}/readings"
    for garbage in ({}, {"code": "EC: I: WS: 1C"}, {"code": "EC: I: WS: 1C", "value": "many"},
                    {"code": "nope", "value": 1}, {"code": ["x"], "value": 1}, {"code": "EC: I: WS: 1C", "value": 1e300}):
        response = client.post(url, json=garbage, headers=as_grantee)
        assert response.status_code == 422, (garbage, response.get_json())
    reported = client.post(url, json={"code": "EC: I: WS: 1C", "value": "85.5", "note": "Survey"}, headers=as_grantee)
    assert reported.status_code == 201 and reported.get_json()["status"] == "submitted"
    assert client.post(url, json={"code": "EC: I: WS: 1C", "value": 86}, headers=as_grantee).status_code == 409

    review = f"{API}/tranches/{tranche.id}/readings/review"
    assert client.post(review, json={"code": "EC: I: WS: 1C", "decision": "maybe"}, headers=as_manager).status_code == 422
    assert client.post(review, json={"code": "EC: I: WS: 1C", "decision": "verified"},
                       headers=as_grantee).status_code == 403
    done = client.post(review, json={"code": "EC: I: WS: 1C", "decision": "verified"}, headers=as_manager)
    assert done.status_code == 200 and done.get_json()["status"] == "verified"
    assert client.post(review, json={"code": "EC: I: WS: 1C", "decision": "verified"},
                       headers=as_manager).status_code == 409

    condition = f"{API}/tranches/{tranche.id}/conditions"
    assert client.post(condition, json={"code": "EC: I: WS: 1C", "is_condition": "perhaps"},
                       headers=as_manager).status_code == 422
    assert client.post(condition, json={"code": "EC: I: WS: 1C", "is_condition": True},
                       headers=as_grantee).status_code == 403
    set_ = client.post(condition, json={"code": "EC: I: WS: 1C", "is_condition": True}, headers=as_manager)
    assert set_.status_code == 200 and set_.get_json()["is_condition"] is True and set_.get_json()["reached"] is True
    listed = client.get(f"{API}/grants/{grant.id}/indicators", headers=as_manager).get_json()["items"]
    assert listed[0]["latest_verified_value"] == "85.5" and listed[0]["readings"][0]["value"] == "85.5"


def test_others_are_refused(measured, client, api_headers, make_user, make_org):  # noqa: F811
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    outsider = api_headers(make_user("innovator", organization=make_org(name="Nosy Ltd")))
    body = {"code": "EC: I: WS: 1C", "value": 1}
    assert client.get(f"{API}/grants/{grant.id}/indicators").status_code == 401
    assert client.get(f"{API}/grants/{grant.id}/indicators", headers=outsider).status_code == 404
    assert client.post(f"{API}/tranches/{tranche.id}/readings", json=body).status_code == 401
    assert client.post(f"{API}/tranches/{tranche.id}/readings", json=body, headers=outsider).status_code == 404
    assert client.post(f"{API}/tranches/{tranche.id}/readings", json=body,
                       headers=api_headers(manager)).status_code == 403
    auditor = api_headers(make_user("auditor"))
    assert client.get(f"{API}/grants/{grant.id}/indicators", headers=auditor).status_code == 200
    assert client.post(f"{API}/tranches/{tranche.id}/conditions", json={"code": "EC: I: WS: 1C", "is_condition": True},
                       headers=auditor).status_code == 403
    assert client.post(f"{API}/tranches/{tranche.id}/readings/review",
                       json={"code": "EC: I: WS: 1C", "decision": "verified"}, headers=outsider).status_code == 404
    db.session.rollback()


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    for path in ("/api/v1/indicators", "/api/v1/grants/{grant_id}/indicators", "/api/v1/tranches/{tranche_id}/readings",
                 "/api/v1/tranches/{tranche_id}/readings/review", "/api/v1/tranches/{tranche_id}/conditions",
                 "/api/v1/proposals/{proposal_id}/milestone-indicators"):
        assert path in paths or path.removeprefix("/api/v1") in paths, path
