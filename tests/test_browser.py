"""A person signs up and signs in with a real browser, keyboard only where it matters."""
import pytest

from facility.accounts.models import User
from facility.extensions import db
from tests.browser import browser_page, live_server, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.serial]


def test_sign_up_sign_out_sign_in(app, backend):
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()
    db.session.commit()
    with live_server(app) as base, browser_page() as page:
        page.goto(base + "/")
        # Keyboard: the first Tab reaches the skip link.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"

        page.click("text=Sign up")
        page.select_option("#role", "innovator")
        page.fill("#name", "Grace Mwangi")
        page.fill("#email", "grace@example.org")
        page.fill("#password", "kettle harbour violet 42")
        page.fill("#org_name", "Mwangi Water Labs")
        page.select_option("#org_country", "KEN")
        page.select_option("#org_type", "community_organization")
        page.click("#submit")
        page.wait_for_url(base + "/dashboard")
        assert "Welcome, Grace Mwangi" in page.inner_text("h1")

        page.click("button:has-text('Sign out')")
        page.wait_for_url(base + "/")
        page.click("text=Sign in")
        page.fill("#email", "grace@example.org")
        page.fill("#password", "wrong password entirely")
        page.press("#password", "Enter")
        assert "The e-mail address or password is wrong." in page.inner_text("#error-summary")
        page.fill("#password", "kettle harbour violet 42")
        page.press("#password", "Enter")
        page.wait_for_url(base + "/dashboard")
        assert "Mwangi Water Labs" in page.inner_text("main")
    db.session.expire_all()
    user = db.session.query(User).filter_by(email="grace@example.org").one()
    assert user.organization.org_type.value == "community_organization"
