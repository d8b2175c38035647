"""Production refuses to start with weak keys, and trusts the configured proxies."""
from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.fernet import Fernet
from werkzeug.middleware.proxy_fix import ProxyFix

from facility import create_app

STRONG_SECRET = secrets.token_urlsafe(32)


def _production(tmp_path, redis_url="redis://127.0.0.1:1/0", **overrides):
    settings = {"SECRET_KEY": STRONG_SECRET, "PAYOUT_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "AUDIT_KEY": "k1:" + secrets.token_urlsafe(32),
                "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/none", "REDIS_URL": redis_url,
                "RATELIMIT_STORAGE_URI": "memory://", "INSTANCE_PATH": str(tmp_path), **overrides}
    return create_app("production", **settings)


@pytest.fixture(autouse=True)
def _no_keys_from_the_environment(monkeypatch):
    for name in ("SECRET_KEY", "PAYOUT_ENCRYPTION_KEY", "AUDIT_KEY", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("secret", ["x", "prod-secret", "x" * 64, "ab" * 32, "short-but-not-32-bytes-long"])
def test_production_refuses_a_weak_secret_key(tmp_path, secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY of at least 32 random bytes"):
        _production(tmp_path, SECRET_KEY=secret)


@pytest.mark.parametrize("key", [
    base64.urlsafe_b64encode(b"\0" * 32).decode(),  # a valid Fernet key, but no random bytes in it
    base64.urlsafe_b64encode(b"ab" * 16).decode(),
])
def test_production_refuses_a_payout_key_that_is_not_random(tmp_path, key):
    with pytest.raises(RuntimeError, match="32 random bytes"):
        _production(tmp_path, PAYOUT_ENCRYPTION_KEY=key)


def test_production_refuses_a_payout_key_of_the_wrong_length(tmp_path):
    with pytest.raises(RuntimeError, match="PAYOUT_ENCRYPTION_KEY"):
        _production(tmp_path, PAYOUT_ENCRYPTION_KEY=base64.urlsafe_b64encode(secrets.token_bytes(16)).decode())


def test_every_rotated_payout_key_is_checked(tmp_path):
    weak = base64.urlsafe_b64encode(b"\1" * 32).decode()
    with pytest.raises(RuntimeError, match="32 random bytes"):
        _production(tmp_path, PAYOUT_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{weak}")


def test_production_starts_with_strong_keys(tmp_path):
    app = _production(tmp_path, PAYOUT_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}")
    assert app.config["ENV_NAME"] == "production"
    assert not isinstance(app.wsgi_app, ProxyFix), "no proxy is trusted unless configured"


def test_trusted_proxies_are_applied(tmp_path):
    app = _production(tmp_path, TRUSTED_PROXIES=2)
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2 and app.wsgi_app.x_proto == 2
