"""The disbursement API: request, approve (four eyes), confirm, fail, cancel, re-queue, read; the money flow end to end."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.ledger.verify import verify_ledger
from tests.disbursements.conftest import (  # noqa: F401
    fake_stripe,
    fake_stripe_server,
    payable,
    paying_app,
    two_approvals_above_usd_5000,
)

# The disbursements and grants fixtures (a payable grant against a fake Stripe), for this module only.
from tests.factories.accounts import fresh_code
from tests.factories.grants import NO_SPENDING
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401

S = DisbursementStatus
PROBLEM = "application/problem+json"


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


@pytest.fixture
def as_user(client, api_headers):
    """`as_user(user).post(path, json=...)`: API calls with the user's bearer token (None: anonymous)."""

    class Caller:
        def __init__(self, user):
            self.headers = api_headers(user) if user is not None else {}

        def get(self, path, **kwargs):
            return client.get(f"/api/v1{path}", headers=self.headers, **kwargs)

        def post(self, path, json=None, headers=None, **kwargs):
            return client.post(f"/api/v1{path}", headers={**self.headers, **(headers or {})}, json=json, **kwargs)

        def put(self, path, json=None, **kwargs):
            return client.put(f"/api/v1{path}", headers=self.headers, json=json, **kwargs)

    return Caller


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- request and approve ------------------------------------------------------------------

def test_request_then_another_fund_manager_approves(payable, as_user, make_user):
    grant, requester, approver, grantee = payable()
    first, second = grant.tranches
    response = as_user(requester).post(f"/tranches/{first.id}/disbursements")
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["status"], body["amount_cents"], body["rail"], body["tranche_id"], body["grant_id"]) == (
        "requested", 1_000_000, "stripe", first.id, grant.id)
    assert body["requested_by_id"] == requester.id and body["approvals"] == []
    assert [e["to_status"] for e in body["history"]] == ["requested"] and body["history"][0]["by_staff"] is True
    d_id = body["id"]

    _problem(as_user(requester).post(f"/tranches/{first.id}/disbursements"), 409)  # already live
    _problem(as_user(approver).post(f"/tranches/{second.id}/disbursements"), 409)  # evidence not accepted

    refused = _problem(as_user(requester).post(f"/disbursements/{d_id}/approve"), 403)
    assert "another fund manager" in refused["detail"]
    assert _fresh(d_id).status is S.REQUESTED and _fresh(d_id).approvals == []

    approved = as_user(approver).post(f"/disbursements/{d_id}/approve")
    assert approved.status_code == 200
    assert approved.json["status"] == "queued"
    assert [a["approver_id"] for a in approved.json["approvals"]] == [approver.id]
    assert [e["to_status"] for e in approved.json["history"]] == ["requested", "queued"]
    _problem(as_user(make_user("fund_manager")).post(f"/disbursements/{d_id}/approve"), 409)


def test_large_amounts_need_two_approvals_over_the_api(payable, as_user, make_user, two_approvals_above_usd_5000,
                                                       monkeypatch):
    grant, requester, approver, _ = payable()
    d_id = as_user(requester).post(f"/tranches/{grant.tranches[0].id}/disbursements").json["id"]
    refused = _problem(as_user(approver).post(f"/disbursements/{d_id}/approve"), 403)
    assert "X-OTP" in refused["detail"]  # step-up above the threshold (tests/api/test_duties.py)
    first = as_user(approver).post(f"/disbursements/{d_id}/approve", headers={"X-OTP": fresh_code(approver)})
    assert first.status_code == 200 and first.json["status"] == "requested"
    assert first.json["required_approvals"] == 2
    _problem(as_user(approver).post(f"/disbursements/{d_id}/approve"), 409)
    other = make_user("fund_manager")
    second = as_user(other).post(f"/disbursements/{d_id}/approve", headers={"X-OTP": fresh_code(other)})
    assert second.status_code == 200 and second.json["status"] == "queued"


# --- confirm, fail, cancel, re-queue ----------------------------------------------------------

@pytest.fixture
def awaiting(payable, run_jobs):
    """A manual-rail disbursement waiting for its bank reference."""
    grant, requester, approver, grantee = payable(rail="manual")
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    assert _fresh(d.id).status is S.AWAITING_CONFIRMATION
    return d.id, grant, requester, approver, grantee


def test_confirm_validates_the_bank_reference(awaiting, as_user, make_user):
    d_id, grant, requester, approver, grantee = awaiting
    manager = as_user(make_user("fund_manager"))  # neither requester nor approver (policy.can_confirm)
    missing = _problem(manager.post(f"/disbursements/{d_id}/confirm", json={}), 422)
    assert list(missing["errors"]) == ["bank_reference"]
    too_long = _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "X" * 121}), 422)
    assert list(too_long["errors"]) == ["bank_reference"]
    blank = _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "   "}), 422)
    assert list(blank["errors"]) == ["bank_reference"]
    _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": 42}), 422)
    _problem(manager.post(f"/disbursements/{d_id}/confirm", data="{not json", content_type="application/json"), 400)
    assert _fresh(d_id).status is S.AWAITING_CONFIRMATION

    detail = manager.get(f"/disbursements/{d_id}").json
    assert detail["payment_instruction"]["account"] == "•••• 5432"
    assert "GB82WEST12345698765432" not in str(detail)

    paid = manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT2611230042"})
    assert paid.status_code == 200
    assert (paid.json["status"], paid.json["bank_reference"]) == ("paid", "FT2611230042")
    assert paid.json["paid_at"] is not None
    again = _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT-other"}), 409)
    assert "not awaiting a bank confirmation" in again["detail"]
    _problem(manager.post(f"/disbursements/{d_id}/fail", json={"reason": "late"}), 409)
    _problem(manager.post(f"/disbursements/{d_id}/cancel", json={"reason": "late"}), 409)
    _problem(manager.post(f"/disbursements/{d_id}/requeue"), 409)
    assert _fresh(d_id).bank_reference == "FT2611230042"
    assert verify_ledger() == []


def test_fail_then_requeue(awaiting, as_user, run_jobs):
    d_id, grant, requester, approver, grantee = awaiting
    manager = as_user(requester)
    _problem(manager.post(f"/disbursements/{d_id}/fail", json={}), 422)
    _problem(manager.post(f"/disbursements/{d_id}/fail", json={"reason": ""}), 422)
    failed = manager.post(f"/disbursements/{d_id}/fail", json={"reason": "Account closed"})
    assert failed.status_code == 200
    assert (failed.json["status"], failed.json["last_error"]) == ("failed", "Account closed")
    _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT1"}), 409)
    requeued = manager.post(f"/disbursements/{d_id}/requeue")
    assert requeued.status_code == 200 and requeued.json["status"] == "queued"
    run_jobs()
    assert manager.get(f"/disbursements/{d_id}").json["status"] == "awaiting_confirmation"


def test_cancel_needs_a_reason(payable, as_user):
    grant, requester, approver, _ = payable()
    manager = as_user(approver)
    d_id = as_user(requester).post(f"/tranches/{grant.tranches[0].id}/disbursements").json["id"]
    _problem(manager.post(f"/disbursements/{d_id}/cancel", json={}), 422)
    _problem(manager.post(f"/disbursements/{d_id}/cancel", json={"reason": "  "}), 422)
    _problem(manager.post(f"/disbursements/{d_id}/cancel", json={"reason": "x" * 2001}), 422)
    _problem(manager.post(f"/disbursements/{d_id}/requeue"), 409)
    _problem(manager.post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT1"}), 409)
    cancelled = manager.post(f"/disbursements/{d_id}/cancel", json={"reason": "Wrong account"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["history"][-1]["note"] == "Wrong account"
    _problem(manager.post(f"/disbursements/{d_id}/cancel", json={"reason": "again"}), 409)
    _problem(manager.post(f"/disbursements/{d_id}/approve"), 409)
    # The tranche can be requested again.
    assert as_user(requester).post(f"/tranches/{grant.tranches[0].id}/disbursements").status_code == 201


# --- reading -----------------------------------------------------------------------------

def test_read_one_list_and_grant(payable, as_user, run_jobs):
    grant, requester, approver, grantee = payable(amounts=(100_000, 200_000), accept=(1, 2))
    one = as_user(requester).post(f"/tranches/{grant.tranches[0].id}/disbursements").json["id"]
    two = as_user(requester).post(f"/tranches/{grant.tranches[1].id}/disbursements").json["id"]
    as_user(approver).post(f"/disbursements/{one}/approve")
    run_jobs()

    mine = as_user(grantee).get(f"/disbursements/{one}")
    assert mine.status_code == 200
    assert mine.json["status"] == "paid" and mine.json["provider_reference"].startswith("tr_")
    assert [e["to_status"] for e in mine.json["history"]] == ["requested", "queued", "processing", "paid"]
    assert [e["by_staff"] for e in mine.json["history"]] == [True, True, False, False]

    manager = as_user(approver)
    everything = manager.get("/disbursements")
    assert everything.status_code == 200
    assert [d["id"] for d in everything.json["items"]] == [two, one] and everything.json["total"] == 2
    assert manager.get("/disbursements?status=paid").json["items"][0]["id"] == one
    assert [d["id"] for d in manager.get("/disbursements?status=requested").json["items"]] == [two]
    none = manager.get("/disbursements?status=failed").json
    assert (none["items"], none["total"]) == ([], 0)
    paged = manager.get("/disbursements?per_page=1&page=2").json
    assert [d["id"] for d in paged["items"]] == [one] and paged["total"] == 2
    bad = _problem(manager.get("/disbursements?status=lost"), 422)
    assert "status" in bad["errors"]

    body = as_user(grantee).get(f"/grants/{grant.id}").json
    assert [d["id"] for d in body["disbursements"]] == [two, one]
    assert body["disbursements"][1]["status"] == "paid" and body["disbursements"][1]["history"]
    assert [t["status"] for t in body["tranches"]] == ["paid", "disbursing"]


# --- who may do what -------------------------------------------------------------------------

def _routes(d_id: int, tranche_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("post", f"/tranches/{tranche_id}/disbursements", None),
        ("post", f"/disbursements/{d_id}/approve", None),
        ("post", f"/disbursements/{d_id}/confirm", {"bank_reference": "FT1"}),
        ("post", f"/disbursements/{d_id}/fail", {"reason": "r"}),
        ("post", f"/disbursements/{d_id}/cancel", {"reason": "r"}),
        ("post", f"/disbursements/{d_id}/requeue", None),
    ]


@pytest.mark.parametrize("who", ["anonymous", "bad_token", "grantee", "other_innovator", "city_official",
                                 "reviewer", "donor", "admin"])
def test_permission_matrix(payable, as_user, client, make_user, make_org, who):
    grant, requester, approver, grantee = payable()
    d_id = as_user(requester).post(f"/tranches/{grant.tranches[0].id}/disbursements").json["id"]
    if who == "anonymous":
        caller = as_user(None)
    elif who == "bad_token":
        caller = as_user(None)
        caller.headers = {"Authorization": "Bearer not-a-token"}
    else:
        caller = as_user({
            "grantee": lambda: grantee,
            "other_innovator": lambda: make_user("innovator", organization=make_org(name="Elsewhere")),
            "city_official": lambda: make_user("city_official", organization=make_org(name="City", kind=OrgKind.CITY)),
            "reviewer": lambda: make_user("reviewer"),
            "donor": lambda: make_user("donor", organization=make_org(name="Donor", kind=OrgKind.DONOR)),
            "admin": lambda: make_user("admin"),
        }[who]())
    # (read one, list, actions, grant): a grant is public (its public view: no disbursements listed).
    expected = {
        "anonymous": (401, 401, 401, 200),
        "bad_token": (401, 401, 401, 200),
        "grantee": (200, 403, 403, 200),
        "other_innovator": (404, 403, 404, 200),
        "city_official": (404, 403, 404, 200),
        "reviewer": (404, 403, 404, 200),
        "donor": (404, 403, 404, 200),
        "admin": (200, 200, 403, 200),
    }[who]
    read, listing, actions, grant_status = expected
    assert caller.get(f"/disbursements/{d_id}").status_code == read
    assert caller.get("/disbursements").status_code == listing
    grant_view = caller.get(f"/grants/{grant.id}")
    assert grant_view.status_code == grant_status
    assert ("disbursements" in grant_view.json) == (who in ("grantee", "admin"))
    for method, path, body in _routes(d_id, grant.tranches[1].id):
        response = getattr(caller, method)(path, json=body)
        _problem(response, actions)
        if actions == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    d = _fresh(d_id)
    assert d.status is S.REQUESTED and len(d.events) == 1 and d.approvals == []
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 1


def test_unknown_ids_are_404(as_user, make_user):
    manager = as_user(make_user("fund_manager"))
    _problem(manager.get("/disbursements/999999"), 404)
    _problem(manager.post("/disbursements/999999/approve"), 404)
    _problem(manager.post("/disbursements/999999/confirm", json={"bank_reference": "FT1"}), 404)
    _problem(manager.post("/tranches/999999/disbursements"), 404)


def test_openapi_lists_the_disbursement_paths(client):
    doc = client.get("/api/v1/openapi.json").json
    paths = doc["paths"]
    for path, methods in {
        "/api/v1/tranches/{tranche_id}/disbursements": {"post"},
        "/api/v1/disbursements": {"get"},
        "/api/v1/disbursements/{disbursement_id}": {"get"},
        "/api/v1/disbursements/{disbursement_id}/approve": {"post"},
        "/api/v1/disbursements/{disbursement_id}/confirm": {"post"},
        "/api/v1/disbursements/{disbursement_id}/fail": {"post"},
        "/api/v1/disbursements/{disbursement_id}/cancel": {"post"},
        "/api/v1/disbursements/{disbursement_id}/requeue": {"post"},
    }.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    confirm = paths["/api/v1/disbursements/{disbursement_id}/confirm"]["post"]
    assert "requestBody" in confirm
    assert "history" in str(doc["components"]["schemas"])


# --- the money flow, end to end through the API ----------------------------------------------------

@pytest.mark.parametrize("rail", ["stripe", "manual"])
def test_money_flow_through_the_api(rail, paying_app, as_user, make_challenge, make_proposal, make_user, fund,
                                    run_jobs, fake_stripe):
    challenge = make_challenge(max_award_cents=5_000_000)
    proposal = make_proposal(challenge, amounts=(1_000_000, 2_000_000))
    fund(challenge=challenge, pool=5_000_000)
    ana, ben = make_user("fund_manager", name="Ana"), make_user("fund_manager", name="Ben")
    grantee = make_user("innovator", organization=proposal.organization)
    public = as_user(None)
    before = public.get("/facility").json

    award = as_user(ana).post(f"/proposals/{proposal.id}/award", json={"amount_cents": 3_000_000})
    assert award.status_code == 201, award.json
    grant_id, tranche_id = award.json["id"], award.json["tranches"][0]["id"]
    assert award.json["disbursements"] == []
    assert as_user(grantee).post(f"/grants/{grant_id}/accept").json["status"] == "active"
    account = ({"rail": "stripe", "stripe_account_id": "acct_1Grantee01"} if rail == "stripe" else
               {"rail": "manual", "account_holder": "WaterWatch", "bank_name": "Dutch-Bangla Bank",
                "account_number": "0012345678", "swift": "DBBLBDDH"})
    payout = as_user(grantee).put(f"/grants/{grant_id}/payout-account", json=account)
    assert payout.status_code == 200, payout.json
    report = as_user(grantee).post(f"/tranches/{tranche_id}/evidence", json={"text": "Pilot live in 3 wards",
                                                                             "spending": NO_SPENDING})
    assert report.status_code == 201, report.json
    _problem(as_user(ana).post(f"/tranches/{tranche_id}/disbursements"), 409)  # evidence not accepted yet
    assert as_user(ana).post(f"/milestone-reports/{report.json['id']}/accept").status_code == 200
    committed = public.get("/facility").json["committed_cents"]

    requested = as_user(ana).post(f"/tranches/{tranche_id}/disbursements")
    assert requested.status_code == 201 and requested.json["rail"] == rail
    d_id = requested.json["id"]
    _problem(as_user(ana).post(f"/disbursements/{d_id}/approve"), 403)
    assert as_user(ben).post(f"/disbursements/{d_id}/approve").json["status"] == "queued"
    assert public.get("/facility").json["disbursed_cents"] == before["disbursed_cents"]
    run_jobs()

    d = as_user(grantee).get(f"/disbursements/{d_id}").json
    if rail == "stripe":
        assert d["status"] == "paid"
        [transfer] = fake_stripe.transfers.values()
        assert (transfer["id"], transfer["amount"], transfer["destination"]) == (
            d["provider_reference"], 1_000_000, "acct_1Grantee01")
    else:
        assert d["status"] == "awaiting_confirmation" and fake_stripe.transfers == {}
        assert public.get("/facility").json["disbursed_cents"] == before["disbursed_cents"]
        _problem(as_user(grantee).post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT9"}), 403)
        _problem(as_user(ben).post(f"/disbursements/{d_id}/confirm", json={"bank_reference": "FT9"}), 403)  # approver
        confirmed = as_user(make_user("fund_manager")).post(f"/disbursements/{d_id}/confirm",
                                                            json={"bank_reference": "FT2611230042"})
        assert confirmed.status_code == 200 and confirmed.json["status"] == "paid"

    after = public.get("/facility").json
    assert after["disbursed_cents"] == before["disbursed_cents"] + 1_000_000
    assert after["committed_cents"] == committed - 1_000_000
    grant = as_user(grantee).get(f"/grants/{grant_id}").json
    assert grant["status"] == "active"
    assert [t["status"] for t in grant["tranches"]] == ["paid", "pending"]
    assert [(x["id"], x["status"]) for x in grant["disbursements"]] == [(d_id, "paid")]
    assert verify_ledger() == []


def test_list_query_count_does_not_grow(payable, as_user, make_user, count_queries):
    manager = as_user(make_user("fund_manager"))

    def request_one():
        grant, requester, approver, _ = payable()
        d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
        db.session.commit()
        requests.approve_disbursement(disbursement=d, actor=approver)
        db.session.commit()

    request_one()
    with count_queries() as few:
        assert manager.get("/disbursements").json["total"] == 1
    for _ in range(4):
        request_one()
    with count_queries() as many:
        assert manager.get("/disbursements").json["total"] == 5
    assert many() == few()
