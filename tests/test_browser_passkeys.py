"""Passkeys in a real browser: Chromium's virtual authenticator (CDP `WebAuthn` domain) registers a passkey on
the Passkeys page and uses it for the second step of sign-in; without JavaScript the page says what to do."""
import pytest
import sqlalchemy as sa

from facility.accounts.models import PasskeyCredential, User, UserSession
from facility.extensions import db
from tests.browser import browser_page, live_server, require_chromium
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.serial]


def _virtual_authenticator(page) -> tuple[object, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    return cdp, added["authenticatorId"]


def test_register_a_passkey_then_use_it_to_sign_in(app, backend, make_user):
    """A fund manager without a second factor signs in, is sent to enrol, registers a passkey, signs out, and
    signs in again: the password, then the passkey on the sign-in's second step."""
    if backend != "sqlite":
        pytest.skip("one browser run is enough; the database layer is covered on PostgreSQL elsewhere")
    require_chromium()
    manager = make_user("fund_manager", name="Farah Haddad", enrolled=False)
    email, manager_id = manager.email, manager.id
    db.session.commit()  # on SQLite an open transaction here would hold the write lock the server needs
    saved = {key: app.config.get(key) for key in ("WEBAUTHN_RP_ID", "WEBAUTHN_ORIGIN")}
    try:
        with live_server(app) as served, browser_page() as page:
            base = served.replace("127.0.0.1", "localhost")  # an RP id is a host name, not an address
            app.config.update(WEBAUTHN_RP_ID="localhost", WEBAUTHN_ORIGIN=base)
            cdp, authenticator_id = _virtual_authenticator(page)

            page.goto(base + "/signin")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url(base + "/account/two-step")  # the role needs a second factor: enrol first
            page.goto(base + "/profile/passkeys")
            assert page.is_hidden("#passkey-needs-js")
            page.fill("#name", "Farah's laptop")
            page.click("button:has-text('Add a passkey'), input[value='Add a passkey']")
            page.wait_for_selector("text=Passkey “Farah's laptop” added.")
            assert "Farah's laptop" in page.inner_text(".passkey-list")
            stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
            assert len(stored) == 1

            page.click("button:has-text('Sign out')")
            page.wait_for_url(base + "/")
            page.goto(base + "/signin?next=/profile")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url(lambda url: url.split("?")[0].endswith("/signin/verify"))
            page.click("#passkey-use")
            page.wait_for_url(base + "/profile")
            assert email in page.inner_text("main")
    finally:
        app.config.update(saved)

    db.session.expire_all()
    passkey = db.session.scalars(sa.select(PasskeyCredential).where(PasskeyCredential.user_id == manager_id)).one()
    assert passkey.last_used_at is not None and passkey.sign_count >= 1
    assert db.session.get(User, manager_id).mfa_enrolled_at is not None
    fresh = db.session.scalars(sa.select(UserSession.factor_verified_at).where(UserSession.user_id == manager_id))
    assert any(when is not None for when in fresh)  # the passkey sign-in opened a session fresh for step-up


def test_without_javascript_the_page_explains_and_hides_the_button(app, backend, make_user):
    if backend != "sqlite":
        pytest.skip("one browser run is enough")
    require_chromium()
    email = make_user("innovator").email
    db.session.commit()
    with live_server(app) as base, browser_page() as page:
        context = page.context.browser.new_context(java_script_enabled=False)
        try:
            plain = context.new_page()
            plain.goto(base + "/signin")
            plain.fill("#email", email)
            plain.fill("#password", PASSWORD)
            plain.press("#password", "Enter")
            plain.wait_for_load_state()
            plain.goto(base + "/profile/passkeys")
            assert plain.is_visible("#passkey-needs-js")
            assert "authenticator app" in plain.inner_text("#passkey-needs-js")
            assert plain.is_hidden("#passkey-add")
        finally:
            context.close()
        page.set_viewport_size({"width": 320, "height": 640})
        page.goto(base + "/signin")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_load_state()
        page.goto(base + "/profile/passkeys")
        assert page.is_visible("#passkey-add")  # with JavaScript and WebAuthn the form appears
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
