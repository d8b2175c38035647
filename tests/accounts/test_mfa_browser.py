"""A fund manager without a second factor, in a real browser on a 320-pixel screen with JavaScript off:
sent to enrol, scans the server-drawn QR code, confirms with a code, keeps the recovery codes, then works."""
from __future__ import annotations

import pyotp
import pytest
import sqlalchemy as sa

from facility.accounts import totp
from facility.accounts.models import User
from facility.extensions import db
from tests.browser import CHROMIUM, CHROMIUM_ARGS, live_server, require_chromium
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.serial]

# What sticks out past 320 pixels (shown when the no-horizontal-scroll check fails).
WIDER_THAN_320 = ("[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > 320)"
                  ".map(e => e.tagName + ':' + Math.round(e.getBoundingClientRect().right))")


def test_unenrolled_fund_manager_enrols_without_javascript_at_320px(app, backend, make_user):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()
    from playwright.sync_api import sync_playwright  # optional dependency (require_chromium checked it)

    user = make_user("fund_manager", email="new.fm@facility.example", enrolled=False)
    email = user.email
    db.session.commit()
    with live_server(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(java_script_enabled=False, viewport={"width": 320, "height": 640})
            page.set_default_timeout(15000)
            page.goto(base + "/signin")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url(base + "/account/two-step")
            assert "needs two-step sign-in" in page.inner_text("main")

            page.fill("#start-password", PASSWORD)
            page.press("#start-password", "Enter")
            page.wait_for_load_state()
            qr = page.locator("div.qr svg")
            assert qr.is_visible() and qr.bounding_box()["width"] <= 320
            assert page.evaluate("document.documentElement.scrollWidth") <= 320, page.evaluate(WIDER_THAN_320)

            secret = totp.secret_of(db.session.execute(sa.select(User).where(User.email == email)).scalar_one())
            db.session.commit()
            assert secret.replace(" ", "")[:4] in page.inner_text("code.secret")
            page.fill("#on-code", pyotp.TOTP(secret).now())
            page.press("#on-code", "Enter")
            page.wait_for_load_state()
            assert page.locator("ul.recovery-codes li").count() == 10
            assert page.evaluate("document.documentElement.scrollWidth") <= 320

            page.click("text=I have kept them: continue")
            page.wait_for_url(base + "/dashboard")
        finally:
            browser.close()
