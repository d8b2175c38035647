"""Sign up, sign in and out, password reset and profile pages."""
import re

import sqlalchemy as sa

from facility.accounts.models import User, UserSession
from facility.core.mail import OutboundEmail
from facility.extensions import db
from tests.conftest import PASSWORD, SIGNUP_PASSWORD, get_csrf, post_signup, sign_in

GOOD = SIGNUP_PASSWORD


_signup = post_signup  # the sign-up form posted with good values, `overrides` replacing some


def test_signup_innovator_signs_in(client):
    response = _signup(client)
    assert response.status_code == 302
    user = db.session.execute(sa.select(User).where(User.email == "amina@example.org")).scalar_one()
    assert user.organization.country == "UGA"
    assert "Amina" in client.get("/dashboard").get_data(as_text=True)


def test_signup_errors_shown_on_page_and_nothing_saved(client):
    response = _signup(client, password="short", org_name="", email="not-an-email")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    assert "There is a problem" in html
    assert db.session.query(User).count() == 0


def test_signup_page_offers_no_privileged_roles(client):
    html = client.get("/signup").get_data(as_text=True)
    assert 'value="fund_manager"' not in html and 'value="admin"' not in html


def test_signup_posting_a_privileged_role_is_refused(client):
    response = _signup(client, role="fund_manager")
    assert response.status_code == 422
    assert db.session.query(User).count() == 0


def test_every_field_has_a_label(client):
    for path in ("/signup", "/signin", "/password/forgot"):
        html = client.get(path).get_data(as_text=True)
        fields = re.findall(r'<(input|select|textarea)([^>]*)>', html)
        for _tag, attrs in fields:
            if re.search(r'type="(hidden|submit)"', attrs):
                continue
            field_id = re.search(r'\bid="([^"]+)"', attrs)
            assert field_id, f"{path}: a field without an id: {attrs}"
            field_id = field_id.group(1)
            assert f'for="{field_id}"' in html, f"{path}: #{field_id} has no label"


def test_csrf_required_on_forms(client, make_user):
    user = make_user("donor")
    response = client.post("/signin", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    response = client.post("/signin", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400


def test_wrong_password_message_is_generic(client, make_user):
    user = make_user("donor")
    wrong = sign_in(client, user, "wrong password 123")
    unknown = sign_in(client, "nobody@example.org", "wrong password 123")
    assert wrong.status_code == unknown.status_code == 422
    assert "The e-mail address or password is wrong." in wrong.get_data(as_text=True)
    assert "The e-mail address or password is wrong." in unknown.get_data(as_text=True)


def test_sign_in_starts_a_new_session(client, make_user):
    user = make_user("donor")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client, user)
    with client.session_transaction() as session:
        assert "planted" not in session, "the pre-sign-in session must not survive"
        token = session["_user_id"]
    assert str(user.id) != token, "the cookie holds a server-side session token, not the user id"


def test_sign_out_invalidates_session_server_side(client, make_user, app):
    user = make_user("donor")
    sign_in(client, user)
    stolen_cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert client.get("/profile").status_code == 200
    token = get_csrf(client, "/profile")
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    assert db.session.query(UserSession).count() == 0
    # Replaying the old cookie does not bring the session back.
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen_cookie)
    response = replay.get("/profile")
    assert response.status_code == 302 and "/signin" in response.location


def test_safe_redirect_after_sign_in(client, make_user):
    user = make_user("donor")
    token = get_csrf(client)
    response = client.post("/signin?next=https://evil.example/x",
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.location == "/dashboard"


def test_password_reset_by_email(client, make_user, run_jobs):
    user = make_user("donor", email="forgot@example.org")
    token = get_csrf(client, "/password/forgot")
    response = client.post("/password/forgot", data={"email": "forgot@example.org", "csrf_token": token})
    assert response.status_code == 302
    run_jobs()
    message = db.session.execute(sa.select(OutboundEmail)).scalar_one()
    assert message.to_address == "forgot@example.org" and message.sent_at is not None
    link = re.search(r"http://\S+(/password/reset/\S+)", message.body).group(1)
    form_token = get_csrf(client, link)
    response = client.post(link, data={"password": GOOD, "confirm": GOOD, "csrf_token": form_token})
    assert response.status_code == 302
    assert sign_in(client, user, GOOD).status_code == 302
    # The link works once.
    assert client.get(link).status_code == 404


def test_password_reset_for_unknown_address_reveals_nothing(client):
    token = get_csrf(client, "/password/forgot")
    response = client.post("/password/forgot", data={"email": "ghost@example.org", "csrf_token": token})
    assert response.status_code == 302
    assert db.session.query(OutboundEmail).count() == 0


def test_profile_edit(client, make_user, login):
    user = make_user("donor")
    login(client, user)
    token = get_csrf(client, "/profile")
    response = client.post("/profile", data={"name": "New Name", "locale": "fr", "timezone": "Africa/Nairobi",
                                             "csrf_token": token, "submit": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.name, user.locale, user.timezone) == ("New Name", "fr", "Africa/Nairobi")
    assert 'lang="fr"' in client.get("/").get_data(as_text=True)


def test_profile_rejects_bad_time_zone(client, make_user, login):
    user = make_user("donor")
    login(client, user)
    token = get_csrf(client, "/profile")
    response = client.post("/profile", data={"name": "N", "timezone": "Mars/Olympus", "csrf_token": token,
                                             "submit": "1"})
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone == "UTC"


def test_change_password_needs_current_one(client, make_user, login):
    user = make_user("donor")
    login(client, user)
    token = get_csrf(client, "/profile")
    response = client.post("/profile/password", data={"pw-current_password": "not it at all", "pw-password": GOOD,
                                                      "pw-confirm": GOOD, "pw-csrf_token": token})
    assert response.status_code == 422
    response = client.post("/profile/password", data={"pw-current_password": PASSWORD, "pw-password": GOOD,
                                                      "pw-confirm": GOOD, "pw-csrf_token": token})
    assert response.status_code == 302
    assert client.get("/profile").status_code == 200, "this browser stays signed in"


def test_language_switch_and_arabic_is_rtl(client):
    assert 'method="get" action="/language"' in client.get("/").get_data(as_text=True), "a visitor's switch"
    client.get("/language", query_string={"lang": "ar", "next": "/"})
    html = client.get("/").get_data(as_text=True)
    assert 'lang="ar"' in html and 'dir="rtl"' in html


def test_pages_are_translated(client):
    client.get("/language", query_string={"lang": "fr", "next": "/"})
    html = client.get("/signin").get_data(as_text=True)
    assert "Se connecter" in html and 'lang="fr"' in html
    assert "Sign in" not in html.split("<main")[0], "the navigation is translated"


def test_fields_carry_no_empty_aria_attributes(client):
    html = client.get("/signup").get_data(as_text=True)
    assert '="None"' not in html
    assert 'aria-describedby="password-hint"' in html
