"""Every page with an object is reachable by links: the demo's roles crawl the site from their dashboards.

Each demo role signs in, starts at /dashboard and follows every same-site `<a href>` (GET only, at
most `MAX_PAGES` pages per role). Then every GET rule of the url map that takes an object id and is a
page must have been reached by at least one role. To add a page to the check, add nothing: it is in
the url map. To add a role, add its demo login to `ROLES`. A rule that no link can reach by design
goes into `EXCLUDED` with its reason.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from facility.demo import DEMO_PASSWORD, seed
from facility.extensions import db

# The demo logins that crawl (facility/accounts/demo.py). One per role, and the second fund manager,
# who approves what the first one requested.
ROLES = [
    "admin@demo.facility",
    "fund.manager@demo.facility",
    "fund.manager2@demo.facility",
    "official@kampala.demo",
    "founder@solarkiosk.demo",
    "lead@waterwatch.demo",
    "reviewer1@demo.facility",
    "donor@foundation.demo",
]

# Rules that take an argument but are not reached by a link, each with its reason.
EXCLUDED = {
    "static": "stylesheets and images, not pages",
    "accounts.reset_password": "token link, sent only by e-mail",
    "review.accept_invitation": "token link, sent only by e-mail to someone without an account",
    "payments.checkout": "a redirect to Stripe's hosted checkout, reached by a form post when pledging by card",
}

# Prefixes that are not pages a person browses.
NOT_PAGES = ("/api/", "/webhooks/", "/healthz", "/static/")
SKIP = ("/signout",)
MAX_PAGES = 600


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _same_site_links(base_path: str, html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.hrefs:
        parts = urlsplit(urljoin("http://localhost" + base_path, href))
        if parts.netloc != "localhost" or parts.scheme not in ("http", "https"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith(NOT_PAGES) and not path.startswith(SKIP):
            found.append(path)
    return found


def _sign_in(client, email: str) -> None:
    html = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = client.post("/signin", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"{email} cannot sign in"


def _page_key(path: str) -> str:
    """One visit per page and per query string shape: `?page=2` and `?page=3` are the same page."""
    base, _, query = path.partition("?")
    keys = sorted(part.split("=")[0] for part in query.split("&") if part)
    return base + ("?" + "&".join(keys) if keys else "")


def crawl(app, email: str) -> tuple[set[str], list[str]]:
    """The endpoints `email` reaches from /dashboard by links, and the pages that answered 5xx."""
    client = app.test_client()
    _sign_in(client, email)
    adapter = app.url_map.bind("localhost")
    reached: set[str] = set()
    broken: list[str] = []
    seen: set[str] = set()
    todo = ["/dashboard"]
    while todo and len(seen) < MAX_PAGES:
        path = todo.pop(0)
        key = _page_key(path)
        if key in seen:
            continue
        seen.add(key)
        response = client.get(path)
        if response.status_code >= 500:
            broken.append(path)
        if response.status_code != 200:
            continue
        try:
            endpoint, _args = adapter.match(path.partition("?")[0], method="GET")
        except Exception:
            continue
        reached.add(endpoint)
        if response.mimetype == "text/html":
            todo.extend(_same_site_links(path, response.get_data(as_text=True)))
    print(email, len(seen), len(todo))
    return reached, broken


def pages_with_an_object(app) -> set[str]:
    """GET rules with a converter argument that are pages (not the API, static files, webhooks)."""
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.arguments and not rule.rule.startswith(NOT_PAGES)}


@pytest.fixture
def demo(app):
    seed(echo=lambda _msg: None)
    db.session.commit()


def test_every_page_with_an_object_is_reached_by_some_role(app, demo):
    reached_by: dict[str, set[str]] = {}
    broken: list[str] = []
    for email in ROLES:
        reached, failures = crawl(app, email)
        broken += [f"{email}: {path}" for path in failures]
        for endpoint in reached:
            reached_by.setdefault(endpoint, set()).add(email)
    assert not broken, "pages answered with a server error:\n" + "\n".join(broken)
    unreached = sorted(pages_with_an_object(app) - set(reached_by) - set(EXCLUDED))
    assert not unreached, ("no demo role reaches these pages by links from its dashboard "
                           f"(add a link, or an entry in EXCLUDED with its reason): {', '.join(unreached)}")


def test_exclusions_name_real_rules(app):
    """A stale exclusion would hide a page that is no longer excluded for a reason."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(EXCLUDED) <= endpoints


def test_the_crawler_finds_links_and_skips_other_sites():
    html = '<a href="/a">a</a><a href="https://example.org/x">x</a><a href="b?page=2">b</a><a href="/signout">o</a>'
    assert _same_site_links("/dir/page", html) == ["/a", "/dir/b?page=2"]
