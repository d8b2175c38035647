"""Slow lines: compressed responses, fingerprinted static files cached for a year, a favicon, and only the
languages that exist offered."""
from __future__ import annotations

import gzip
import re

import brotli
import pytest

from facility.core.templating import money
from tests.conftest import get_csrf


def _static_href(html: str, name: str) -> str:
    found = re.search(r'href="(/static/' + re.escape(name) + r'\?v=[0-9a-f]{12})"', html)
    assert found, f"no fingerprinted link to {name}"
    return found.group(1)


@pytest.mark.parametrize("encoding, decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_pages_are_compressed_for_clients_that_accept_it(client, encoding, decode):
    plain = client.get("/challenges")
    packed = client.get("/challenges", headers={"Accept-Encoding": encoding})
    assert packed.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in packed.headers["Vary"]
    page = decode(packed.data).decode()
    assert "<html" in page and len(packed.data) < len(plain.data) / 2
    assert "Content-Encoding" not in plain.headers


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/static/css/site.css"])
def test_json_and_css_are_compressed_too(client, path):
    response = client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"


def test_static_files_are_fingerprinted_and_kept_for_a_year(client):
    href = _static_href(client.get("/").get_data(as_text=True), "css/site.css")
    fresh = client.get(href)
    assert fresh.status_code == 200
    assert "immutable" in fresh.headers["Cache-Control"] and "max-age=31536000" in fresh.headers["Cache-Control"]
    stale = client.get("/static/css/site.css?v=000000000000")
    assert stale.status_code == 200 and "immutable" not in stale.headers["Cache-Control"]
    assert "max-age=300" in stale.headers["Cache-Control"]


def test_every_page_names_an_icon_and_favicon_ico_is_no_404(client):
    href = _static_href(client.get("/").get_data(as_text=True), "favicon.svg")
    assert client.get(href).headers["Content-Type"].startswith("image/svg+xml")
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"].endswith(href)


def test_only_languages_with_a_catalogue_are_offered(app):
    offered = app.config["LANGUAGES"]
    assert "en" in offered
    from config import BASE_DIR

    for code in offered:
        assert code == "en" or (BASE_DIR / "translations" / code / "LC_MESSAGES" / "messages.mo").exists()


def test_the_language_switch_refuses_a_language_that_is_not_offered(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LANGUAGES", {"en": "English", "fr": "Français"})
    page = client.get("/").get_data(as_text=True)
    assert 'value="zh"' not in page and 'value="fr"' in page
    client.get("/language", query_string={"lang": "zh"})  # a visitor's switch is a GET form
    client.post("/language", data={"lang": "zh", "csrf_token": get_csrf(client, "/signin")})
    assert '<html lang="en"' in client.get("/", headers={"Accept-Language": "zh"}).get_data(as_text=True)


def test_money_is_written_the_way_the_reader_writes_numbers(app):
    from flask_babel import force_locale

    with app.test_request_context():
        assert money(123450) == "USD 1,234.50"
        assert money(-5) == "USD -0.05"
        with force_locale("fr"):
            assert money(123450).replace("\u202f", " ").replace("\xa0", " ") == "USD 1 234,50"
        with force_locale("es"):
            assert money(123450).replace("\xa0", " ") in ("USD 1234,50", "USD 1.234,50")


def test_codes_read_the_same_in_both_directions(app):
    from flask_babel import force_locale

    from facility.core.templating import codes

    with app.test_request_context():
        assert str(codes(["11.5", "11.b"])) == "<bdi>11.5</bdi>, <bdi>11.b</bdi>"
        assert str(codes(["<x>"])) == "<bdi>&lt;x&gt;</bdi>"
        assert str(codes([])) == "—"
        with force_locale("ar"):
            assert str(codes(["11.5", "13.1"])) == "<bdi>11.5</bdi>، <bdi>13.1</bdi>"
