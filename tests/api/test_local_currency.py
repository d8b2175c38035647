"""The API of payouts in local currency: confirm with a local amount and/or rate, read both amounts back."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.ledger.models import LedgerEntry
from facility.ledger.verify import verify_ledger
from tests.api.test_disbursements import _problem, as_user  # noqa: F401
from tests.disbursements.conftest import fake_stripe, fake_stripe_server, payable, paying_app  # noqa: F401
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401

S = DisbursementStatus


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


@pytest.fixture
def awaiting(payable, run_jobs):
    grant, requester, approver, grantee = payable(rail="manual")
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    return d.id, grant, requester, approver, grantee


def test_confirm_with_a_local_amount_derives_the_rate(awaiting, as_user, make_user):
    d_id, grant, requester, approver, grantee = awaiting
    manager = as_user(make_user("fund_manager"))
    entries = db.session.scalar(sa.select(sa.func.count(LedgerEntry.id)))
    for body, fields in (
        ({"local_currency": "KES", "local_amount": "-100"}, ["local_amount"]),
        ({"local_currency": "KES", "local_amount": "١٠٠"}, ["local_amount"]),
        ({"local_currency": "KES", "local_amount": "12.345"}, ["local_amount"]),
        ({"local_currency": "ZZZ", "local_amount": "100"}, ["local_currency"]),
        ({"local_currency": "KES"}, ["local_amount"]),
        ({"exchange_rate": "129.25"}, ["local_currency"]),
        ({"local_currency": "KES", "exchange_rate": "0"}, ["exchange_rate"]),
        ({"local_currency": "KES", "local_amount": "1292600", "exchange_rate": "129.25"}, ["exchange_rate"]),
        ({"local_currency": "KESS", "local_amount": "100"}, ["local_currency"]),
        ({"local_currency": "KES", "local_amount": 1292500}, ["local_amount"]),  # a JSON number: not a string
    ):
        problem = _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT9", **body}),
                           422)
        assert sorted(problem["errors"]) == fields, body
        d = _fresh(d_id)
        assert (d.status, d.bank_reference, d.local_currency) == (S.AWAITING_CONFIRMATION, None, None)
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == entries

    paid = manager.post(f"/disbursements/{d_id}/confirm",
                        json={"bank_reference": "FT9", "local_currency": "kes", "local_amount": "1,292,512.34"})
    assert paid.status_code == 200, paid.json
    body = paid.json
    assert (body["status"], body["amount_cents"]) == ("paid", 1_000_000)
    assert body["local_amount"] == {"currency": "KES", "amount_minor": 129_251_234, "formatted": "KES\xa01,292,512.34"}
    assert (body["exchange_rate"], body["exchange_rate_source"]) == ("129.251234", "manual")
    assert _fresh(d_id).exchange_rate == Decimal("129.251234")
    assert verify_ledger() == []
    # The grantee reads both amounts too, on the disbursement and in the grant's payments.
    grantee_view = as_user(grantee).get(f"/disbursements/{d_id}").json
    assert grantee_view["local_amount"]["amount_minor"] == 129_251_234 and grantee_view["amount_cents"] == 1_000_000
    in_grant = as_user(grantee).get(f"/grants/{grant.id}").json["disbursements"]
    assert [p["exchange_rate"] for p in in_grant] == ["129.251234"]


def test_confirm_with_a_rate_derives_the_amount_and_usd_needs_nothing(payable, run_jobs, as_user, make_user):
    grant, requester, approver, grantee = payable(rail="manual", amounts=(1_000_001, 1_000_000), accept=(1, 2))
    ids = []
    for tranche in grant.tranches:
        d = requests.request_disbursement(tranche=tranche, actor=requester)
        db.session.commit()
        requests.approve_disbursement(disbursement=d, actor=approver)
        db.session.commit()
        ids.append(d.id)
    run_jobs()
    manager = as_user(make_user("fund_manager"))
    # USD 10,000.01 at 3,700.5 UGX: 37,005,037.005 -> 37,005,037 (UGX has no minor unit; half to even).
    body = manager.post(f"/disbursements/{ids[0]}/confirm",
                        json={"bank_reference": "FT1", "local_currency": "UGX", "exchange_rate": "3700.5"}).json
    assert body["local_amount"]["amount_minor"] == 37_005_037 and body["exchange_rate"] == "3700.5"
    body = manager.post(f"/disbursements/{ids[1]}/confirm", json={"bank_reference": "FT2", "local_currency": None,
                                                                   "local_amount": None}).json
    assert (body["status"], body["local_amount"], body["exchange_rate"], body["exchange_rate_source"]) == (
        "paid", None, None, None)


def test_the_fields_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    confirm = next(s for name, s in schemas.items() if name.startswith("ConfirmPayment"))
    assert {"local_currency", "local_amount", "exchange_rate"} <= set(confirm["properties"])
    detail = next(s for name, s in schemas.items() if name.startswith("DisbursementDetail"))
    assert {"local_amount", "exchange_rate", "exchange_rate_source"} <= set(detail["properties"])
