"""Finding: an open redirect through the language switch (and any other `next` that is followed)."""
from __future__ import annotations

import pytest

from facility.accounts import views as accounts_views
from facility.core.urls import is_safe_next, safe_next
from tests.conftest import get_csrf

HOSTILE = [
    "/\t/evil.example/phish",
    "/\n/evil.example/phish",
    "/\r\n/evil.example",
    " //evil.example",
    "//evil.example/phish",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "/%09/evil.example",
    "https:evil.example",
    "https://evil.example/",
    "http://localhost.evil.example/",
    "javascript:alert(1)",
    "/\u200b/evil.example",
    "/\x00/evil.example",
    "evil.example",
    "",
]


def _switch(client, method, **data):
    """A visitor's switch is a GET form; a signed-in person's a POST form with their CSRF token."""
    if method == "get":
        return client.get("/language", query_string=data)
    return client.post("/language", data={**data, "csrf_token": get_csrf(client, "/signin")})


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("target", HOSTILE)
def test_language_switch_never_leaves_the_site(client, target, method):
    response = _switch(client, method, lang="fr", next=target)
    # A NUL character is refused at the door (422); everything else goes home.
    assert response.status_code == 302 or (response.status_code == 422 and "\x00" in target)
    assert response.headers.get("Location", "/") == "/"


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses(app, target):
    with app.test_request_context("/"):
        assert not is_safe_next(target)
        assert safe_next(target, "/fallback") == "/fallback"


@pytest.mark.parametrize("target", ["/challenges", "/challenges/3?page=2", "/proposals/1#files", "/a%20b"])
def test_safe_next_keeps_paths_on_this_site(app, target):
    with app.test_request_context("/"):
        assert safe_next(target, "/fallback") == target


@pytest.mark.parametrize("method", ["get", "post"])
def test_language_switch_goes_back_to_the_page(client, method):
    response = _switch(client, method, lang="fr", next="/challenges?page=2")
    assert response.headers["Location"] == "/challenges?page=2"


@pytest.mark.parametrize("target", ["/\t/evil.example/phish", "/\\evil.example", "/%2F%2Fevil.example"])
def test_sign_in_next_uses_the_same_check(app, target):
    with app.test_request_context("/signin"):
        assert accounts_views._safe_next(target) == "/dashboard"
        assert accounts_views._safe_next("/grants/4") == "/grants/4"
