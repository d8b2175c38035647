"""Who may do what on the foundation's routes: anonymous, wrong role, wrong organisation are refused."""
import pytest

from facility.accounts.models import ApiToken, OrgKind
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.accounts import prove_factor

SIGNED_IN_PAGES = ["/dashboard", "/profile", "/profile/tokens"]
ADMIN_PAGES = ["/admin/users", "/admin/users/{user_id}/roles"]


@pytest.mark.parametrize("path", SIGNED_IN_PAGES + ADMIN_PAGES + ["/organizations/{org_id}"])
def test_anonymous_sent_to_sign_in(client, make_user, make_org, path):
    org = make_org()
    user = make_user("innovator", organization=org)
    response = client.get(path.format(user_id=user.id, org_id=org.id))
    assert response.status_code == 302 and "/signin" in response.location


@pytest.mark.parametrize("path", ADMIN_PAGES)
@pytest.mark.parametrize("role", ["innovator", "fund_manager", "city_official", "reviewer", "donor"])
def test_admin_pages_refuse_other_roles(client, make_user, login, path, role):
    user = make_user(role)
    login(client, user)
    assert client.get(path.format(user_id=user.id)).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_allow_admins(client, make_user, login, path):
    admin = make_user("admin")
    login(client, admin)
    assert client.get(path.format(user_id=admin.id)).status_code == 200


def test_non_admin_cannot_post_roles(client, make_user, login):
    target = make_user("innovator")
    attacker = make_user("fund_manager")
    login(client, attacker)
    token = get_csrf(client, "/profile")
    response = client.post(f"/admin/users/{target.id}/roles", data={"roles": ["admin"], "csrf_token": token})
    assert response.status_code == 403
    db.session.expire_all()
    assert target.roles == ["innovator"]


def test_admin_grants_a_role(client, make_user, login):
    target = make_user("innovator")
    admin = make_user("admin")
    login(client, admin)
    prove_factor(admin)  # changing roles is a step-up action
    token = get_csrf(client, f"/admin/users/{target.id}/roles")
    response = client.post(f"/admin/users/{target.id}/roles",
                           data={"roles": ["innovator", "reviewer"], "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert sorted(target.roles) == ["innovator", "reviewer"]


def test_organisation_page_refuses_other_organisations(client, make_user, make_org, login):
    mine = make_org(name="Mine")
    theirs = make_org(name="Theirs", kind=OrgKind.DONOR)
    member = make_user("innovator", organization=mine)
    login(client, member)
    assert client.get(f"/organizations/{mine.id}").status_code == 200
    assert client.get(f"/organizations/{theirs.id}").status_code == 404
    token = get_csrf(client, f"/organizations/{mine.id}")
    response = client.post(f"/organizations/{theirs.id}", data={"name": "Hijacked", "csrf_token": token})
    assert response.status_code == 404
    db.session.expire_all()
    assert theirs.name == "Theirs"


def test_organisation_member_edits_own(client, make_user, make_org, login):
    org = make_org(name="Before")
    login(client, make_user("innovator", organization=org))
    token = get_csrf(client, f"/organizations/{org.id}")
    assert client.post(f"/organizations/{org.id}", data={"name": "After", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert org.name == "After"


def test_cannot_revoke_another_users_token_on_page(client, make_user, login, api_headers):
    owner = make_user("donor")
    api_headers(owner)
    token_id = db.session.query(ApiToken).one().id
    login(client, make_user("donor"))
    csrf = get_csrf(client, "/profile/tokens")
    assert client.post(f"/profile/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).revoked_at is None


@pytest.mark.parametrize("method,path", [("get", "/api/v1/me"), ("get", "/api/v1/auth/tokens"),
                                         ("delete", "/api/v1/auth/tokens/1")])
def test_api_refuses_anonymous(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
