"""The API of cancellation and refunds: POST /grants/{id}/cancel and /grants/{id}/refunds, and GET /grants/{id}
showing them (the public view without bank references); both in the OpenAPI document."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the packages' conftest
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from facility.core.models import utcnow
from facility.disbursements import payments, requests
from facility.disbursements.rails import PaymentStatus, RailResult
from facility.extensions import db
from facility.grants.models import GrantRefund
from facility.ledger.verify import verify_ledger
from tests.disbursements.conftest import fake_stripe, fake_stripe_server, payable, paying_app  # noqa: F401
from tests.grants.conftest import fund, grant_setup, make_challenge, make_proposal  # noqa: F401

PROBLEM = "application/problem+json"
TODAY = utcnow().date().isoformat()


def _pay_first_tranche(grant, requester, approver):
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    payments.claim_disbursement(disbursement_id=d.id)
    payments.record_payment_result(disbursement_id=d.id, enqueue=lambda *a, **k: None,
                                   result=RailResult(PaymentStatus.PAID, provider_reference="tr_api_refund"))
    db.session.commit()


def test_cancel_a_grant(client, grant_setup, api_headers, make_user):
    grant, manager, grantee = grant_setup
    path = f"/api/v1/grants/{grant.id}/cancel"
    assert client.post(path, json={"reason": "x"}).status_code == 401
    refused = client.post(path, json={"reason": "x"}, headers=api_headers(grantee))
    assert refused.status_code == 403 and refused.content_type == PROBLEM
    assert client.post(path, json={"reason": "x"}, headers=api_headers(make_user("auditor"))).status_code == 403
    headers = api_headers(manager)
    missing = client.post(path, json={}, headers=headers)
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    blank = client.post(path, json={"reason": "   "}, headers=headers)
    assert blank.status_code == 422 and blank.content_type == PROBLEM

    done = client.post(path, json={"reason": "The grantee withdrew."}, headers=headers)
    assert done.status_code == 200, done.json
    body = done.json
    assert body["id"] == grant.id and body["status"] == "cancelled"
    assert body["cancel_reason"] == "The grantee withdrew." and body["cancelled_at"]
    assert {t["status"] for t in body["tranches"]} == {"cancelled"} and body["refunds"] == []
    again = client.post(path, json={"reason": "Again."}, headers=headers)
    assert again.status_code == 409 and again.content_type == PROBLEM
    public = client.get(f"/api/v1/grants/{grant.id}").json
    assert public["status"] == "cancelled" and public["cancel_reason"] == "The grantee withdrew."
    assert public["cancelled_at"] and public["refunds"] == []
    assert verify_ledger() == []


def test_a_missing_grant_is_404(client, grant_setup, api_headers):
    _, manager, _ = grant_setup
    headers = api_headers(manager)
    assert client.post("/api/v1/grants/999999/cancel", json={"reason": "x"}, headers=headers).status_code == 404
    assert client.post("/api/v1/grants/999999/refunds", json={"amount_cents": 1, "bank_reference": "X",
                                                            "received_on": TODAY}, headers=headers).status_code == 404


def test_record_a_refund_and_read_it_in_both_views(client, payable, api_headers):
    grant, requester, approver, grantee = payable()
    path = f"/api/v1/grants/{grant.id}/refunds"
    body = {"amount_cents": 400_000, "bank_reference": "FT-API-1", "received_on": TODAY}
    headers = api_headers(approver)
    early = client.post(path, json=body, headers=headers)
    assert early.status_code == 409 and early.content_type == PROBLEM  # nothing paid yet
    _pay_first_tranche(grant, requester, approver)

    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, headers=api_headers(grantee)).status_code == 403
    future = client.post(path, json={**body, "received_on": (utcnow().date() + timedelta(days=2)).isoformat()},
                         headers=headers)
    assert future.status_code == 422 and "received_on" in future.json["errors"]
    too_much = client.post(path, json={**body, "amount_cents": 1_000_001}, headers=headers)
    assert too_much.status_code == 422 and "amount_cents" in too_much.json["errors"]
    bad_destination = client.post(path, json={**body, "destination": "elsewhere"}, headers=headers)
    assert bad_destination.status_code == 422
    assert db.session.execute(sa.select(sa.func.count(GrantRefund.id))).scalar_one() == 0

    created = client.post(path, json=body, headers=headers)
    assert created.status_code == 201, created.json
    refund = created.json
    assert refund["id"] and refund["amount_cents"] == 400_000 and refund["destination"] == "pool"
    assert refund["bank_reference"] == "FT-API-1" and refund["ledger_transaction_id"]
    to_unallocated = client.post(path, json={**body, "bank_reference": "FT-API-2", "destination": "unallocated"},
                                 headers=headers)
    assert to_unallocated.status_code == 201 and to_unallocated.json["destination"] == "unallocated"

    full = client.get(f"/api/v1/grants/{grant.id}", headers=headers).json
    assert [r["bank_reference"] for r in full["refunds"]] == ["FT-API-1", "FT-API-2"]
    own = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(grantee)).json
    assert own["agreement_text"] and [r["amount_cents"] for r in own["refunds"]] == [400_000, 400_000]
    assert all("bank_reference" not in r for r in own["refunds"])  # staff only, as on the page
    public = client.get(f"/api/v1/grants/{grant.id}").json
    assert [(r["amount_cents"], r["received_on"]) for r in public["refunds"]] == [(400_000, TODAY)] * 2
    assert all("bank_reference" not in r for r in public["refunds"])
    assert public["disbursed_cents"] == 1_000_000 - 800_000
    assert verify_ledger() == []


def test_both_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    cancel = paths["/api/v1/grants/{grant_id}/cancel"]["post"]
    refunds = paths["/api/v1/grants/{grant_id}/refunds"]["post"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(cancel["responses"])
    assert {"201", "401", "403", "404", "409", "422"} <= set(refunds["responses"])
