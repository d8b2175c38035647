"""Personal approval limits (accounts.roles, accounts.policy): an admin proposes a fund manager's new limit with a
reason, a second admin (neither the proposer nor the person) approves it, and only then does it take effect;
rejected or withdrawn, nothing changes. Nobody changes their own limit; proposing and approving need a fresh
second factor; every step is audited. The admin pages show the limit, the pending change and the forms."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.accounts import authority, policy, roles
from facility.accounts.models import ApprovalLimitRequest, RoleRequestStatus, User
from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, PermissionDenied, StepUpRequired, ValidationFailed
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.accounts import prove_factor, stale_factor

R = RoleRequestStatus


def _user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def _actions() -> list[str]:
    return list(db.session.execute(sa.select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def _requests() -> list[ApprovalLimitRequest]:
    return list(db.session.execute(sa.select(ApprovalLimitRequest).order_by(ApprovalLimitRequest.id)).scalars())


@pytest.fixture
def people(make_user):
    return make_user("fund_manager"), make_user("admin"), make_user("admin")


# --- the rules, as the services apply them ---------------------------------------------------------

def test_a_second_admin_approves_and_the_limit_takes_effect(app, people):
    manager, first, second = people
    assert authority.approver_for(manager).limit_cents == authority.DEFAULT_APPROVAL_LIMIT_CENTS
    pending = roles.propose_approval_limit(user=manager, limit_cents=600_000_000, reason="Board resolution 12",
                                           actor=first)
    db.session.commit()
    assert (pending.status, pending.limit_cents, pending.previous_limit_cents) == (R.PENDING, 600_000_000, None)
    assert _user(manager.id).approval_limit_cents is None  # nothing changes before the second admin
    with pytest.raises(PermissionDenied, match="second administrator"):
        roles.approve_limit_request(limit_request=pending, actor=first)
    db.session.rollback()
    roles.approve_limit_request(limit_request=pending, actor=second)
    db.session.commit()
    person = _user(manager.id)
    assert person.approval_limit_cents == 600_000_000
    assert authority.approver_for(person).senior  # USD 6,000,000 reaches the senior limit
    assert _actions()[-3:] == ["approval_limit_request.created", "approval_limit_request.approved",
                               "user.approval_limit_changed"]
    changed = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "user.approval_limit_changed")
                                 ).scalar_one()
    assert (changed.details["before"], changed.details["after"]) == (None, 600_000_000)
    # Back to the default, the same way.
    back = roles.propose_approval_limit(user=person, limit_cents=None, reason="Term ended", actor=second)
    roles.approve_limit_request(limit_request=back, actor=first)
    db.session.commit()
    assert _user(manager.id).approval_limit_cents is None


def test_nobody_changes_their_own_limit(app, make_user):
    both, other = make_user("admin", "fund_manager"), make_user("admin")
    with pytest.raises(PermissionDenied, match="your own approval limit"):
        roles.propose_approval_limit(user=both, limit_cents=1, reason="Me", actor=both)
    db.session.rollback()
    pending = roles.propose_approval_limit(user=both, limit_cents=900_000_000, reason="Raise", actor=other)
    db.session.commit()
    with pytest.raises(PermissionDenied, match="your own approval limit"):
        roles.approve_limit_request(limit_request=pending, actor=both)  # the person never decides it
    db.session.rollback()
    assert _user(both.id).approval_limit_cents is None


def test_the_wrong_role_cannot_propose_decide_or_withdraw(app, people, make_user):
    manager, admin, _ = people
    pending = roles.propose_approval_limit(user=manager, limit_cents=10_000_000, reason="Lower", actor=admin)
    db.session.commit()
    for who in ("fund_manager", "auditor", "innovator"):
        someone = make_user(who)
        with pytest.raises(PermissionDenied):
            roles.propose_approval_limit(user=manager, limit_cents=1, reason="x", actor=someone)
        with pytest.raises(PermissionDenied):
            roles.approve_limit_request(limit_request=pending, actor=someone)
        with pytest.raises(PermissionDenied):
            roles.reject_limit_request(limit_request=pending, actor=someone)
        with pytest.raises(PermissionDenied):
            roles.withdraw_limit_request(limit_request=pending, actor=someone)
        db.session.rollback()
    for refusal in (policy.can_propose_limit(None, manager), policy.can_decide_limit_request(None, pending),
                    policy.can_withdraw_limit_request(None, pending), policy.can_view_limit_requests(None)):
        assert refusal.error is PermissionDenied  # an anonymous caller
    assert policy.can_view_limit_requests(make_user("auditor")) is None  # auditors read them
    assert _user(manager.id).approval_limit_cents is None and _requests()[0].status is R.PENDING


def test_only_fund_managers_have_a_limit_and_one_change_is_pending_at_a_time(app, people, make_user):
    manager, admin, second = people
    with pytest.raises(Conflict, match="Only fund managers"):
        roles.propose_approval_limit(user=make_user("innovator"), limit_cents=1, reason="x", actor=admin)
    db.session.rollback()
    roles.propose_approval_limit(user=manager, limit_cents=1_000, reason="First", actor=admin)
    db.session.commit()
    with pytest.raises(Conflict, match="already pending"):
        roles.propose_approval_limit(user=manager, limit_cents=2_000, reason="Second", actor=second)
    db.session.rollback()
    assert len(_requests()) == 1


@pytest.mark.parametrize("limit, reason, field", [
    (-1, "why", "limit_cents"), (10**16, "why", "limit_cents"), ("100", "why", "limit_cents"),
    (True, "why", "limit_cents"), (1_000, "   ", "reason"), (1_000, "x" * 2001, "reason"),
    (None, "already the default", "limit_cents"),
])
def test_bad_input_is_refused_with_a_message_and_changes_nothing(app, people, limit, reason, field):
    manager, admin, _ = people
    with pytest.raises(ValidationFailed) as refused:
        roles.propose_approval_limit(user=manager, limit_cents=limit, reason=reason, actor=admin)
    db.session.rollback()
    assert field in refused.value.errors
    assert _requests() == []


def test_rejected_or_withdrawn_changes_nothing(app, people):
    manager, first, second = people
    pending = roles.propose_approval_limit(user=manager, limit_cents=1_000, reason="Lower", actor=first)
    db.session.commit()
    with pytest.raises(PermissionDenied, match="Only the administrator who proposed"):
        roles.withdraw_limit_request(limit_request=pending, actor=second)
    db.session.rollback()
    roles.reject_limit_request(limit_request=pending, actor=second, reason="Not agreed by the board")
    db.session.commit()
    assert (_requests()[0].status, _requests()[0].decision_reason) == (R.REJECTED, "Not agreed by the board")
    with pytest.raises(Conflict, match="already decided"):
        roles.approve_limit_request(limit_request=pending, actor=second)
    db.session.rollback()
    again = roles.propose_approval_limit(user=_user(manager.id), limit_cents=2_000, reason="Again", actor=first)
    roles.withdraw_limit_request(limit_request=again, actor=first)
    db.session.commit()
    assert [r.status for r in _requests()] == [R.REJECTED, R.WITHDRAWN]
    assert _user(manager.id).approval_limit_cents is None
    assert "approval_limit_request.rejected" in _actions() and "approval_limit_request.withdrawn" in _actions()


def test_proposing_and_approving_need_a_fresh_factor(app, people):
    manager, first, second = people
    with app.test_request_context("/"), pytest.raises(StepUpRequired):
        roles.propose_approval_limit(user=manager, limit_cents=1_000, reason="x", actor=first)
    db.session.rollback()
    pending = roles.propose_approval_limit(user=manager, limit_cents=1_000, reason="x", actor=first)
    db.session.commit()
    with app.test_request_context("/"), pytest.raises(StepUpRequired):
        roles.approve_limit_request(limit_request=pending, actor=second)
    db.session.rollback()
    assert _user(manager.id).approval_limit_cents is None


# --- the admin pages -------------------------------------------------------------------------------

def _html(response) -> str:
    return response.get_data(as_text=True)


def test_the_pages_show_limits_and_take_a_change_through_two_admins(app, people, login):
    manager, first, second = people
    one, two = app.test_client(), app.test_client()
    login(one, first)
    login(two, second)
    listing = _html(one.get("/admin/users"))
    assert "Approval limit" in listing and "USD 500,000.00 (the default)" in listing
    page = _html(one.get(f"/admin/users/{manager.id}/roles"))
    assert 'id="limit-heading"' in page and "(the default)" in page
    assert f'action="/admin/users/{manager.id}/approval-limit"' in page
    token = get_csrf(one, f"/admin/users/{manager.id}/roles")
    bad = one.post(f"/admin/users/{manager.id}/approval-limit",
                   data={"csrf_token": token, "limit-csrf_token": token, "limit-limit_cents": "lots",
                         "limit-reason": "Raise"})
    assert bad.status_code == 422 and "Give an amount in US dollars" in _html(bad)
    stale_factor(first)
    stale = one.post(f"/admin/users/{manager.id}/approval-limit",
                     data={"limit-csrf_token": token, "limit-limit_cents": "750,000", "limit-reason": "Raise"})
    assert stale.status_code == 302 and "/account/confirm" in stale.location  # step-up first
    assert _requests() == []
    prove_factor(first)
    done = one.post(f"/admin/users/{manager.id}/approval-limit",
                    data={"limit-csrf_token": token, "limit-limit_cents": "750,000", "limit-reason": "Raise"})
    assert done.status_code == 302
    [pending] = _requests()
    assert (pending.limit_cents, pending.reason) == (75_000_000, "Raise")
    mine = _html(one.get(f"/admin/users/{manager.id}/roles"))
    assert "You proposed this; a second administrator must decide it." in mine
    assert f'action="/admin/limit-requests/{pending.id}/withdraw"' in mine
    listing = _html(two.get("/admin/users"))
    assert f'action="/admin/limit-requests/{pending.id}/approve"' in listing
    token2 = get_csrf(two, "/admin/users")
    assert two.post(f"/admin/limit-requests/{pending.id}/approve", data={"csrf_token": token2}).status_code == 302
    assert _user(manager.id).approval_limit_cents == 75_000_000
    assert "up to USD 750,000.00" in _html(two.get(f"/admin/users/{manager.id}/roles"))


def test_the_page_says_why_an_admin_cannot_propose_their_own_limit(app, make_user, login):
    both = make_user("admin", "fund_manager")
    client = app.test_client()
    login(client, both)
    page = _html(client.get(f"/admin/users/{both.id}/roles"))
    assert "You cannot change your own approval limit; another administrator must." in page
    assert "/approval-limit" not in page


def test_a_fund_manager_cannot_reach_the_limit_pages(app, people, make_user, login):
    manager, admin, _ = people
    pending = roles.propose_approval_limit(user=manager, limit_cents=1_000, reason="x", actor=admin)
    db.session.commit()
    client = app.test_client()
    login(client, make_user("fund_manager"))
    token = get_csrf(client, "/")
    assert client.post(f"/admin/users/{manager.id}/approval-limit",
                       data={"limit-csrf_token": token, "limit-limit_cents": "1", "limit-reason": "x"}).status_code == 403
    assert client.post(f"/admin/limit-requests/{pending.id}/approve", data={"csrf_token": token}).status_code == 403
    assert app.test_client().post(f"/admin/limit-requests/{pending.id}/approve").status_code in (302, 400)
    assert _requests()[0].status is R.PENDING
