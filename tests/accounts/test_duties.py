"""Separation of duties for accounts: nobody changes their own roles; granting fund manager, administrator or
auditor takes a second administrator's approval; changing roles and approving need a fresh factor; admins
deactivate accounts, which ends every session and token at once."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.accounts import policy, roles
from facility.accounts.models import ROLE_REQUEST_TRANSITIONS, RoleGrantRequest, RoleRequestStatus, User
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


def _requests_for(person: User) -> list[RoleGrantRequest]:
    return list(db.session.execute(sa.select(RoleGrantRequest).where(RoleGrantRequest.person_id == person.id))
                .scalars())


# --- the rules, as the services apply them ---------------------------------------------------------

def test_nobody_changes_their_own_roles(app, make_user):
    admin = make_user("admin")
    for wanted in (["admin", "fund_manager"], ["innovator"], ["admin"]):
        with pytest.raises(PermissionDenied, match="your own roles"):
            roles.set_roles(user=admin, roles=wanted, actor=admin)
        db.session.rollback()
    assert _user(admin.id).roles == ["admin"]
    assert policy.can_set_roles(admin, admin).error is PermissionDenied


def test_the_wrong_role_cannot_change_roles_or_decide(app, make_user):
    target, admin = make_user("innovator"), make_user("admin")
    change = roles.set_roles(user=target, roles=["innovator", "fund_manager"], actor=admin)
    db.session.commit()
    for who in ("fund_manager", "auditor", "innovator"):
        someone = make_user(who)
        with pytest.raises(PermissionDenied):
            roles.set_roles(user=target, roles=["reviewer"], actor=someone)
        with pytest.raises(PermissionDenied):
            roles.approve_role_request(role_request=change.request, actor=someone)
        db.session.rollback()
    assert policy.can_decide_role_request(None, change.request).error is PermissionDenied


def test_staff_roles_become_a_request_and_others_act_at_once(app, make_user):
    target, admin = make_user("innovator"), make_user("admin")
    change = roles.set_roles(user=target, roles=["reviewer", "fund_manager", "auditor"], actor=admin)
    db.session.commit()
    assert sorted(_user(target.id).roles) == ["reviewer"]  # innovator removed, reviewer granted at once
    pending = change.request
    assert pending is not None and (pending.status, pending.roles) == (R.PENDING, ["auditor", "fund_manager"])
    assert (pending.person_id, pending.requested_by_id) == (target.id, admin.id)
    assert _actions()[-2:] == ["user.roles_changed", "role_request.created"]
    again = roles.set_roles(user=_user(target.id), roles=["reviewer", "fund_manager", "auditor"], actor=admin)
    assert again.request.id == pending.id  # the same pending request, not a second one
    assert len(_requests_for(target)) == 1


def test_a_second_admin_approves_and_the_roles_take_effect(app, make_user):
    target, first, second = make_user("innovator"), make_user("admin"), make_user("admin")
    pending = roles.set_roles(user=target, roles=["innovator", "fund_manager"], actor=first).request
    db.session.commit()
    with pytest.raises(PermissionDenied, match="second administrator"):
        roles.approve_role_request(role_request=pending, actor=first)
    db.session.rollback()
    assert policy.can_decide_role_request(_user(first.id), pending).error is PermissionDenied
    roles.approve_role_request(role_request=pending, actor=second)
    db.session.commit()
    assert sorted(_user(target.id).roles) == ["fund_manager", "innovator"]
    decided = db.session.get(RoleGrantRequest, pending.id)
    assert (decided.status, decided.decided_by_id) == (R.APPROVED, second.id) and decided.decided_at is not None
    assert _actions()[-2:] == ["role_request.approved", "user.roles_changed"]
    with pytest.raises(Conflict):
        roles.approve_role_request(role_request=decided, actor=make_user("admin"))


def test_the_person_cannot_approve_a_request_for_themselves(app, make_user):
    admin_to_be, first = make_user("admin"), make_user("admin")
    pending = roles.set_roles(user=admin_to_be, roles=["admin", "fund_manager"], actor=first).request
    db.session.commit()
    with pytest.raises(PermissionDenied, match="your own roles"):
        roles.approve_role_request(role_request=pending, actor=admin_to_be)
    db.session.rollback()
    assert _user(admin_to_be.id).roles == ["admin"]


def test_reject_and_withdraw_change_nothing(app, make_user):
    target, first, second = make_user("donor"), make_user("admin"), make_user("admin")
    one = roles.set_roles(user=target, roles=["donor", "auditor"], actor=first).request
    db.session.commit()
    with pytest.raises(ValidationFailed):
        roles.reject_role_request(role_request=one, actor=second, reason="x" * 5000)
    db.session.rollback()
    roles.reject_role_request(role_request=one, actor=second, reason="Not in the staff plan.")
    db.session.commit()
    assert (db.session.get(RoleGrantRequest, one.id).status, _user(target.id).roles) == (R.REJECTED, ["donor"])
    two = roles.set_roles(user=_user(target.id), roles=["donor", "admin"], actor=first).request
    db.session.commit()
    with pytest.raises(PermissionDenied):
        roles.withdraw_role_request(role_request=two, actor=second)  # only the requester withdraws
    db.session.rollback()
    roles.withdraw_role_request(role_request=two, actor=first)
    db.session.commit()
    assert (db.session.get(RoleGrantRequest, two.id).status, _user(target.id).roles) == (R.WITHDRAWN, ["donor"])
    assert {"role_request.rejected", "role_request.withdrawn"} <= set(_actions())


def test_role_request_transitions_end_in_a_decision():
    assert ROLE_REQUEST_TRANSITIONS.final == {R.APPROVED, R.REJECTED, R.WITHDRAWN}
    assert set(ROLE_REQUEST_TRANSITIONS.pairs()) == {(R.PENDING, R.APPROVED), (R.PENDING, R.REJECTED),
                                                      (R.PENDING, R.WITHDRAWN)}


def test_changing_roles_and_approving_need_a_fresh_factor_in_a_request(app, make_user):
    target, first, second = make_user("innovator"), make_user("admin"), make_user("admin")
    with app.test_request_context("/"), pytest.raises(StepUpRequired):
        roles.set_roles(user=target, roles=["reviewer"], actor=first)
    db.session.rollback()
    assert _user(target.id).roles == ["innovator"]
    pending = roles.set_roles(user=_user(target.id), roles=["fund_manager"], actor=first).request  # the shell
    db.session.commit()
    with app.test_request_context("/"), pytest.raises(StepUpRequired):
        roles.approve_role_request(role_request=pending, actor=second)
    db.session.rollback()
    assert db.session.get(RoleGrantRequest, pending.id).status is R.PENDING


def test_the_create_user_command_still_creates_staff(app):
    result = app.test_cli_runner().invoke(args=["facility", "create-user", "fm@example.org", "--role", "fund_manager",
                                                "--password", "a long fund manager password"])
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(email="fm@example.org").one().roles == ["fund_manager"]


def test_deactivation_rules(app, make_user):
    admin, person = make_user("admin"), make_user("innovator")
    with pytest.raises(PermissionDenied):
        roles.deactivate_user(user=admin, actor=admin)
    for who in ("fund_manager", "auditor", "innovator"):
        with pytest.raises(PermissionDenied):
            roles.deactivate_user(user=person, actor=make_user(who))
    db.session.rollback()
    roles.deactivate_user(user=person, actor=admin)
    db.session.commit()
    assert _user(person.id).active is False
    assert {"user.sessions_ended", "user.deactivated"} <= set(_actions())
    with pytest.raises(Conflict):
        roles.deactivate_user(user=_user(person.id), actor=admin)
    db.session.rollback()
    roles.reactivate_user(user=_user(person.id), actor=admin)
    db.session.commit()
    assert _user(person.id).active is True


# --- the pages ---------------------------------------------------------------------------------------

def _post(client, path, data=None, csrf_from="/profile"):
    return client.post(path, data={"csrf_token": get_csrf(client, csrf_from), **(data or {})})


def test_the_roles_page_refuses_ones_own_roles(client, make_user, login):
    admin = make_user("admin")
    login(client, admin)
    prove_factor(admin)
    page = client.get(f"/admin/users/{admin.id}/roles").get_data(as_text=True)
    assert "You cannot change your own roles" in page and 'name="roles"' not in page
    response = _post(client, f"/admin/users/{admin.id}/roles", {"roles": ["admin", "fund_manager"]})
    assert response.status_code == 403
    assert _user(admin.id).roles == ["admin"]


def test_granting_fund_manager_on_the_page_waits_for_a_second_admin(app, make_user, login):
    target, first, second = make_user("innovator"), make_user("admin"), make_user("admin")
    one = app.test_client()
    login(one, first)
    prove_factor(first)
    response = _post(one, f"/admin/users/{target.id}/roles", {"roles": ["innovator", "fund_manager"]},
                     csrf_from=f"/admin/users/{target.id}/roles")
    assert response.status_code == 302
    assert "needs a second administrator" in one.get(response.location).get_data(as_text=True)
    assert _user(target.id).roles == ["innovator"]
    [pending] = _requests_for(target)
    mine = one.get("/admin/users").get_data(as_text=True)
    assert "Role requests awaiting a second administrator" in mine
    assert f'action="/admin/role-requests/{pending.id}/approve"' not in mine  # not for the requester
    refused = _post(one, f"/admin/role-requests/{pending.id}/approve")
    assert refused.status_code == 403 and _user(target.id).roles == ["innovator"]
    assert db.session.get(RoleGrantRequest, pending.id).status is R.PENDING

    two = app.test_client()
    login(two, second)
    listing = two.get("/admin/users").get_data(as_text=True)
    assert f'action="/admin/role-requests/{pending.id}/approve"' in listing
    stale_factor(second)  # the sign-in code was a while ago
    asked = _post(two, f"/admin/role-requests/{pending.id}/approve")
    assert asked.status_code == 302 and "/account/confirm" in asked.location  # step-up first
    assert _user(target.id).roles == ["innovator"]
    prove_factor(second)
    approved = _post(two, f"/admin/role-requests/{pending.id}/approve")
    assert approved.status_code == 302
    assert sorted(_user(target.id).roles) == ["fund_manager", "innovator"]


def test_a_second_admin_rejects_on_the_page(app, make_user, login):
    target, first, second = make_user("donor"), make_user("admin"), make_user("admin")
    pending = roles.set_roles(user=target, roles=["donor", "admin"], actor=first).request
    db.session.commit()
    client = app.test_client()
    login(client, second)
    response = _post(client, f"/admin/role-requests/{pending.id}/reject", {"reason": "Not agreed", "back": "user"})
    assert response.status_code == 302 and response.location.endswith(f"/admin/users/{target.id}/roles")
    assert db.session.get(RoleGrantRequest, pending.id).status is R.REJECTED
    assert _user(target.id).roles == ["donor"]


def test_role_request_pages_refuse_the_wrong_people(app, make_user, login):
    target, first = make_user("donor"), make_user("admin")
    pending = roles.set_roles(user=target, roles=["donor", "auditor"], actor=first).request
    db.session.commit()
    for path in (f"/admin/role-requests/{pending.id}/approve", f"/admin/role-requests/{pending.id}/reject",
                 f"/admin/role-requests/{pending.id}/withdraw"):
        assert app.test_client().post(path).status_code in (302, 400)  # anonymous: to sign in (or no CSRF)
    manager = app.test_client()
    login(manager, make_user("fund_manager"))
    auditor = app.test_client()
    login(auditor, make_user("auditor"))
    for client in (manager, auditor):
        assert _post(client, f"/admin/role-requests/{pending.id}/approve").status_code == 403
        assert _post(client, f"/admin/users/{target.id}/deactivate", {"confirm": "y"}).status_code == 403
    assert db.session.get(RoleGrantRequest, pending.id).status is R.PENDING
    assert _user(target.id).active is True


def test_deactivating_on_the_page_ends_the_persons_cookie_and_token(app, make_user, login, api_headers):
    admin, person = make_user("admin"), make_user("innovator")
    victim = app.test_client()
    login(victim, person)
    headers = api_headers(person)
    assert victim.get("/profile").status_code == 200
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    client = app.test_client()
    login(client, admin)
    page = client.get(f"/admin/users/{person.id}/roles").get_data(as_text=True)
    assert f'href="/admin/users/{person.id}/deactivate"' in page
    unticked = _post(client, f"/admin/users/{person.id}/deactivate", csrf_from=f"/admin/users/{person.id}/deactivate")
    assert unticked.status_code == 422 and _user(person.id).active is True
    response = _post(client, f"/admin/users/{person.id}/deactivate", {"confirm": "y"},
                     csrf_from=f"/admin/users/{person.id}/deactivate")
    assert response.status_code == 302
    assert _user(person.id).active is False
    assert victim.get("/profile").status_code == 302  # the old cookie: signed out
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401
    assert "Reactivate" in client.get(f"/admin/users/{person.id}/roles").get_data(as_text=True)
    assert _post(client, f"/admin/users/{person.id}/reactivate").status_code == 302
    assert _user(person.id).active is True


def test_an_admin_cannot_deactivate_themselves_on_the_page(client, make_user, login):
    admin = make_user("admin")
    login(client, admin)
    assert "Deactivate" not in client.get(f"/admin/users/{admin.id}/roles").get_data(as_text=True)
    response = _post(client, f"/admin/users/{admin.id}/deactivate", {"confirm": "y"})
    assert response.status_code == 403
    assert _user(admin.id).active is True
    assert client.get("/profile").status_code == 200
