"""The profile's reminders section: a person turns the optional reminders off (and on again); only for
themselves; the essential ones are said to be always sent."""
from __future__ import annotations

import re

import pytest

from facility.accounts import services
from facility.accounts.models import User
from facility.core.errors import PermissionDenied, ValidationFailed
from facility.extensions import db
from tests.conftest import get_csrf


def _checkbox(html: str) -> str:
    match = re.search(r'<input[^>]*name="rem-optional_reminders"[^>]*>', html)
    assert match, "no reminders checkbox on the profile"
    return match.group(0)


def _fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_the_profile_has_a_labelled_reminders_section(client, make_user, login):
    login(client, make_user("reviewer"))
    html = client.get("/profile").get_data(as_text=True)
    assert 'id="reminders"' in html
    assert '<label for="rem-optional_reminders">E-mail me optional reminders</label>' in html
    assert " checked" in _checkbox(html)
    assert "always sent" in html


def test_turning_them_off_and_on_again(client, make_user, login):
    user = make_user("reviewer")
    login(client, user)
    token = get_csrf(client, "/profile")
    response = client.post("/profile/reminders", data={"csrf_token": token, "rem-submit": "1"})  # unticked
    assert response.status_code == 302 and response.headers["Location"].endswith("/profile#reminders")
    assert _fresh(user).optional_reminders is False
    html = client.get("/profile").get_data(as_text=True)
    assert " checked" not in _checkbox(html)
    client.post("/profile/reminders", data={"csrf_token": token, "rem-optional_reminders": "y", "rem-submit": "1"})
    assert _fresh(user).optional_reminders is True


def test_an_expired_form_changes_nothing(client, make_user, login):
    user = make_user("reviewer")
    login(client, user)
    response = client.post("/profile/reminders", data={"rem-submit": "1"})  # no CSRF token
    assert response.status_code in (400, 422)
    assert _fresh(user).optional_reminders is True


def test_anonymous_is_sent_to_sign_in(client):
    response = client.post("/profile/reminders", data={"rem-submit": "1"})
    assert response.status_code in (302, 400, 401)
    assert response.status_code != 302 or "/signin" in response.headers["Location"]


def test_nobody_else_may_change_them_but_an_admin(app, make_user):
    user, stranger, admin = make_user("reviewer"), make_user("fund_manager"), make_user("admin")
    with pytest.raises(PermissionDenied):
        services.set_reminder_preference(user=user, actor=stranger, optional_reminders=False)
    with pytest.raises(ValidationFailed):
        services.set_reminder_preference(user=user, actor=user, optional_reminders="no")  # type: ignore[arg-type]
    services.set_reminder_preference(user=user, actor=admin, optional_reminders=False)
    assert user.optional_reminders is False
