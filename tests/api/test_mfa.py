"""Two-step sign-in in the API: enrolment, tokens that need a code, enrol-only tokens, and X-OTP step-up;
StepUpRequired answered as a problem (API) or a trip to the confirm page (pages)."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from facility.accounts import factors, services
from facility.accounts.models import ApiToken, UserSession
from facility.api.auth import ApiError, load_bearer_user
from facility.core.errors import StepUpRequired
from facility.extensions import db
from tests.conftest import PASSWORD, csrf_token_from
from tests.factories.accounts import fresh_code

TOKENS = "/api/v1/auth/tokens"


def _token(client, user, **extra):
    return client.post(TOKENS, json={"email": user.email, "password": PASSWORD, **extra})


def _bearer(plain):
    return {"Authorization": f"Bearer {plain}"}


def test_enrolment_through_the_api(client, make_user, api_headers, clock):
    user = make_user("donor")
    headers = api_headers(user)
    wrong = client.post("/api/v1/me/mfa/totp", json={"password": "nope-nope-nope"}, headers=headers)
    assert wrong.status_code == 422 and "password" in wrong.get_json()["errors"]
    assert wrong.content_type == "application/problem+json"

    started = client.post("/api/v1/me/mfa/totp", json={"password": PASSWORD}, headers=headers)
    body = started.get_json()
    assert started.status_code == 200 and body["uri"].startswith("otpauth://totp/") and body["secret"] in body["uri"]

    bad = client.post("/api/v1/me/mfa/totp/confirm", json={"otp": "000000"}, headers=headers)
    assert bad.status_code == 422 and "otp" in bad.get_json()["errors"]
    code = pyotp.TOTP(body["secret"]).now()
    done = client.post("/api/v1/me/mfa/totp/confirm", json={"otp": code}, headers=headers)
    assert done.status_code == 200 and len(set(done.get_json()["recovery_codes"])) == 10
    db.session.refresh(user)
    assert user.mfa_enrolled_at is not None

    again = client.post("/api/v1/me/mfa/totp/confirm", json={"otp": code}, headers=headers)
    assert again.status_code == 409  # already on
    assert client.post("/api/v1/me/mfa/totp", json={"password": PASSWORD}, headers=headers).status_code == 409


def test_enrolment_endpoints_need_a_token(client):
    assert client.post("/api/v1/me/mfa/totp", json={"password": "x"}).status_code == 401
    assert client.post("/api/v1/me/mfa/totp/confirm", json={"otp": "123456"}).status_code == 401


def test_a_token_for_an_enrolled_person_needs_a_valid_code_once(client, make_user, clock):
    user = make_user("fund_manager")
    wrong_password = _token(client, user, password="wrong-wrong-wrong", otp="000000")
    assert wrong_password.status_code == 401 and "errors" not in wrong_password.get_json()  # says nothing of the code

    missing = _token(client, user)
    assert missing.status_code == 422 and list(missing.get_json()["errors"]) == ["otp"]
    assert _token(client, user, otp="000000").status_code == 422

    code = fresh_code(user)
    issued = _token(client, user, otp=code)
    assert issued.status_code == 201 and issued.get_json()["enrol_only"] is False
    replay = _token(client, user, otp=code)
    assert replay.status_code == 422 and "otp" in replay.get_json()["errors"]
    assert client.get("/api/v1/auth/tokens", headers=_bearer(issued.get_json()["token"])).status_code == 200


def test_people_without_a_second_factor_get_ordinary_tokens(client, make_user):
    response = _token(client, make_user("innovator"))
    assert response.status_code == 201 and response.get_json()["enrol_only"] is False


def test_unenrolled_staff_get_an_enrol_only_token(client, make_user, clock):
    user = make_user("admin", enrolled=False)
    response = _token(client, user)
    assert response.status_code == 201 and response.get_json()["enrol_only"] is True
    headers = _bearer(response.get_json()["token"])

    assert client.get("/api/v1/me", headers=headers).status_code == 200
    for path in (TOKENS, "/api/v1/challenges"):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 403 and "Enrol a second factor first" in refused.get_json()["detail"], path

    secret = client.post("/api/v1/me/mfa/totp", json={"password": PASSWORD}, headers=headers).get_json()["secret"]
    codes = client.post("/api/v1/me/mfa/totp/confirm", json={"otp": pyotp.TOTP(secret).now()}, headers=headers)
    assert codes.status_code == 200
    # Enrolled now, but the enrol-only token stays enrol-only: a new token needs a code.
    assert client.get(TOKENS, headers=headers).status_code == 403
    clock.shift(seconds=30)
    fresh = _token(client, user, otp=pyotp.TOTP(secret).now())
    assert fresh.status_code == 201 and client.get(TOKENS, headers=_bearer(fresh.get_json()["token"])).status_code == 200


def test_a_person_who_must_enrol_is_refused_even_with_an_ordinary_token(client, make_user, api_headers):
    user = make_user("fund_manager", enrolled=False)
    response = client.get(TOKENS, headers=api_headers(user))
    assert response.status_code == 403 and "Enrol" in response.get_json()["detail"]
    assert not db.session.execute(sa.select(ApiToken.enrol_only).where(ApiToken.user_id == user.id)).scalar()


# --- X-OTP step-up ---------------------------------------------------------------------------------

def test_x_otp_proves_a_fresh_factor_for_the_request(app, make_user, clock):
    user = make_user("fund_manager")
    _, plain = services.issue_api_token(user=user)
    db.session.commit()
    with app.test_request_context("/api/v1/me", headers=_bearer(plain)):
        load_bearer_user()
        assert not factors.has_fresh_factor(user)
        assert factors.require_fresh_factor(user).error is StepUpRequired
    code = fresh_code(user)
    with app.test_request_context("/api/v1/me", headers={**_bearer(plain), "X-OTP": code}):
        load_bearer_user()
        assert factors.has_fresh_factor(user) and factors.require_fresh_factor(user) is None
    with app.test_request_context("/api/v1/me", headers={**_bearer(plain), "X-OTP": code}):
        with pytest.raises(ApiError) as refused:  # the same code again: replayed
            load_bearer_user()
        assert refused.value.status == 403


def test_an_invalid_x_otp_is_refused(client, make_user, api_headers, clock):
    user = make_user("fund_manager")
    headers = api_headers(user)
    refused = client.get("/api/v1/me", headers={**headers, "X-OTP": "000000"})
    assert refused.status_code == 403 and "X-OTP" in refused.get_json()["detail"]
    assert client.get("/api/v1/me", headers={**headers, "X-OTP": fresh_code(user)}).status_code == 200


def test_step_up_required_in_the_api_asks_for_x_otp(app):
    with app.test_request_context("/api/v1/disbursements/1/approve", method="POST"):
        response = app.handle_user_exception(StepUpRequired("fresh code needed"))
    assert response.status_code == 403 and "X-OTP" in response.get_json()["detail"]


@pytest.mark.parametrize(("referer", "expected"), [
    ("http://localhost/disbursements/7?tab=a", "/disbursements/7?tab=a"),
    ("https://evil.example/phish", "/dashboard"),
    (None, "/dashboard"),
])
def test_step_up_required_on_a_page_goes_to_confirm_and_back(app, referer, expected):
    headers = {"Referer": referer} if referer else {}
    with app.test_request_context("/disbursements/7/approve", method="POST", headers=headers):
        response = app.handle_user_exception(StepUpRequired("fresh code needed"))
    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/account/confirm" and parse_qs(location.query)["next"] == [expected]


# --- the page step-up ------------------------------------------------------------------------------

def _session_row(user):
    return db.session.execute(sa.select(UserSession).where(UserSession.user_id == user.id)).scalar_one()


def _fresh_in_a_page_request(app, user) -> bool:
    row = _session_row(user)
    db.session.refresh(row)
    with app.test_request_context("/"):
        factors.note_session_factor(user, row)
        return factors.has_fresh_factor(user)


def test_the_confirm_page_marks_the_session_fresh_and_returns(client, login, make_user, app, clock):
    user = make_user("fund_manager")
    login(client, user)
    assert _fresh_in_a_page_request(app, user)
    clock.shift(seconds=app.config["STEP_UP_SECONDS"] + 1)
    assert not _fresh_in_a_page_request(app, user)  # stale: a step-up action would be refused

    page = client.get("/account/confirm?next=/profile")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    wrong = client.post("/account/confirm?next=/profile", data={"code": "000000", "email": user.email,
                                                               "csrf_token": token})
    assert wrong.status_code == 422 and not _fresh_in_a_page_request(app, user)
    done = client.post("/account/confirm?next=/profile", data={"code": fresh_code(user), "email": user.email,
                                                              "csrf_token": token})
    assert done.status_code == 302 and done.location.endswith("/profile")
    assert _fresh_in_a_page_request(app, user)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/x", "/\\evil.example", "/\t/evil.example"])
def test_the_confirm_page_returns_only_within_the_site(client, login, make_user, clock, target):
    user = make_user("fund_manager")
    login(client, user)
    clock.shift(timedelta(seconds=30))
    token = csrf_token_from(client.get("/account/confirm").get_data(as_text=True))
    done = client.post("/account/confirm", query_string={"next": target},
                       data={"code": fresh_code(user), "email": user.email, "csrf_token": token})
    assert done.status_code == 302 and "evil" not in done.location
