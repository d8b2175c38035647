"""Two-step sign-in on pages: enrolment (QR as SVG, no script), the sign-in's second step (a code accepted once,
recovery codes once each), the enrolment gate for staff, and the services refusing an un-enrolled fund manager."""
from __future__ import annotations

import re

import pyotp
import pytest
import sqlalchemy as sa

from facility.accounts import roles as role_changes
from facility.accounts import totp
from facility.accounts.models import RecoveryCode, User, UserSession
from facility.audit.models import AuditEvent
from facility.core.errors import PermissionDenied
from facility.disbursements import policy as disbursement_policy
from facility.extensions import db
from tests.conftest import PASSWORD, csrf_token_from, pass_second_step, sign_in
from tests.factories.accounts import TEST_TOTP_SECRET, fresh_code


def _actions(user: User) -> list[str]:
    return list(db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.actor_id == user.id)
                                   .order_by(AuditEvent.id)).scalars())


def _post(client, path, data, page=None):
    token = csrf_token_from(client.get(page or path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def _signed_in(client) -> bool:
    response = client.get("/profile")
    return response.status_code == 200


# --- enrolment ----------------------------------------------------------------------------------

def test_enrolment_asks_the_password_shows_an_svg_qr_and_turns_on_with_a_code(client, login, make_user, clock):
    user = make_user("innovator")
    login(client, user)
    page = client.get("/profile").get_data(as_text=True)
    assert 'href="/account/two-step"' in page

    wrong = _post(client, "/account/two-step/start", {"start-password": "not-my-password"}, "/account/two-step")
    assert wrong.status_code == 422 and "not your password" in wrong.get_data(as_text=True)
    db.session.refresh(user)
    assert user.totp_secret_encrypted is None

    setup = _post(client, "/account/two-step/start", {"start-password": PASSWORD}, "/account/two-step")
    html = setup.get_data(as_text=True)
    assert setup.status_code == 200 and setup.headers["Cache-Control"] == "no-store"
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg and "<path" in svg.group(0) and "script" not in svg.group(0).lower() and "on" not in re.findall(
        r"\s(on)\w+=", svg.group(0))
    db.session.refresh(user)
    secret = totp.secret_of(user)
    assert secret and " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in html
    assert user.mfa_enrolled_at is None  # pending until a code confirms it

    token = csrf_token_from(html)
    bad = client.post("/account/two-step/confirm", data={"on-code": "000000", "csrf_token": token})
    assert bad.status_code == 422 and "<svg" in bad.get_data(as_text=True)
    db.session.refresh(user)
    assert user.mfa_enrolled_at is None

    done = client.post("/account/two-step/confirm",
                       data={"on-code": pyotp.TOTP(secret).now(), "csrf_token": token})
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(set(codes)) == 10 and done.headers["Cache-Control"] == "no-store"
    db.session.refresh(user)
    assert user.mfa_enrolled_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.user_id == user.id)) == 10
    assert {"user.mfa_enrolment_started", "user.mfa_enabled"} <= set(_actions(user))


def test_starting_again_never_replaces_an_active_secret(client, login, make_user):
    user = make_user("fund_manager")
    login(client, user)
    response = _post(client, "/account/two-step/start", {"start-password": PASSWORD}, "/account/two-step")
    assert response.status_code == 422  # already on: the page says so, the secret stays
    db.session.refresh(user)
    assert totp.secret_of(user) == TEST_TOTP_SECRET


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(client, login, make_user, clock):
    user = make_user("admin")
    old = totp.new_recovery_codes(user)
    db.session.commit()
    login(client, user)
    clock.shift(seconds=30)
    wrong = _post(client, "/account/two-step/recovery-codes", {"rc-code": "123456"}, "/account/two-step")
    assert wrong.status_code == 422
    response = _post(client, "/account/two-step/recovery-codes", {"rc-code": fresh_code(user)}, "/account/two-step")
    new = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", response.get_data(as_text=True))
    assert response.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    assert not totp.use_recovery_code(user, old[0]) and totp.use_recovery_code(user, new[0])
    assert "user.mfa_recovery_codes_replaced" in _actions(user)


def test_turning_off_asks_a_code_and_is_refused_to_roles_that_need_it(client, login, make_user, clock):
    innovator = make_user("innovator", enrolled=True)
    login(client, innovator)
    clock.shift(seconds=30)
    assert _post(client, "/account/two-step/off", {"off-code": "999999"}, "/account/two-step").status_code == 422
    response = _post(client, "/account/two-step/off", {"off-code": fresh_code(innovator)}, "/account/two-step")
    assert response.status_code == 302
    db.session.refresh(innovator)
    assert innovator.mfa_enrolled_at is None and innovator.totp_secret_encrypted is None
    assert "user.mfa_disabled" in _actions(innovator)

    manager = make_user("fund_manager")
    other = client.application.test_client()
    sign_in(other, manager)
    clock.shift(seconds=30)
    assert "cannot be turned off" in other.get("/account/two-step").get_data(as_text=True)
    refused = _post(other, "/account/two-step/off", {"off-code": fresh_code(manager)}, "/account/two-step")
    assert refused.status_code == 403
    db.session.refresh(manager)
    assert manager.mfa_enrolled_at is not None


def test_enrolment_pages_need_a_signed_in_person(client):
    for path in ("/account/two-step", "/account/confirm"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.location


# --- the sign-in's second step ------------------------------------------------------------------

def _password_step(client, email, password=PASSWORD):
    token = csrf_token_from(client.get("/signin").get_data(as_text=True))
    return client.post("/signin", data={"email": email, "password": password, "csrf_token": token})


def test_an_enrolled_person_enters_a_code_after_the_password(client, make_user, clock):
    user = make_user("fund_manager")
    first = _password_step(client, user.email)
    assert first.status_code == 302 and first.location.endswith("/signin/verify")
    assert not _signed_in(client)  # nobody is signed in between the two steps

    wrong = pass_second_step(client, user.email, code="000000")
    assert wrong.status_code == 422 and not _signed_in(client)
    assert "user.second_factor_failed" in _actions(user)

    done = pass_second_step(client, user.email)
    assert done.status_code == 302 and _signed_in(client)
    row = db.session.execute(sa.select(UserSession).where(UserSession.user_id == user.id)
                             ).scalar_one()
    assert row.factor_verified_at is not None  # the session starts fresh for step-up actions


def test_a_code_is_accepted_once(client, make_user, clock):
    user = make_user("auditor")
    code = fresh_code(user)
    _password_step(client, user.email)
    assert pass_second_step(client, user.email, code=code).status_code == 302

    again = client.application.test_client()
    _password_step(again, user.email)
    replay = pass_second_step(again, user.email, code=code)
    assert replay.status_code == 422 and "already used" in replay.get_data(as_text=True)
    assert not _signed_in(again)


def test_a_recovery_code_works_once(client, make_user, clock):
    user = make_user("fund_manager")
    codes = totp.new_recovery_codes(user)
    db.session.commit()
    _password_step(client, user.email)
    assert pass_second_step(client, user.email, code=codes[3].upper()).status_code == 302
    assert "user.recovery_code_used" in _actions(user)

    again = client.application.test_client()
    _password_step(again, user.email)
    assert pass_second_step(again, user.email, code=codes[3]).status_code == 422
    assert pass_second_step(again, user.email, code=codes[4]).status_code == 302


def test_the_second_step_without_a_first_goes_back_to_sign_in(client, make_user):
    response = client.get("/signin/verify")
    assert response.status_code == 302 and response.location.endswith("/signin")


def test_the_second_step_expires(client, make_user, clock):
    user = make_user("fund_manager")
    _password_step(client, user.email)
    clock.shift(seconds=301)
    response = client.get("/signin/verify")
    assert response.status_code == 302 and response.location.endswith("/signin")


def test_wrong_codes_count_against_the_sign_in_limit(client, make_user, app, clock):
    user = make_user("fund_manager")
    _password_step(client, user.email)
    limit = int(str(app.config["SIGNIN_LIMIT_PER_ACCOUNT"]).split()[0].split("/")[0])
    statuses = [pass_second_step(client, user.email, code="000000").status_code for _ in range(limit + 1)]
    assert statuses[-1] == 429, statuses


def test_next_survives_the_second_step_and_stays_on_the_site(client, make_user, clock):
    user = make_user("fund_manager")
    token = csrf_token_from(client.get("/signin").get_data(as_text=True))
    client.post("/signin?next=/profile", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert pass_second_step(client, user.email).location.endswith("/profile")

    other = client.application.test_client()
    token = csrf_token_from(other.get("/signin").get_data(as_text=True))
    other.post("/signin?next=//evil.example/x", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    clock.shift(seconds=30)
    assert "evil" not in pass_second_step(other, user.email).location


# --- the gate ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["fund_manager", "admin", "auditor"])
def test_unenrolled_staff_can_only_enrol(client, login, make_user, role):
    user = make_user(role, enrolled=False)
    login(client, user)  # no second step yet
    for path in ("/dashboard", "/profile", "/admin/users", "/"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/account/two-step"), path
    assert client.get("/account/two-step").status_code == 200
    response = _post(client, "/signout", {}, "/account/two-step")
    assert response.status_code == 302 and not _signed_in(client)


def test_people_who_may_enrol_are_not_gated(client, login, make_user):
    login(client, make_user("innovator"))
    assert client.get("/dashboard").status_code == 200


def test_services_refuse_an_unenrolled_fund_manager_and_admin(app, make_user):
    manager = make_user("fund_manager", enrolled=False)
    refusal = disbursement_policy.can_manage(manager)
    assert refusal is not None and "second factor" in refusal.reason
    assert disbursement_policy.can_manage(make_user("fund_manager")) is None

    admin, person = make_user("admin", enrolled=False), make_user("innovator")
    with pytest.raises(PermissionDenied, match="second factor"):
        role_changes.set_roles(user=person, roles=["reviewer"], actor=admin)
    db.session.rollback()
    role_changes.set_roles(user=person, roles=["reviewer"], actor=make_user("admin"))
    assert person.has_role("reviewer")
