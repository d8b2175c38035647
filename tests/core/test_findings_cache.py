"""Finding: signed-in pages sent no `Cache-Control`, so a shared or back-button cache could keep them."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/dashboard", "/", "/challenges", "/grants"])
def test_every_page_to_a_signed_in_user_is_not_stored(client, login, make_user, path):
    login(client, make_user("innovator"))
    response = client.get(path)
    assert response.status_code in (200, 302, 403, 404)
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_a_fund_manager_page_is_not_stored(client, login, make_user):
    login(client, make_user("fund_manager"))
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/", "/challenges"])
def test_public_pages_seen_anonymously_keep_their_caching(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_sign_in_page_is_not_stored(client):
    assert "no-store" in client.get("/signin").headers["Cache-Control"]
