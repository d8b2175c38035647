"""Headers, cookies, production refusals and rate limits."""
import secrets

import pytest

from facility import create_app
from facility.extensions import db
from tests.conftest import PASSWORD, get_csrf, make_test_app, sign_in


def test_security_headers_on_pages_and_api(client):
    for path in ("/", "/api/v1/openapi.json", "/signin"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]
        assert "Strict-Transport-Security" not in headers, "HSTS only in production"


def test_session_cookie_flags(client, make_user, app):
    user = make_user("donor")
    response = sign_in(client, user)
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_cookies_are_secure_and_hsts_on(tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-of-more-than-32-bytes")
    from cryptography.fernet import Fernet

    app = create_app("production", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@127.0.0.1/none",
                     REDIS_URL=redis_url, INSTANCE_PATH=str(tmp_path),
                     PAYOUT_ENCRYPTION_KEY=Fernet.generate_key().decode(),
                     AUDIT_KEY="k1:" + secrets.token_urlsafe(32))  # production refuses to start without it
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/api/v1/openapi.json")
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_production_refuses_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "prod-secret")
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        create_app("production", SQLALCHEMY_DATABASE_URI="sqlite:///x.db", INSTANCE_PATH=str(tmp_path))


def test_production_refuses_missing_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production", SECRET_KEY=None, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@h/d",
                   INSTANCE_PATH=str(tmp_path))


def test_sign_in_rate_limited_per_account(client, make_user, app):
    user = make_user("donor")
    limit = int(app.config["SIGNIN_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(limit):
        assert sign_in(client, user, "wrong password 123").status_code == 422
    blocked = sign_in(client, user, PASSWORD)
    assert blocked.status_code == 429, "even the right password waits once the account is limited"
    # Another account from the same address is still allowed.
    other = make_user("donor")
    assert sign_in(client, other).status_code == 302


def test_sign_in_rate_limited_per_address(client, make_user, app):
    limit = int(app.config["SIGNIN_LIMIT_PER_ADDRESS"].split()[0])
    token = get_csrf(client)
    for n in range(limit):
        client.post("/signin", data={"email": f"probe{n}@example.org", "password": "x" * 12, "csrf_token": token})
    response = client.post("/signin", data={"email": "fresh@example.org", "password": "x" * 12, "csrf_token": token})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_token_endpoint_rate_limited_per_account(client, make_user, app):
    user = make_user("donor")
    limit = int(app.config["SIGNIN_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(limit):
        client.post("/api/v1/auth/tokens", json={"email": user.email, "password": "wrong password 123"})
    response = client.post("/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_503_when_redis_is_down(tmp_path, backend_app):
    app = make_test_app(backend_app.config["SQLALCHEMY_DATABASE_URI"], "redis://127.0.0.1:1/0", str(tmp_path),
                        RATELIMIT_STORAGE_URI="memory://")
    response = app.test_client().get("/healthz")
    with app.app_context():
        db.engine.dispose()  # this second app shares the test database: close its connections
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("error")
