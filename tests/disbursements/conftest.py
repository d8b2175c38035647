"""Fixtures for the payment rails: a fake Stripe server and an app pointed at it.

These tests need no database: the app uses an in-memory SQLite URL only so
that `create_app` has one.
"""
from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import make_test_app
from tests.fakes.stripe_server import FakeStripe

WEBHOOK_SECRET = "whsec_test"
# Seconds. Generous enough that a busy machine does not time out ordinary requests;
# the fake hangs longer than the client waits for time-out faults.
CLIENT_TIMEOUT = 0.5
HANG_SECONDS = 0.8


@pytest.fixture(scope="session")
def fake_stripe_server():
    server = FakeStripe(hang_seconds=HANG_SECONDS).start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server):
    """The fake Stripe server, empty and without faults for each test."""
    fake_stripe_server.reset()
    fake_stripe_server.hang_seconds = HANG_SECONDS
    yield fake_stripe_server
    fake_stripe_server.reset()  # also releases requests a test left hanging


@pytest.fixture(scope="session")
def stripe_app(fake_stripe_server, redis_url, tmp_path_factory):
    return make_test_app(
        "sqlite://", redis_url, str(tmp_path_factory.mktemp("stripe-app")),
        STRIPE_API_KEY="sk_test_x",
        STRIPE_API_BASE=fake_stripe_server.url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_TIMEOUT_SECONDS=CLIENT_TIMEOUT,
    )


@pytest.fixture
def gateway_app(stripe_app, fake_stripe):
    """The app (context pushed) whose Stripe settings point at a clean fake."""
    saved = dict(stripe_app.config)
    with stripe_app.app_context():
        yield stripe_app
    stripe_app.config.clear()
    stripe_app.config.update(saved)  # tests may change settings


# --- database-backed fixtures: a grant ready to be paid ----------------------------------

from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: E402,F401,F811


@pytest.fixture
def paying_app(app, fake_stripe):
    """The backend app (SQLite or PostgreSQL) with its Stripe settings pointed at a clean fake."""
    saved = {key: app.config.get(key) for key in
             ("STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET", "STRIPE_TIMEOUT_SECONDS")}
    app.config.update(STRIPE_API_KEY="sk_test_x", STRIPE_API_BASE=fake_stripe.url,
                      STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_TIMEOUT_SECONDS=CLIENT_TIMEOUT)
    yield app
    app.config.update(saved)


TWO_ABOVE_USD_5000 = [{"up_to_cents": 500_000, "approvals": 1}, {"up_to_cents": None, "approvals": 2}]


@pytest.fixture
def two_approvals_above_usd_5000(paying_app, monkeypatch):
    """Approval tiers where payments above USD 5,000 need two approvals, for this test only (put back
    afterwards, also on failure)."""
    monkeypatch.setitem(paying_app.config, "APPROVAL_TIERS", TWO_ABOVE_USD_5000)
    yield paying_app


@pytest.fixture
def payable(paying_app, make_challenge, make_proposal, make_user, fund):  # noqa: F811 - fixtures imported above
    """`payable(rail="stripe"|"manual", amounts=...)`: an active grant whose first tranche's evidence is accepted.

    Returns (grant, requester, approver, grantee): two fund managers and an innovator of the grantee.
    """
    managers: list = []

    def _make(*, rail="stripe", amounts=(1_000_000, 2_000_000), stripe_account="acct_1Grantee01", accept=(1,)):
        challenge = make_challenge(max_award_cents=sum(amounts) * 2)
        proposal = make_proposal(challenge, amounts=amounts)
        fund(challenge=challenge, pool=sum(amounts))
        if not managers:
            managers.extend([make_user("fund_manager", name="Ana Requester"),
                             make_user("fund_manager", name="Ben Approver")])
        requester, approver = managers
        grantee = make_user("innovator", organization=proposal.organization)
        grant = factories.grants.make_grant(proposal, requester, grantee, amount_cents=sum(amounts), rail=rail,
                                            stripe_account=stripe_account, accepted_reports=accept)
        return grant, requester, approver, grantee

    return _make
