"""Separation of duties through the API: roles (`PUT /users/{id}/roles`), role requests decided by a second
admin, deactivation, the manual-rail confirmer, and bank details behind a fresh second factor."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.accounts import roles
from facility.accounts.models import OrgKind, RoleGrantRequest, RoleRequestStatus, User
from facility.audit.models import AuditEvent
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from tests.disbursements.conftest import (  # noqa: F401
    fake_stripe,
    fake_stripe_server,
    payable,
    paying_app,
)
from tests.factories.accounts import fresh_code
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401

API = "/api/v1"
PROBLEM = "application/problem+json"
IBAN = "GB82WEST12345698765432"


@pytest.fixture
def call(client, api_headers):
    """`call(user, method, path, json=None, otp=False)`: one API call with the user's bearer token (None: anonymous);
    `otp=True` (or the `fresh_factor` fixture) sends a current code in `X-OTP`, the API's step-up."""
    headers: dict[int, dict[str, str]] = {}

    def _call(user, method, path, json=None, otp=False):
        if user is not None and user.id not in headers:
            headers[user.id] = api_headers(user)
        sent = dict(headers.get(user.id, {})) if user else {}
        if user is not None and user.mfa_enrolled_at is not None and (otp or _call.always_otp):
            sent["X-OTP"] = fresh_code(user)
        return getattr(client, method)(API + path, json=json, headers=sent)

    _call.always_otp = False
    return _call


@pytest.fixture
def fresh_factor(call):
    """Every call sends a valid X-OTP code (a fresh second factor)."""
    call.always_otp = True


def _refused(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    assert response.content_type == PROBLEM
    return response.json


def _user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


# --- roles ---------------------------------------------------------------------------------------------

def test_nobody_changes_their_own_roles_through_the_api(app, call, make_user, fresh_factor):
    admin = make_user("admin")
    body = _refused(call(admin, "put", f"/users/{admin.id}/roles", {"roles": ["admin", "fund_manager"]}), 403)
    assert "your own roles" in body["detail"]
    assert _user(admin.id).roles == ["admin"]


def test_changing_roles_needs_a_fresh_factor(app, call, make_user):
    admin, target = make_user("admin"), make_user("innovator")
    body = _refused(call(admin, "put", f"/users/{target.id}/roles", {"roles": ["reviewer"]}), 403)
    assert "X-OTP" in body["detail"]
    assert _user(target.id).roles == ["innovator"]


def test_roles_endpoint_refuses_the_wrong_callers_and_bad_input(app, call, make_user, fresh_factor):
    target = make_user("innovator")
    _refused(call(None, "put", f"/users/{target.id}/roles", {"roles": ["admin"]}), 401)
    for who in ("fund_manager", "auditor", "innovator"):
        _refused(call(make_user(who), "put", f"/users/{target.id}/roles", {"roles": ["admin"]}), 403)
    admin = make_user("admin")
    _refused(call(admin, "put", f"/users/{target.id}/roles", {"roles": ["emperor"]}), 422)
    _refused(call(admin, "put", f"/users/{target.id}/roles", {}), 422)
    _refused(call(admin, "put", "/users/999999/roles", {"roles": ["donor"]}), 404)
    assert _user(target.id).roles == ["innovator"]


def test_granting_staff_roles_through_the_api_waits_for_a_second_admin(app, call, make_user, fresh_factor):
    target, first, second = make_user("innovator"), make_user("admin"), make_user("admin")
    answer = call(first, "put", f"/users/{target.id}/roles", {"roles": ["innovator", "reviewer", "fund_manager"]})
    assert answer.status_code == 200, answer.json
    assert sorted(answer.json["user"]["roles"]) == ["innovator", "reviewer"]
    pending = answer.json["role_request"]
    assert (pending["status"], pending["roles"], pending["requested_by_id"]) == ("pending", ["fund_manager"], first.id)
    plain = call(first, "put", f"/users/{target.id}/roles", {"roles": ["innovator"]})
    assert plain.status_code == 200 and plain.json["role_request"] is None  # removal: at once, nothing to approve

    listed = call(second, "get", "/role-requests")
    assert listed.status_code == 200 and [r["id"] for r in listed.json["items"]] == [pending["id"]]
    assert call(make_user("auditor"), "get", "/role-requests").status_code == 200
    _refused(call(make_user("fund_manager"), "get", "/role-requests"), 403)
    _refused(call(None, "get", "/role-requests"), 401)

    _refused(call(first, "post", f"/role-requests/{pending['id']}/approve"), 403)  # the requester
    _refused(call(target, "post", f"/role-requests/{pending['id']}/approve"), 403)  # the person (no admin)
    _refused(call(make_user("fund_manager"), "post", f"/role-requests/{pending['id']}/approve"), 403)
    _refused(call(None, "post", f"/role-requests/{pending['id']}/approve"), 401)
    _refused(call(second, "post", "/role-requests/999999/approve"), 404)
    assert _user(target.id).roles == ["innovator"]
    approved = call(second, "post", f"/role-requests/{pending['id']}/approve")
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert approved.json["decided_by_id"] == second.id
    assert sorted(_user(target.id).roles) == ["fund_manager", "innovator"]
    _refused(call(make_user("admin"), "post", f"/role-requests/{pending['id']}/approve"), 409)
    assert call(second, "get", "/role-requests?status=approved").json["total"] == 1


def test_approving_a_role_request_needs_a_fresh_factor(app, call, make_user):
    target, first, second = make_user("donor"), make_user("admin"), make_user("admin")
    pending = roles.set_roles(user=target, roles=["donor", "admin"], actor=first).request
    db.session.commit()
    assert "X-OTP" in _refused(call(second, "post", f"/role-requests/{pending.id}/approve"), 403)["detail"]
    assert db.session.get(RoleGrantRequest, pending.id).status is RoleRequestStatus.PENDING
    assert _user(target.id).roles == ["donor"]


def test_reject_and_withdraw_through_the_api(app, call, make_user):
    target, first, second = make_user("donor"), make_user("admin"), make_user("admin")
    one = roles.set_roles(user=target, roles=["donor", "auditor"], actor=first).request
    two = roles.set_roles(user=target, roles=["donor", "admin"], actor=first).request
    db.session.commit()
    _refused(call(second, "post", f"/role-requests/{one.id}/reject", {"reason": "x" * 3000}), 422)
    rejected = call(second, "post", f"/role-requests/{one.id}/reject", {"reason": "Not in the plan"})
    assert rejected.status_code == 200 and (rejected.json["status"], rejected.json["reason"]) == (
        "rejected", "Not in the plan")
    _refused(call(second, "post", f"/role-requests/{two.id}/withdraw"), 403)
    assert call(first, "post", f"/role-requests/{two.id}/withdraw").json["status"] == "withdrawn"
    assert _user(target.id).roles == ["donor"]


# --- deactivation --------------------------------------------------------------------------------------

def test_deactivating_through_the_api_ends_the_token_at_once(app, call, make_user):
    admin, person = make_user("admin"), make_user("innovator")
    assert call(person, "get", "/me").status_code == 200
    _refused(call(admin, "post", f"/users/{admin.id}/deactivate"), 403)
    for who in ("fund_manager", "auditor", "innovator"):
        _refused(call(make_user(who), "post", f"/users/{person.id}/deactivate"), 403)
    _refused(call(None, "post", f"/users/{person.id}/deactivate"), 401)
    answer = call(admin, "post", f"/users/{person.id}/deactivate")
    assert answer.status_code == 200 and answer.json["active"] is False
    _refused(call(person, "get", "/me"), 401)  # the same token, refused at once
    _refused(call(admin, "post", f"/users/{person.id}/deactivate"), 409)
    assert call(admin, "post", f"/users/{person.id}/reactivate").json["active"] is True
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "user.deactivated", AuditEvent.object_id == str(person.id))) == 1


# --- payments ------------------------------------------------------------------------------------------

@pytest.fixture
def awaiting(payable, run_jobs, make_user):
    grant, requester, approver, grantee = payable(rail="manual")
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Disbursement, d.id).status is DisbursementStatus.AWAITING_CONFIRMATION
    return d.id, requester, approver, make_user("fund_manager"), grantee


def test_the_api_refuses_confirmation_by_the_requester_or_an_approver(awaiting, call):
    d_id, requester, approver, finance, _ = awaiting
    for person in (requester, approver):
        body = _refused(call(person, "post", f"/disbursements/{d_id}/confirm", {"bank_reference": "FT-FAKE"}), 403)
        assert "neither requested nor approved" in body["detail"]
    paid = call(finance, "post", f"/disbursements/{d_id}/confirm", {"bank_reference": "FT2611230042"})
    assert paid.status_code == 200 and paid.json["status"] == "paid"


def test_bank_details_need_a_fresh_factor_and_are_never_cached(awaiting, call, monkeypatch):
    d_id, requester, approver, finance, _ = awaiting
    assert "X-OTP" in _refused(call(finance, "post", f"/disbursements/{d_id}/bank-details"), 403)["detail"]
    answer = call(finance, "post", f"/disbursements/{d_id}/bank-details", otp=True)
    assert answer.status_code == 200
    assert (answer.json["iban"], answer.json["bank_name"], answer.json["swift"]) == (IBAN, "Dutch-Bangla Bank",
                                                                                     "DBBLBDDH")
    assert "no-store" in answer.headers["Cache-Control"]
    [event] = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == "disbursement.bank_details_revealed")).scalars().all()
    assert event.actor_id == finance.id and IBAN not in str(event.details)


def test_bank_details_are_refused_to_everyone_else(awaiting, call, make_user, make_org, fresh_factor, payable):
    d_id, requester, approver, finance, grantee = awaiting
    _refused(call(None, "post", f"/disbursements/{d_id}/bank-details"), 401)
    _refused(call(grantee, "post", f"/disbursements/{d_id}/bank-details"), 403)
    _refused(call(make_user("auditor"), "post", f"/disbursements/{d_id}/bank-details"), 403)
    _refused(call(make_user("admin"), "post", f"/disbursements/{d_id}/bank-details"), 403)
    stranger = make_user("innovator", organization=make_org(name="Elsewhere", kind=OrgKind.INNOVATOR))
    _refused(call(stranger, "post", f"/disbursements/{d_id}/bank-details"), 404)
    _refused(call(finance, "post", "/disbursements/999999/bank-details"), 404)
    grant, stripe_requester, _, _ = payable(rail="stripe")
    stripe_d = requests.request_disbursement(tranche=grant.tranches[0], actor=stripe_requester)
    db.session.commit()
    _refused(call(finance, "post", f"/disbursements/{stripe_d.id}/bank-details"), 409)
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "disbursement.bank_details_revealed")) == 0
