"""Reach in a real browser: every main page of every role, at 320, 375 and 1,280 px, in English, Arabic and
Chinese, has no serious or critical axe violation (WCAG 2.0/2.1/2.2 A and AA), no horizontal scrolling, and an
accessible name on every visible form control.

The world is the demo (facility/*/demo.py) completed as tests/test_navigation.py does, so every page has data.
Each role has its own browser context: it signs in, finds its pages by following links from its dashboard (in
English), then switches the language with the header's form, as a person does, and visits the same pages again.
Each page is loaded once per language and resized to each width; axe runs once per (page, language, width).
"""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from config import BASE_DIR
from facility.demo import DEMO_PASSWORD, seed
from facility.extensions import db
from tests.browser import browser_page, live_server, require_chromium, sign_in_page
from tests.test_navigation import _complete_the_demo

pytestmark = [pytest.mark.browser, pytest.mark.serial]

WIDTHS = (320, 375, 1280)
HEIGHT = 800
LANGUAGES = ("en", "ar", "zh")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_IMPACTS = {"serious", "critical"}
# axe-core from the npm registry (`make axe`, which `make test` runs): the copy bundled with axe-playwright-python
# is 4.4, older than WCAG 2.2's rules (target size, focus not obscured...). CI must have the current one.
AXE_CORE = BASE_DIR / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def axe_script() -> str:
    """The current axe-core if `make axe` installed it; else the bundled one, with a warning (and in CI, a failure)."""
    if AXE_CORE.exists():
        return AXE_CORE.read_text(encoding="utf-8")
    if os.environ.get("CI"):
        pytest.fail(f"{AXE_CORE} is missing: `make axe` installs axe-core from the npm registry")
    warnings.warn("axe-core from npm is missing (make axe): the bundled axe 4.4 has no WCAG 2.2 rules", stacklevel=2)
    return str(Axe().axe_script)

# One person per role (facility/accounts/demo.py); None is the visitor who has not signed in.
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "innovator": "founder@solarkiosk.demo",
    "city official": "official@kampala.demo",
    "reviewer": "reviewer1@demo.facility",
    "fund manager": "fund.manager@demo.facility",
    "donor": "donor@foundation.demo",
    "auditor": "auditor@demo.facility",
    "admin": "admin@demo.facility",
}
# Where each role starts; the signed-out visitor also visits the pages for signing in and up.
STARTS = {"anonymous": ["/", "/signin", "/signup"]}

# The pages checked: each role's dashboard and what the header's navigation links to, the public pages, and one of
# each detail page. Each is checked once, for the first role (in ROLES order) that reaches it by links, except the
# pages in PER_ROLE, which each role sees differently and which are checked for every role that reaches them.
PAGES = {
    "core.home", "accounts.signin", "accounts.signup", "core.dashboard", "accounts.profile",
    # the header's navigation
    "challenges.index", "grants.facility", "portfolio_public.register", "portfolio_public.ledger", "results.index",
    "opendata.index", "challenges.approvals", "grants.evidence_queue", "disbursements.queue", "portfolio.index",
    "audit.index", "review.queue", "challenges.mine", "grants.contributions", "accounts.admin_users",
    # the detail pages
    "challenges.show", "proposals.show", "grants.grant", "grants.grants", "portfolio_public.grant",
    "disbursements.show", "review.ranking", "review.panel", "review.reviewer_panel", "review.review",
    "grants.report", "grants.contribution", "audit.event",
    # the confirmations of what cannot be undone
    "proposals.withdraw", "disbursements.approve", "disbursements.cancel", "grants.release_pool", "review.release",
    "review.close_round",
    # the solutions library, a solution and the city official's replication form
    "solutions.index", "solutions.show", "solutions.replicate",
}
PER_ROLE = {"core.dashboard", "challenges.show", "proposals.show", "grants.grant"}

OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const scroll = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
  if (scroll <= width) return null;
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const position = getComputedStyle(el).position;
    if (el.closest('.table-scroll, svg') && position !== 'absolute' && position !== 'fixed') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || (r.right <= width && r.left >= 0)) continue;
    if ([...el.children].some(c => { const q = c.getBoundingClientRect(); return q.right > width || q.left < 0; }))
      continue;  // report the innermost element that sticks out
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    culprits.push(`${name} [${Math.round(r.left)}..${Math.round(r.right)}] "${(el.textContent || '').trim().slice(0, 40)}"`);
    if (culprits.length >= 3) break;
  }
  return {scroll, culprits};
}"""

class Checker:
    """Runs the three checks on the page in view and keeps every problem as one readable line."""

    def __init__(self, app) -> None:
        self.adapter = app.url_map.bind("127.0.0.1")
        self.axe_script = axe_script()
        self.problems: list[str] = []
        self.checked = 0

    def endpoint(self, path: str) -> str | None:
        """The endpoint of a same-site path if it is one of the PAGES, else None."""
        try:
            endpoint, _args = self.adapter.match(path.partition("?")[0], method="GET")
        except (HTTPException, RequestRedirect):
            return None
        return endpoint if endpoint in PAGES else None

    def check(self, page, role: str, lang: str) -> None:
        where = f"{urlsplit(page.url).path} [{role}, {lang}"
        if page.evaluate("document.documentElement.lang") != lang:
            self.problems.append(f"{where}] <html lang> is {page.evaluate('document.documentElement.lang')!r}")
        self._labels(page, where + "]")
        page.evaluate(self.axe_script)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            at = f"{where}, {width} px]"
            overflow = page.evaluate(OVERFLOW_JS)
            if overflow:
                self.problems.append(f"{at} scrolls sideways: {overflow['scroll']} px wide; "
                                     + "; ".join(overflow["culprits"]))
            results = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
                                    " resultTypes: ['violations']})", AXE_TAGS)
            for violation in results["violations"]:
                if violation["impact"] in AXE_IMPACTS:
                    targets = ", ".join(str(node["target"][0]) for node in violation["nodes"][:3])
                    self.problems.append(f"{at} axe {violation['id']} ({violation['impact']}): {targets}")
            self.checked += 1

    def _labels(self, page, where: str) -> None:
        """Every visible input, select and textarea has an accessible name, as Chromium computes it."""
        controls = _describe(page)
        if not any(controls):
            return
        cdp = page.context.new_cdp_session(page)
        try:
            root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
            node_ids = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "input, select, textarea"})
            for node_id, described in zip(node_ids["nodeIds"], controls, strict=True):
                if described is None:
                    continue
                nodes = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node_id, "fetchRelatives": False})
                mine = nodes["nodes"][0] if nodes["nodes"] else None
                if mine is None or mine.get("ignored"):
                    continue
                if not (mine.get("name") or {}).get("value", "").strip():
                    self.problems.append(f"{where} form control without an accessible name: {described}")
        finally:
            cdp.detach()


def _describe(page) -> list[str | None]:
    """Each input/select/textarea in document order: a short description, or None if it is hidden."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')].map(el =>
      (el.type === 'hidden' || el.getClientRects().length === 0) ? null :
      el.tagName.toLowerCase() + (el.type ? '[type=' + el.type + ']' : '') + (el.id ? '#' + el.id : '') +
      (el.name ? '[name=' + el.name + ']' : ''))""")


def _links(page, base: str) -> list[str]:
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    return [href[len(base):].partition("#")[0] for href in hrefs if href.startswith(base + "/")]


def _switch_language(page, lang: str) -> bool:
    """Choose the language in the header's form and send it, as a person does. False if it is not offered."""
    offered = page.evaluate("() => [...document.querySelectorAll('#lang option')].map(o => o.value)")
    if lang not in offered:
        return False
    page.select_option("#lang", lang)
    with page.expect_navigation():
        page.click(".lang-switch button[type=submit]")
    return True


def _discover_and_check(page, base: str, role: str, starts: list[str], checker: Checker,
                        done: set[str]) -> list[str]:
    """In English: visit the role's start pages and every page their links lead to, one per endpoint, checking
    each; answers the paths visited, to visit again in the other languages."""
    seen: set[str] = set()
    visited: list[str] = []
    todo = list(starts)
    while todo:
        path = todo.pop(0)
        endpoint = checker.endpoint(path)
        if endpoint is None or endpoint in seen:
            continue
        seen.add(endpoint)
        if endpoint not in PER_ROLE and endpoint in done:
            continue
        response = page.goto(base + path)
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        done.add(endpoint)
        visited.append(path)
        checker.check(page, role, "en")
        todo.extend(_links(page, base))
    return visited


def _contexts(page) -> Iterator[tuple[str, object]]:
    """The anonymous visitor uses the first page; every other role gets a fresh context of the same browser."""
    browser = page.context.browser
    for role, email in ROLES.items():
        if email is None:
            yield role, page
            continue
        context = browser.new_context()
        try:
            role_page = context.new_page()
            role_page.set_default_timeout(15000)
            yield role, role_page
        finally:
            context.close()


@pytest.fixture
def demo_world(app):
    seed(echo=lambda _msg: None)
    _complete_the_demo()
    db.session.commit()


def test_every_page_of_every_role_reaches_small_screens_and_every_language(app, backend, demo_world):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()
    checker = Checker(app)
    done: set[str] = set()
    started = time.monotonic()
    with live_server(app) as base, browser_page() as first:
        for role, page in _contexts(first):
            email = ROLES[role]
            if email is not None:
                sign_in_page(page, base, email, DEMO_PASSWORD)
            visited = _discover_and_check(page, base, role, STARTS.get(role, ["/dashboard"]), checker, done)
            assert visited, f"{role}: no page was checked"
            for lang in LANGUAGES[1:]:
                page.goto(base + visited[0])
                if not _switch_language(page, lang):
                    checker.problems.append(f"{role}: the language switch does not offer {lang!r}")
                    continue
                for path in visited:
                    page.goto(base + path)
                    checker.check(page, role, lang)
    elapsed = time.monotonic() - started
    print(f"reach: {checker.checked} (page, language, width) checks in {elapsed:.0f} s")
    assert not checker.problems, f"{len(checker.problems)} reach problems:\n" + "\n".join(checker.problems[:300])


PROBE = """<!doctype html><html lang="en"><head><title>Probe</title></head><body><main>
<h1>Probe</h1><label for="named">Named</label><input id="named"><input id="nameless">
<p style="color:#c8c8c8">Faint text</p><div style="width:2000px">Too wide</div></main></body></html>"""


def test_the_checks_catch_a_nameless_control_a_wide_page_and_an_axe_violation(app):
    """The checks can fail: a page with a control that has no name, an element wider than the screen and
    text too faint to read is reported, with the element, the width and the axe rule."""
    require_chromium()
    checker = Checker(app)
    with browser_page() as page:
        page.set_content(PROBE)
        checker.check(page, "probe", "en")
    problems = "\n".join(checker.problems)
    assert "form control without an accessible name: input[type=text]#nameless" in problems
    assert "without an accessible name: input[type=text]#named" not in problems  # the named one passes
    for width in WIDTHS:
        wide = [line for line in checker.problems if f"[probe, en, {width} px] scrolls sideways" in line]
        assert len(wide) == 1 and 'div [8..2008] "Too wide"' in wide[0], wide
        assert f"[probe, en, {width} px] axe color-contrast (serious)" in problems
        assert f"[probe, en, {width} px] axe label (critical): #nameless" in problems
