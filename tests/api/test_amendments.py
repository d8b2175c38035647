"""The amendments API: propose the whole new schedule, approve, accept, reject; per-field 422s, 409 for state."""
# ruff: noqa: F811 - test arguments name the fixtures imported below
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.extensions import db
from facility.grants.amendment_models import GrantAmendment
from facility.grants.models import TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, pool_code
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401
from tests.grants.test_amendments import amendable  # noqa: F401


def _schedule(grant, **changes):
    rows = []
    for tranche in grant.tranches:
        change = changes.get(f"t{tranche.position}", {})
        if change is None:
            continue
        rows.append({"id": tranche.id, "title": tranche.title, "amount_cents": tranche.amount_cents,
                     "due_date": tranche.due_date.isoformat() if tranche.due_date else None, **change})
    return rows


def test_propose_approve_accept(client, amendable, api_headers):
    grant, author, approver, grantee = amendable
    body = {"reason": "A third district joins",
            "tranches": [*_schedule(grant), {"title": "Third district", "amount_cents": 700_000, "due_date": "2027-10-01"}]}
    created = client.post(f"/api/v1/grants/{grant.id}/amendments", json=body, headers=api_headers(author))
    assert created.status_code == 201, created.json
    amendment = created.json
    assert amendment["status"] == "pending" and amendment["change_cents"] == 700_000
    assert amendment["approvals_needed"]["count"] == 1 and amendment["approvals_needed"]["reasons"]
    assert [row["tranche_id"] for row in amendment["tranches"]][-1] is None
    path = f"/api/v1/amendments/{amendment['id']}"
    assert client.get(path, headers=api_headers(grantee)).json["status"] == "pending"
    assert client.post(path + "/accept", headers=api_headers(grantee)).status_code == 409  # not approved yet
    assert client.post(path + "/approve", headers=api_headers(author)).status_code == 403  # its author
    approved = client.post(path + "/approve", headers=api_headers(approver))
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert approved.json["approvals_needed"]["count"] == 0 and len(approved.json["approvals"]) == 1
    assert client.post(path + "/approve", headers=api_headers(approver)).status_code == 409
    pool = balance(pool_code(grant.challenge_id))
    accepted = client.post(path + "/accept", headers=api_headers(grantee))
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    assert accepted.json["ledger_transaction_id"] is not None
    assert balance(pool_code(grant.challenge_id)) == pool - 700_000
    assert balance(commitment_code(grant.id)) == 3_700_000
    full = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(grantee)).json
    assert full["amount_cents"] == 3_700_000 and len(full["tranches"]) == 3
    assert [(a["number"], a["status"]) for a in full["amendments"]] == [(1, "accepted")]
    public = client.get(f"/api/v1/grants/{grant.id}").json
    assert [(a["number"], a["old_total_cents"], a["new_total_cents"]) for a in public["amendment_history"]] == [
        (1, 3_000_000, 3_700_000)]
    assert "reason" in public["amendment_history"][0] and "amendments" not in public


def test_a_small_decrease_is_approved_at_once(client, amendable, api_headers):
    grant, author, _approver, grantee = amendable
    created = client.post(f"/api/v1/grants/{grant.id}/amendments", headers=api_headers(author), json={
        "reason": "Cheaper", "tranches": _schedule(grant, t2={"amount_cents": 1_900_000})})
    assert created.status_code == 201 and created.json["status"] == "approved"
    assert created.json["approvals_needed"] is None
    assert client.post(f"/api/v1/amendments/{created.json['id']}/accept",
                       headers=api_headers(grantee)).json["status"] == "accepted"


def test_per_field_errors_and_conflicts(client, amendable, api_headers):
    grant, author, _approver, _grantee = amendable
    url = f"/api/v1/grants/{grant.id}/amendments"
    bad = client.post(url, headers=api_headers(author), json={
        "reason": "x", "tranches": [{"title": "A", "amount_cents": 0}, {"title": "", "amount_cents": "x"}]})
    assert bad.status_code == 422
    assert {"tranches.0.amount_cents", "tranches.1.title", "tranches.1.amount_cents"} <= set(bad.json["errors"])
    unknown = client.post(url, headers=api_headers(author), json={
        "reason": "x", "tranches": [{"id": 999_999, "title": "A", "amount_cents": 5}]})
    assert unknown.status_code == 422 and "tranches.0.id" in unknown.json["errors"]
    assert client.post(url, headers=api_headers(author), json={"tranches": _schedule(grant)}).status_code == 422
    same = client.post(url, headers=api_headers(author), json={"reason": "x", "tranches": _schedule(grant)})
    assert same.status_code == 422
    grant.tranches[0].status = TrancheStatus.PAID  # the scene: paid already
    db.session.commit()
    paid = client.post(url, headers=api_headers(author), json={
        "reason": "x", "tranches": _schedule(grant, t1={"amount_cents": 1})})
    assert paid.status_code == 409 and "cannot be changed" in paid.json["detail"]
    ok = client.post(url, headers=api_headers(author), json={"reason": "x", "tranches": _schedule(grant, t2={"title": "B"})})
    assert ok.status_code == 201
    again = client.post(url, headers=api_headers(author), json={"reason": "y", "tranches": _schedule(grant, t2={"title": "C"})})
    assert again.status_code == 409 and "still open" in again.json["detail"]
    assert db.session.execute(sa.select(sa.func.count(GrantAmendment.id))).scalar_one() == 1


def test_the_pool_guard_answers_409_and_nothing_changes(client, amendable, api_headers):
    grant, author, approver, grantee = amendable
    held = balance(pool_code(grant.challenge_id))
    created = client.post(f"/api/v1/grants/{grant.id}/amendments", headers=api_headers(author), json={
        "reason": "Much more", "tranches": _schedule(grant, t2={"amount_cents": 2_000_000 + held + 100})}).json
    path = f"/api/v1/amendments/{created['id']}"
    assert client.post(path + "/approve", headers=api_headers(approver)).status_code == 200
    short = client.post(path + "/accept", headers=api_headers(grantee))
    assert short.status_code == 409 and "short by" in short.json["detail"]
    assert client.get(path, headers=api_headers(grantee)).json["status"] == "approved"
    assert balance(pool_code(grant.challenge_id)) == held and balance(commitment_code(grant.id)) == 3_000_000
    rejected = client.post(path + "/reject", headers=api_headers(grantee), json={"reason": "Not now"})
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    assert rejected.json["rejection_reason"] == "Not now"
    assert client.post(path + "/reject", headers=api_headers(grantee), json={"reason": "x"}).status_code == 409


def test_who_may_call(client, amendable, api_headers, make_user, make_org):
    grant, author, approver, grantee = amendable
    other = make_user("innovator", organization=make_org(name="Other", kind=OrgKind.INNOVATOR))
    donor = make_user("donor")
    url = f"/api/v1/grants/{grant.id}/amendments"
    body = {"reason": "x", "tranches": _schedule(grant, t2={"title": "B"})}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=api_headers(grantee)).status_code == 403
    assert client.post(url, json=body, headers=api_headers(other)).status_code == 404
    assert client.post(url, json=body, headers=api_headers(donor)).status_code == 404
    created = client.post(url, json=body, headers=api_headers(author)).json
    path = f"/api/v1/amendments/{created['id']}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=api_headers(other)).status_code == 404
    assert client.post(path + "/accept", headers=api_headers(other)).status_code == 404
    assert client.post(path + "/accept", headers=api_headers(author)).status_code == 403
    assert client.post(path + "/reject", json={"reason": "x"}, headers=api_headers(other)).status_code == 404
    assert client.post(path + "/approve", headers=api_headers(grantee)).status_code == 403
    assert client.post(path + "/approve").status_code == 401


def test_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/grants/{grant_id}/amendments", "/api/v1/amendments/{amendment_id}",
                 "/api/v1/amendments/{amendment_id}/approve", "/api/v1/amendments/{amendment_id}/accept",
                 "/api/v1/amendments/{amendment_id}/reject"):
        assert path in paths, path
