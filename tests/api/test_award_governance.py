"""The API of award governance: `POST /proposals/{id}/award` with `override_reason`, `POST /grants/{id}/approve`,
and the grant's `award_override_reason`, `approvals` and `approvals_needed`."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.extensions import db
from facility.grants.models import Grant
from tests.factories.accounts import fresh_code
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401

REASON = "The city's panel could not sit before the rains; the committee reviewed it with the city."


@pytest.fixture
def scene(make_challenge, make_proposal, make_user, fund):
    def _make(*, recommended=True, amount=6_000_000):
        challenge = make_challenge(max_award_cents=10_000_000)
        proposal = make_proposal(challenge, amounts=(amount,), recommended=recommended)
        fund(challenge=challenge, pool=20_000_000)
        return proposal, make_user("fund_manager"), make_user("innovator", organization=proposal.organization)
    return _make


def test_an_award_the_panel_did_not_select_needs_a_reason(client, scene, api_headers, make_user):
    proposal, manager, grantee = scene(recommended=False, amount=1_000_000)
    url = f"/api/v1/proposals/{proposal.id}/award"
    headers = api_headers(manager)
    # The role first (403 before reading the body), then the state (409 says what to do), then the reason (422).
    assert client.post(url, json={"amount_cents": 1_000_000, "override_reason": REASON},
                       headers=api_headers(grantee)).status_code == 403
    refused = client.post(url, json={"amount_cents": 1_000_000}, headers=headers)
    assert refused.status_code == 409 and refused.content_type.startswith("application/problem+json")
    assert refused.json["detail"] == ("The panel's released decision does not select this proposal; give a reason "
                                      "to override.")
    short = client.post(url, json={"amount_cents": 1_000_000, "override_reason": "because"}, headers=headers)
    assert short.status_code == 422 and "override_reason" in short.json["errors"]
    too_long = client.post(url, json={"amount_cents": 1_000_000, "override_reason": "x" * 2001}, headers=headers)
    assert too_long.status_code == 422 and "override_reason" in too_long.json["errors"]
    assert client.post(url, json={"amount_cents": 1_000_000, "override_reason": None},
                       headers=headers).status_code == 409
    assert db.session.execute(sa.select(sa.func.count(Grant.id))).scalar_one() == 0
    done = client.post(url, json={"amount_cents": 1_000_000, "override_reason": REASON}, headers=headers)
    assert done.status_code == 201, done.json
    body = done.json
    assert body["status"] == "offered" and body["award_override_reason"] == REASON
    assert body["approvals"] == [] and body["approvals_needed"] is None  # below the approval threshold
    # Everyone sees that the award departs from the panel's decision, and why.
    public = client.get(f"/api/v1/grants/{body['id']}")
    assert public.status_code == 200 and public.json["award_override_reason"] == REASON
    assert "approvals" not in public.json
    assert db.session.execute(sa.select(sa.func.count(AuditEvent.id))
                              .where(AuditEvent.action == "grant.award_override")).scalar_one() == 1


def test_an_award_above_the_threshold_is_approved_through_the_api(client, scene, api_headers, make_user):
    proposal, manager, grantee = scene()
    awarded = client.post(f"/api/v1/proposals/{proposal.id}/award", json={"amount_cents": 6_000_000},
                          headers=api_headers(manager))
    assert awarded.status_code == 201, awarded.json
    grant = awarded.json
    assert grant["status"] == "pending_approval" and grant["award_override_reason"] is None
    needed = grant["approvals_needed"]
    assert (needed["count"], needed["required"], needed["senior"], needed["tier_up_to_cents"]) == (2, 2, 0, 50_000_000)
    assert needed["reasons"] and grant["approvals"] == []
    url = f"/api/v1/grants/{grant['id']}/approve"
    # The grantee may not accept while it awaits approval.
    assert client.post(f"/api/v1/grants/{grant['id']}/accept", headers=api_headers(grantee)).status_code == 409
    # Who may not approve: the one who awarded it (403), the grantee (403), a stranger (404), the signed-out (401).
    assert client.post(url, headers=api_headers(manager)).status_code == 403
    assert client.post(url, headers=api_headers(grantee)).status_code == 403
    assert client.post(url, headers=api_headers(make_user("innovator"))).status_code == 404
    assert client.post(url).status_code == 401
    first, second = make_user("fund_manager", name="Ana First"), make_user("fund_manager", name="Ben Second")
    # Two approvals needed: each approver proves a fresh factor (X-OTP).
    stale = client.post(url, headers=api_headers(first))
    assert stale.status_code == 403 and "X-OTP" in stale.json["detail"]
    approved = client.post(url, headers={**api_headers(first), "X-OTP": fresh_code(first)})
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "pending_approval" and approved.json["approvals_needed"]["count"] == 1
    (row,) = approved.json["approvals"]
    assert row["approver_id"] == first.id and row["name"] == "Ana First" and row["counts"] is True
    assert row["limit_cents"] == 50_000_000 and row["reason"] is None
    again = client.post(url, headers={**api_headers(first), "X-OTP": fresh_code(first)})
    assert again.status_code == 409
    mine = client.get(f"/api/v1/grants/{grant['id']}", headers=api_headers(grantee)).json
    assert [sorted(r) for r in mine["approvals"]] == [["counts", "created_at", "id", "reason"]]  # no names
    offered = client.post(url, headers={**api_headers(second), "X-OTP": fresh_code(second)})
    assert offered.status_code == 200 and offered.json["status"] == "offered"
    assert offered.json["approvals_needed"]["count"] == 0 and len(offered.json["approvals"]) == 2
    assert client.post(f"/api/v1/grants/{grant['id']}/accept", headers=api_headers(grantee)).json["status"] == "active"


def test_the_approve_endpoint_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    assert "post" in spec["paths"]["/api/v1/grants/{grant_id}/approve"]
    award = spec["paths"]["/api/v1/proposals/{proposal_id}/award"]["post"]
    assert "override_reason" in str(award) or "override_reason" in str(spec["components"])
