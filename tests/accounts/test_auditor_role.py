"""The auditor role: granted by admins or the create-user command, seeded in the demo, reads the
list of users and changes no one's roles; the predicates keep auditors out of staff."""
from __future__ import annotations

import pytest

from facility.accounts import policy, roles
from facility.accounts.demo import DEMO_USERS
from facility.accounts.models import Role, RoleGrantRequest, User
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.accounts import prove_factor


def test_predicates_read_but_never_staff(app, make_user):
    auditor = make_user("auditor")
    assert policy.is_auditor(auditor) and policy.reads_everything(auditor)
    assert not policy.is_staff(auditor) and not policy.is_fund_manager(auditor) and not policy.is_admin(auditor)
    for role in ("fund_manager", "admin"):
        assert policy.reads_everything(make_user(role))
    for role in ("innovator", "city_official", "donor", "reviewer"):
        assert not policy.reads_everything(make_user(role)), role
    assert not policy.reads_everything(None)


def test_role_refusals_tell_an_auditor_why(app, make_user):
    auditor, donor = make_user("auditor"), make_user("donor")
    assert policy.require_fund_manager(auditor).reason == "Auditors can read everything but change nothing."
    assert policy.require_fund_manager(donor).reason == "Only fund managers may do this."
    assert policy.can_manage_roles(auditor, donor).reason == "Auditors can read everything but change nothing."


def test_admin_roles_page_offers_the_auditor_role_with_its_label(client, make_user, login):
    target = make_user("innovator")
    login(client, make_user("admin"))
    html = client.get(f"/admin/users/{target.id}/roles").get_data(as_text=True)
    assert 'value="auditor"' in html and "Auditor" in html


def test_admin_grants_the_auditor_role(app, client, make_user, login):
    """Granting auditor is a request until a second admin approves it (tests/accounts/test_duties.py)."""
    target = make_user("donor")
    admin = make_user("admin")
    login(client, admin)
    prove_factor(admin)
    token = get_csrf(client, f"/admin/users/{target.id}/roles")
    response = client.post(f"/admin/users/{target.id}/roles", data={"roles": ["auditor"], "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert target.roles == []
    pending = db.session.query(RoleGrantRequest).filter_by(person_id=target.id).one()
    assert pending.roles == ["auditor"]
    roles.approve_role_request(role_request=pending, actor=make_user("admin"))  # outside a request: the shell
    db.session.commit()
    assert db.session.get(User, target.id).roles == ["auditor"]


def test_create_user_command_makes_an_auditor(app):
    result = app.test_cli_runner().invoke(args=["facility", "create-user", "audit@example.org", "--role", "auditor",
                                                "--password", "auditor password 2026"])
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(email="audit@example.org").one().roles == ["auditor"]


def test_demo_has_an_auditor():
    assert [email for email, _label, roles, _org in DEMO_USERS if Role.AUDITOR in roles] == ["auditor@demo.facility"]


def test_auditor_reads_the_users_list_without_edit_links(client, make_user, login):
    target = make_user("innovator")
    login(client, make_user("auditor"))
    response = client.get("/admin/users")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and target.email in html
    assert f"/admin/users/{target.id}/roles" not in html
    assert 'href="/admin/users"' in client.get("/dashboard").get_data(as_text=True)  # the nav link


@pytest.mark.parametrize("method", ["get", "post"])
def test_auditor_cannot_change_roles(client, make_user, login, method):
    target = make_user("innovator")
    auditor = make_user("auditor")
    login(client, auditor)
    token = get_csrf(client, "/profile")
    call = getattr(client, method)
    response = call(f"/admin/users/{target.id}/roles", data={"roles": ["admin"], "csrf_token": token})
    assert response.status_code == 403
    assert "Auditors can read everything but change nothing." in response.get_data(as_text=True)
    db.session.expire_all()
    assert target.roles == ["innovator"] and auditor.roles == ["auditor"]


@pytest.mark.parametrize("role", ["innovator", "fund_manager", "city_official", "reviewer", "donor"])
def test_users_list_still_refuses_other_roles(client, make_user, login, role):
    login(client, make_user(role))
    assert client.get("/admin/users").status_code == 403
