"""The password rule: long enough, not one character repeated, not common, and hard to guess (zxcvbn)."""
from __future__ import annotations

import pytest

from facility.accounts.services import change_password, password_problems, register_user
from facility.core.errors import ValidationFailed
from facility.demo import DEMO_PASSWORD
from tests.conftest import get_csrf
from tests.factories import PASSWORD


@pytest.mark.parametrize("password, says", [
    ("password1234", "too easy to guess"),
    (" " * 12, "spaces only"),
    ("aaaaaaaaaaaa", "one character repeated"),
    ("ZZZZZZZZZZZZZZZZZZZZ", "one character repeated"),
    ("qwertyuiop12", "too easy to guess"),
    ("abcdefghijkl", "too easy to guess"),
    ("1234567890123", "too easy to guess"),
])
def test_weak_passwords_are_refused_with_a_reason(app, password, says):
    problems = password_problems(password)
    assert problems and says in " ".join(problems)


def test_the_estimator_says_why_and_what_to_do(app):
    (problem,) = password_problems("password1234")
    assert "very common password" in problem and "Add another word or two" in problem


def test_a_password_made_of_the_persons_own_name_is_too_easy(app):
    email = "kwame.mensah@example.org"
    assert password_problems("kwame.mensah.2026", email=email, name="Kwame Mensah")
    assert not password_problems("kwame.mensah.2026".replace("kwame.mensah", "ocelot.quay"), email=email,
                                 name="Kwame Mensah")


@pytest.mark.parametrize("password", [PASSWORD, DEMO_PASSWORD, "correct horse battery staple",
                                      "a-long-reviewer-pass-9", "staff password 2026", "reviewer password 1"])
def test_the_projects_own_passwords_pass(app, password):
    assert password_problems(password) == []


def test_the_length_rule_still_comes_first(app):
    assert password_problems("Xq7!") == ["Use at least 12 characters."]


def test_sign_up_through_the_api_refuses_a_weak_password(client):
    response = client.post("/api/v1/users", json={"email": "weak@example.org", "password": "aaaaaaaaaaaa",
                                                  "name": "Weak", "role": "donor"})
    assert response.status_code == 422
    assert "one character repeated" in " ".join(response.json["errors"]["password"])


def test_sign_up_page_shows_the_estimators_feedback(client):
    token = get_csrf(client, "/signup")
    response = client.post("/signup", data={"csrf_token": token, "email": "weak@example.org", "name": "Weak",
                                            "password": "password1234", "role": "donor"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "too easy to guess" in page and "Add another word or two" in page


def test_a_weak_new_password_changes_nothing(app, make_user):
    user = make_user("donor")
    before = user.password_hash
    with pytest.raises(ValidationFailed) as refused:
        change_password(user=user, new_password=" " * 12)
    assert "spaces only" in " ".join(refused.value.errors["password"])
    assert user.password_hash == before


def test_register_user_reports_the_password_with_the_other_fields(app):
    with pytest.raises(ValidationFailed) as refused:
        register_user(email="new@example.org", password="password1234", name="", role="donor")
    assert set(refused.value.errors) == {"name", "password"}
