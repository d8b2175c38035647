"""Helpers for browser tests: a live server in a thread and Debian's Chromium through Playwright."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from datetime import date

import pytest

from facility.extensions import db
from tests.factories.accounts import fresh_code

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


def require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser test skipped: {CHROMIUM} is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser test skipped: the playwright package is not installed")


@contextmanager
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(15000)
            yield page
        finally:
            browser.close()


def sign_in_page(page, base: str, email: str, password: str, *, landing: str = "/dashboard") -> None:
    """Sign in the way a person does: the password, then (with two-step sign-in on) the code their app shows."""
    page.goto(base + "/signin")
    page.fill("#email", email)
    page.fill("#password", password)
    page.press("#password", "Enter")
    page.wait_for_load_state()
    if page.url.split("?")[0].endswith("/signin/verify"):
        code = fresh_code(email)
        db.session.commit()  # end the test's transaction: on SQLite an open one blocks the server
        page.fill("#code", code)
        page.press("#code", "Enter")
    page.wait_for_url(base + landing)


def fill_proposal_form(page, *, fields: dict[str, str], beneficiary: str, budget: dict[str, str],
                       milestones: list[tuple[str, date, str, str]]) -> None:
    """Fill the proposal form the way a person does, then save the draft and submit it.
    `fields` by input id (title, summary, ...), `budget` by category, `milestones` as
    (title, due date, amount in USD, deliverable)."""
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    for category, value in budget.items():
        page.fill(f"#budget_{category}", value)
    page.check(f"input[name='beneficiary_groups'][value='{beneficiary}']")
    for i, (title, due, amount, deliverable) in enumerate(milestones):
        page.fill(f"#milestones-{i}-title", title)
        page.fill(f"#milestones-{i}-due_date", due.strftime("%Y-%m-%d"))
        page.fill(f"#milestones-{i}-amount", amount)
        page.fill(f"#milestones-{i}-deliverable", deliverable)
    page.click("button:has-text('Save draft'), input[value='Save draft']")
    page.click("button:has-text('Submit')")
