"""Fixtures for the payment rails: a fake Stripe server and an app pointed at it.

These tests need no database: the app uses an in-memory SQLite URL only so
that `create_app` has one.
"""
from __future__ import annotations

import pytest

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
