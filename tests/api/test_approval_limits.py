"""Approval limits through the API: `POST /users/{id}/approval-limit` proposes a fund manager's new limit with a
reason, `POST /approval-limit-requests/{id}/approve` (a second admin, with a fresh factor in `X-OTP`) puts it in
effect; reject and withdraw change nothing; the wrong callers are refused before the body is read."""
from __future__ import annotations

import pytest

from facility.accounts import roles
from facility.accounts.models import ApprovalLimitRequest, RoleRequestStatus, User
from facility.extensions import db
from tests.factories.accounts import fresh_code

API = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def call(client, api_headers):
    """`call(user, method, path, json=None, otp=True)`: one API call with the user's token (None: anonymous), with a
    fresh second factor in `X-OTP` unless `otp=False`."""
    headers: dict[int, dict[str, str]] = {}

    def _call(user, method, path, json=None, otp=True):
        if user is not None and user.id not in headers:
            headers[user.id] = api_headers(user)
        sent = dict(headers.get(user.id, {})) if user else {}
        if user is not None and user.mfa_enrolled_at is not None and otp:
            sent["X-OTP"] = fresh_code(user)
        return getattr(client, method)(API + path, json=json, headers=sent)

    return _call


def _refused(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    assert response.content_type == PROBLEM
    return response.json


def _limit(user_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(User, user_id).approval_limit_cents


def test_a_limit_change_through_the_api_takes_two_admins(app, call, make_user):
    manager, first, second = make_user("fund_manager"), make_user("admin"), make_user("admin")
    shown = call(first, "get", f"/users/{manager.id}/approval-limit")
    assert shown.status_code == 200
    assert shown.json == {"id": manager.id, "limit_cents": 50_000_000, "personal_limit_cents": None, "senior": False,
                          "pending": None}
    proposed = call(first, "post", f"/users/{manager.id}/approval-limit",
                    {"limit_cents": 500_000_000, "reason": "Senior signatory from January"})
    assert proposed.status_code == 201, proposed.json
    pending = proposed.json
    assert (pending["status"], pending["limit_cents"], pending["requested_by_id"]) == ("pending", 500_000_000,
                                                                                       first.id)
    assert call(first, "get", f"/users/{manager.id}/approval-limit").json["pending"]["id"] == pending["id"]
    _refused(call(second, "post", f"/users/{manager.id}/approval-limit", {"limit_cents": 1, "reason": "x"}), 409)
    listed = call(second, "get", "/approval-limit-requests")
    assert [r["id"] for r in listed.json["items"]] == [pending["id"]]
    assert call(make_user("auditor"), "get", "/approval-limit-requests").status_code == 200

    _refused(call(first, "post", f"/approval-limit-requests/{pending['id']}/approve"), 403)  # the proposer
    assert "X-OTP" in _refused(call(second, "post", f"/approval-limit-requests/{pending['id']}/approve",
                                    otp=False), 403)["detail"]
    assert _limit(manager.id) is None
    approved = call(second, "post", f"/approval-limit-requests/{pending['id']}/approve")
    assert approved.status_code == 200 and (approved.json["status"], approved.json["decided_by_id"]) == (
        "approved", second.id)
    assert _limit(manager.id) == 500_000_000
    now = call(first, "get", f"/users/{manager.id}/approval-limit").json
    assert (now["limit_cents"], now["senior"], now["pending"]) == (500_000_000, True, None)
    _refused(call(make_user("admin"), "post", f"/approval-limit-requests/{pending['id']}/approve"), 409)


def test_the_wrong_callers_are_refused_and_bad_input_changes_nothing(app, call, make_user):
    manager, admin = make_user("fund_manager"), make_user("admin")
    body = {"limit_cents": 1_000, "reason": "Lower"}
    _refused(call(None, "post", f"/users/{manager.id}/approval-limit", body), 401)
    _refused(call(None, "get", f"/users/{manager.id}/approval-limit"), 401)
    for who in ("fund_manager", "auditor", "innovator"):
        _refused(call(make_user(who), "post", f"/users/{manager.id}/approval-limit", body), 403)
    _refused(call(make_user("fund_manager"), "get", f"/users/{manager.id}/approval-limit"), 403)
    _refused(call(make_user("innovator"), "get", "/approval-limit-requests"), 403)
    for bad in ({"limit_cents": -5, "reason": "x"}, {"limit_cents": "1000", "reason": "x"}, {"reason": "x"},
                {"limit_cents": 1_000}, {"limit_cents": 1_000, "reason": ""}, {"limit_cents": 1.5, "reason": "x"}):
        _refused(call(admin, "post", f"/users/{manager.id}/approval-limit", bad), 422)
    _refused(call(admin, "post", "/users/999999/approval-limit", body), 404)
    _refused(call(admin, "get", "/users/999999/approval-limit"), 404)
    _refused(call(admin, "post", f"/users/{admin.id}/approval-limit", body), 403)  # one's own
    _refused(call(admin, "post", f"/users/{make_user('donor').id}/approval-limit", body), 409)  # not a fund manager
    _refused(call(admin, "post", "/approval-limit-requests/999999/approve"), 404)
    assert db.session.query(ApprovalLimitRequest).count() == 0
    assert _limit(manager.id) is None


def test_reject_and_withdraw_through_the_api(app, call, make_user):
    manager, first, second = make_user("fund_manager"), make_user("admin"), make_user("admin")
    one = roles.propose_approval_limit(user=manager, limit_cents=1_000, reason="Lower", actor=first)
    db.session.commit()
    _refused(call(second, "post", f"/approval-limit-requests/{one.id}/reject", {"reason": "x" * 3000}), 422)
    rejected = call(second, "post", f"/approval-limit-requests/{one.id}/reject", {"reason": "No"})
    assert rejected.status_code == 200 and (rejected.json["status"], rejected.json["decision_reason"]) == (
        "rejected", "No")
    two = roles.propose_approval_limit(user=db.session.get(User, manager.id), limit_cents=2_000, reason="Again",
                                       actor=first)
    db.session.commit()
    _refused(call(second, "post", f"/approval-limit-requests/{two.id}/withdraw"), 403)  # not the proposer
    withdrawn = call(first, "post", f"/approval-limit-requests/{two.id}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert _limit(manager.id) is None
    assert call(first, "get", "/approval-limit-requests?status=rejected").json["total"] == 1
    statuses = {r.status for r in db.session.query(ApprovalLimitRequest)}
    assert statuses == {RoleRequestStatus.REJECTED, RoleRequestStatus.WITHDRAWN}


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get(f"{API}/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths[f"{API}/users/{{user_id}}/approval-limit"])
    for action in ("approve", "reject", "withdraw"):
        assert "post" in paths[f"{API}/approval-limit-requests/{{limit_request_id}}/{action}"]
    assert "get" in paths[f"{API}/approval-limit-requests"]
