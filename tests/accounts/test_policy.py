"""accounts.policy's account actions: the right person is allowed; the wrong role, another
organisation's member and an anonymous visitor are refused (and the services refuse the same)."""
from __future__ import annotations

import pytest

from facility.accounts import policy, queries, services
from facility.accounts.models import Role
from facility.core.errors import NotFound, PermissionDenied
from facility.extensions import db


@pytest.fixture
def people(make_user, make_org):
    org, other_org = make_org(name="SolarKiosk"), make_org(name="WaterWatch")
    return {"member": make_user("innovator", organization=org), "outsider": make_user("innovator", organization=other_org),
            "fund_manager": make_user("fund_manager"), "admin": make_user("admin"), "anonymous": None,
            "org": org}


def _allowed(check, people, obj):
    return {name for name, user in people.items() if name != "org" and check(user, obj) is None}


def _error(check, user, obj):
    refusal = check(user, obj)
    assert refusal is not None
    return refusal.error


def test_edit_an_organisation(people):
    org = people["org"]
    assert _allowed(policy.can_edit_organization, people, org) == {"member", "admin"}
    for who in ("outsider", "fund_manager", "anonymous"):
        assert _error(policy.can_edit_organization, people[who], org) is NotFound
    with pytest.raises(NotFound):
        queries.get_visible_organization(people["outsider"], org.id)
    with pytest.raises(NotFound):
        services.update_organization(organization=org, actor=people["outsider"], name="Taken", website=None,
                                     description=None)
    services.update_organization(organization=org, actor=people["member"], name="  SolarKiosk   Labs ",
                                 website="https://kiosk.example", description="Water.")
    db.session.commit()
    assert org.name == "SolarKiosk Labs"


def test_edit_a_profile(people):
    member = people["member"]
    assert _allowed(policy.can_edit_profile, people, member) == {"member", "admin"}
    for who in ("outsider", "fund_manager", "anonymous"):
        assert _error(policy.can_edit_profile, people[who], member) is PermissionDenied


def test_list_users_and_manage_roles(people):
    member, admin = people["member"], people["admin"]
    assert {name for name, user in people.items() if name != "org" and policy.can_list_users(user) is None} == {
        "admin"}
    assert _allowed(policy.can_manage_roles, people, member) == {"admin"}
    for who in ("member", "outsider", "fund_manager", "anonymous"):
        assert _error(policy.can_manage_roles, people[who], member) is PermissionDenied
    assert _error(lambda user, person: policy.can_set_roles(user, person, {Role.FUND_MANAGER}), admin,
                  admin) is PermissionDenied  # nobody changes their own roles (tests/accounts/test_duties.py)
    assert policy.can_set_roles(admin, member, {Role.REVIEWER}) is None
    with pytest.raises(PermissionDenied):
        queries.get_manageable_user(people["fund_manager"], member.id)
    with pytest.raises(NotFound):
        queries.get_manageable_user(admin, 999_999)


def test_revoke_a_token(people):
    token, _plain = services.issue_api_token(user=people["member"], name="laptop")
    db.session.commit()
    assert _allowed(policy.can_revoke_token, people, token) == {"member", "admin"}
    for who in ("outsider", "fund_manager", "anonymous"):
        assert _error(policy.can_revoke_token, people[who], token) is NotFound
    with pytest.raises(NotFound):
        services.revoke_api_token(token_id=token.id, actor=people["outsider"])
    with pytest.raises(NotFound):
        services.revoke_api_token(token_id=999_999, actor=people["admin"])
