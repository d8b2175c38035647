import pytest

from facility.accounts import roles, services
from facility.accounts.models import Role
from facility.core.errors import PermissionDenied, ValidationFailed
from facility.extensions import db

GOOD = "correct horse battery staple"


@pytest.mark.parametrize("password", ["short", "elevenchars"])
def test_short_passwords_refused(password):
    assert any("12" in p for p in services.password_problems(password))


def test_common_passwords_refused_even_when_long(app):
    common = services.common_passwords()
    assert len(common) == 3000
    long_common = sorted(p for p in common if len(p) >= 12)
    assert long_common, "the list holds long common passwords too"
    for password in long_common[:5]:
        assert services.password_problems(password), password
        assert services.password_problems(password.upper()), "case does not help"


def test_good_password_accepted(app):
    assert services.password_problems(GOOD) == []


def test_passwords_hashed_with_argon2id(app):
    hashed = services.hash_password(GOOD)
    assert hashed.startswith("$argon2id$")
    assert GOOD not in hashed


def test_register_innovator_creates_organisation(app):
    user = services.register_user(
        email="  Founder@Example.ORG ", password=GOOD, name="Ada", role="innovator",
        organization={"name": "Kiosk Labs", "country": "ken", "org_type": "startup"},
    )
    db.session.commit()
    assert user.email == "founder@example.org"
    assert user.roles == ["innovator"]
    assert user.organization.name == "Kiosk Labs"
    assert user.organization.country == "KEN"
    assert user.organization.org_type.value == "startup"


@pytest.mark.parametrize("role", ["fund_manager", "reviewer", "admin"])
def test_self_signup_as_privileged_role_refused(app, role):
    with pytest.raises(ValidationFailed) as info:
        services.register_user(email="x@example.org", password=GOOD, name="X", role=role)
    assert "role" in info.value.errors


def test_register_reports_every_problem_at_once(app):
    with pytest.raises(ValidationFailed) as info:
        services.register_user(email="bad", password="short", name="", role="innovator",
                               organization={"name": "", "country": "XXX", "org_type": "pirate"})
    errors = info.value.errors
    assert {"email", "password", "name", "organization.name", "organization.country",
            "organization.org_type"} <= set(errors)


def test_duplicate_email_refused(app, make_user):
    make_user("donor", email="taken@example.org")
    with pytest.raises(ValidationFailed) as info:
        services.register_user(email="TAKEN@example.org", password=GOOD, name="X", role="donor")
    assert "email" in info.value.errors


def test_admin_may_create_any_role(app, make_user):
    admin = make_user("admin")
    user = services.register_user(email="fm@example.org", password=GOOD, name="FM", role="fund_manager", actor=admin)
    assert user.has_role(Role.FUND_MANAGER)


def test_authenticate(app, make_user):
    user = make_user("donor", email="d@example.org")
    assert services.authenticate(email="D@example.org", password="a-long-test-password-42") == user
    assert services.authenticate(email="d@example.org", password="wrong password here") is None
    assert services.authenticate(email="nobody@example.org", password="whatever-it-is") is None
    user.active = False
    assert services.authenticate(email="d@example.org", password="a-long-test-password-42") is None


def test_reset_token_single_use(app, make_user):
    user = make_user("donor")
    token = services.password_reset_token(user)
    assert services.user_for_reset_token(token) == user
    services.change_password(user=user, new_password=GOOD)
    assert services.user_for_reset_token(token) is None
    assert services.user_for_reset_token("garbage") is None


def test_change_password_ends_sessions_and_tokens(app, make_user):
    user = make_user("donor")
    session_token = services.start_session(user=user)
    _, api_token = services.issue_api_token(user=user)
    db.session.commit()
    assert services.load_session_user(session_token) == user
    assert services.user_for_api_token(api_token) == user
    services.change_password(user=user, new_password=GOOD)
    db.session.commit()
    assert services.load_session_user(session_token) is None
    assert services.user_for_api_token(api_token) is None


def test_api_tokens_stored_hashed(app, make_user):
    from facility.accounts.models import ApiToken

    user = make_user("donor")
    token, plain = services.issue_api_token(user=user)
    db.session.commit()
    stored = db.session.get(ApiToken, token.id)
    assert plain not in (stored.token_hash, stored.prefix)
    assert len(stored.token_hash) == 64


def test_only_admins_set_roles_and_never_their_own(app, make_user):
    admin = make_user("admin")
    other = make_user("innovator")
    with pytest.raises(PermissionDenied):
        roles.set_roles(user=admin, roles=["innovator"], actor=other)
    with pytest.raises(PermissionDenied):
        roles.set_roles(user=admin, roles=["fund_manager"], actor=admin)
    roles.set_roles(user=other, roles=["reviewer", "innovator"], actor=admin)
    assert sorted(other.roles) == ["innovator", "reviewer"]
