"""The proposals API: drafting, PATCH, submit, withdraw, problem JSON and refusals."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.proposals.models import Proposal, ProposalStatus

# The proposals fixtures (a published challenge, its people, the clock at NOW), for this module only.
from tests.proposals.conftest import (  # noqa: F401
    AFTER_CLOSE,
    CLOSES,
    _frozen,
    challenge,
    city,
    complete_data,
    fund_manager,
    innovator,
    innovator_org,
    make_challenge,
    make_city,
    make_proposal,
    official,
    other_innovator,
    other_official,
    people,
    reviewer,
)


def _create(client, headers, challenge, data=None):
    return client.post(f"/api/v1/challenges/{challenge.id}/proposals", json=data or complete_data(), headers=headers)


def test_create_get_patch_submit_withdraw(client, challenge, innovator, api_headers, run_jobs):
    headers = api_headers(innovator)
    response = _create(client, headers, challenge)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "draft" and body["requested_cents"] == 30_000_00
    assert body["milestones"][1] | {"id": 0} == {"id": 0, "position": 2, "title": "Scale", "due_date": "2027-12-31",
                                                 "amount_cents": 20_000_00, "deliverable": "Ten kiosks"}
    assert body["organization"]["id"] == innovator.organization_id
    pid = body["id"]

    response = client.patch(f"/api/v1/proposals/{pid}", json={"summary": "Better water."}, headers=headers)
    assert response.status_code == 200 and response.get_json()["summary"] == "Better water."
    assert response.get_json()["title"] == "Solar water kiosks"  # untouched fields stay

    response = client.post(f"/api/v1/proposals/{pid}/submit", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "submitted"
    assert response.get_json()["snapshot_version"] == 1

    response = client.patch(f"/api/v1/proposals/{pid}", json={"title": "Late change"}, headers=headers)
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"

    run_jobs()
    db.session.expire_all()
    assert db.session.execute(sa.select(OutboundEmail.sent_at)).scalar_one() is not None

    response = client.post(f"/api/v1/proposals/{pid}/withdraw", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"


def test_partial_draft_via_api(client, challenge, innovator, api_headers):
    response = _create(client, api_headers(innovator), challenge, {"title": "Idea"})
    assert response.status_code == 201
    assert response.get_json()["milestones"] == []


def test_invalid_fields_give_422_and_nothing_changes(client, challenge, innovator, api_headers):
    bad = complete_data(requested_cents=-1, beneficiary_groups=["aliens"], milestones=[
        {"title": "x", "due_date": "not a date", "amount_cents": 1.5}])
    response = _create(client, api_headers(innovator), challenge, bad)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "requested_cents" in errors and "beneficiary_groups.0" in errors
    assert "milestones.0.due_date" in errors and "milestones.0.amount_cents" in errors
    assert db.session.query(Proposal).count() == 0


def test_unknown_field_and_malformed_json(client, challenge, innovator, api_headers):
    headers = api_headers(innovator)
    assert _create(client, headers, challenge, {"title": "x", "secret": 1}).status_code == 422
    response = client.post(f"/api/v1/challenges/{challenge.id}/proposals", data="{nope",
                           headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 400


def test_submit_reports_every_problem(client, challenge, innovator, api_headers):
    headers = api_headers(innovator)
    pid = _create(client, headers, challenge, {"title": "Idea", "requested_cents": 100}).get_json()["id"]
    response = client.post(f"/api/v1/proposals/{pid}/submit", headers=headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"summary", "approach", "privacy_impact", "beneficiary_groups", "milestones"} <= set(errors)
    db.session.expire_all()
    assert db.session.get(Proposal, pid).status == ProposalStatus.DRAFT


def test_submit_after_deadline_409(client, clock, challenge, innovator, api_headers, make_proposal):
    proposal = make_proposal(challenge)
    headers = api_headers(innovator)
    clock.move_to(CLOSES)
    response = client.post(f"/api/v1/proposals/{proposal.id}/submit", headers=headers)
    assert response.status_code == 409
    assert "deadline" in response.get_json()["detail"]
    assert client.post(f"/api/v1/proposals/{proposal.id}/withdraw", headers=headers).status_code == 409
    assert client.patch(f"/api/v1/proposals/{proposal.id}", json={"title": "x"}, headers=headers).status_code == 409


def test_create_on_closed_challenge_409(client, clock, challenge, innovator, api_headers):
    headers = api_headers(innovator)
    clock.move_to(AFTER_CLOSE)
    assert _create(client, headers, challenge).status_code == 409


def test_create_refusals(client, make_challenge, challenge, innovator, official, fund_manager, api_headers):
    assert _create(client, {}, challenge).status_code == 401
    assert _create(client, api_headers(official), challenge).status_code == 403
    assert _create(client, api_headers(fund_manager), challenge).status_code == 403
    from facility.challenges.models import ChallengeStatus

    hidden = make_challenge(status=ChallengeStatus.DRAFT)
    assert _create(client, api_headers(innovator), hidden).status_code == 404
    assert client.post("/api/v1/challenges/999999/proposals", json=complete_data(),
                       headers=api_headers(innovator)).status_code == 404


def test_second_proposal_from_same_org_409(client, challenge, innovator, api_headers, make_proposal):
    make_proposal(challenge)
    assert _create(client, api_headers(innovator), challenge).status_code == 409


@pytest.mark.parametrize("method,suffix,body", [
    ("get", "", None), ("patch", "", {"title": "Mine"}), ("post", "/submit", None), ("post", "/withdraw", None),
])
def test_other_org_and_anonymous_refused(client, challenge, make_proposal, other_innovator, official,
                                         reviewer, api_headers, method, suffix, body):
    proposal = make_proposal(challenge)
    url = f"/api/v1/proposals/{proposal.id}{suffix}"
    kwargs = {"json": body} if body is not None else {}
    assert getattr(client, method)(url, **kwargs).status_code == 401
    for user in (other_innovator, official, reviewer):
        response = getattr(client, method)(url, headers=api_headers(user), **kwargs)
        assert response.status_code == 404, (user.email, response.get_json())
    db.session.expire_all()
    assert db.session.get(Proposal, proposal.id).title == "Solar water kiosks"
    assert db.session.get(Proposal, proposal.id).status == ProposalStatus.DRAFT


def test_fund_manager_sees_but_may_not_act(client, challenge, make_proposal, fund_manager, api_headers):
    proposal = make_proposal(challenge)
    headers = api_headers(fund_manager)
    assert client.get(f"/api/v1/proposals/{proposal.id}", headers=headers).status_code == 200
    assert client.patch(f"/api/v1/proposals/{proposal.id}", json={"title": "x"}, headers=headers).status_code == 403
    assert client.post(f"/api/v1/proposals/{proposal.id}/submit", headers=headers).status_code == 403
    assert client.post(f"/api/v1/proposals/{proposal.id}/withdraw", headers=headers).status_code == 403


def test_challenge_proposals_list(client, clock, challenge, make_proposal, other_innovator, fund_manager,
                                  official, other_official, innovator, api_headers):
    make_proposal(challenge, submit=True)
    make_proposal(challenge, user=other_innovator)  # a draft
    url = f"/api/v1/challenges/{challenge.id}/proposals"
    body = client.get(url, headers=api_headers(fund_manager)).get_json()
    assert body["total"] == 2 and {p["status"] for p in body["items"]} == {"draft", "submitted"}
    assert client.get(url, headers=api_headers(official)).status_code == 404  # before the deadline
    assert client.get(url, headers=api_headers(innovator)).status_code == 404
    assert client.get(url).status_code == 401
    clock.move_to(AFTER_CLOSE)
    body = client.get(url, headers=api_headers(official)).get_json()
    assert body["total"] == 1 and body["items"][0]["status"] == "submitted"
    assert client.get(url, headers=api_headers(other_official)).status_code == 404


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/challenges/{challenge_id}/proposals" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/proposals/{proposal_id}/submit"]
    assert "patch" in spec["paths"]["/api/v1/proposals/{proposal_id}"]


def test_double_submit_at_once_makes_one_snapshot(app, challenge, innovator, make_proposal, api_headers,
                                                  monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    from facility.proposals import services
    from facility.proposals.models import ProposalSnapshot

    checks = services.submission_problems

    def slow_checks(*args, **kwargs):
        time.sleep(0.3)  # widen the window in which two submits could both see a draft
        return checks(*args, **kwargs)

    monkeypatch.setattr(services, "submission_problems", slow_checks)

    proposal = make_proposal(challenge)
    tokens = [api_headers(innovator) for _ in range(4)]  # one each: token bookkeeping must not serialise them
    url = f"/api/v1/proposals/{proposal.id}/submit"
    db.session.commit()

    def submit(i):
        return app.test_client().post(url, headers=tokens[i]).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(submit, range(4)))
    assert codes == [200, 409, 409, 409]
    db.session.expire_all()
    assert db.session.query(ProposalSnapshot).filter_by(proposal_id=proposal.id).count() == 1
