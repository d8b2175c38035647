"""The demo's staff have two-step sign-in on with the published demo secret, and `demo-otp` prints their
current code in development and test only."""
from __future__ import annotations

import pyotp
import sqlalchemy as sa

from facility.accounts import demo, totp
from facility.accounts.models import User
from facility.extensions import db
from tests.factories.accounts import enrol


def test_demo_staff_are_enrolled_with_the_demo_secret(app):
    demo.seed({"password": "demo-facility-2026"})
    db.session.flush()
    users = {u.email: u for u in db.session.execute(sa.select(User)).scalars()}
    for email in ("admin@demo.facility", "fund.manager@demo.facility", "fund.manager2@demo.facility",
                  "auditor@demo.facility"):
        assert users[email].mfa_enrolled_at is not None and totp.secret_of(users[email]) == demo.DEMO_TOTP_SECRET
    assert users["founder@solarkiosk.demo"].mfa_enrolled_at is None


def test_demo_otp_prints_the_current_code_of_a_demo_account(app, make_user, clock):
    enrol(make_user("fund_manager", email="fund.manager@demo.facility", enrolled=False), demo.DEMO_TOTP_SECRET)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["facility", "demo-otp", "fund.manager@demo.facility"])
    assert result.exit_code == 0 and result.output.strip() == pyotp.TOTP(demo.DEMO_TOTP_SECRET).now()

    enrol(make_user("fund_manager", email="real.person@example.org", enrolled=False))
    other = runner.invoke(args=["facility", "demo-otp", "real.person@example.org"])
    assert other.exit_code == 1 and "not a demo account" in other.output


def test_demo_otp_is_refused_in_production(app, make_user):
    enrol(make_user("fund_manager", email="fund.manager@demo.facility", enrolled=False), demo.DEMO_TOTP_SECRET)
    app.config["ENV_NAME"] = "production"
    try:
        result = app.test_cli_runner().invoke(args=["facility", "demo-otp", "fund.manager@demo.facility"])
    finally:
        app.config["ENV_NAME"] = "test"
    assert result.exit_code == 1 and "development only" in result.output and not any(c.isdigit() for c in result.output)
