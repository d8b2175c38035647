"""Sign-in protection: the same work for known and unknown accounts, rate limits shared by the pages and
the API that a stranger cannot use to lock an owner out, trusted proxies, and session timeouts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask, request

from facility import _trust_proxies
from facility.accounts import services
from facility.accounts.models import UserSession
from facility.core.outbox import OutboundEmail
from facility.extensions import db
from facility.queue import all_queues
from tests.conftest import PASSWORD, get_csrf, sign_in

WRONG = "not the password at all"


def _client(app, address: str):
    """A browser (or API client) connecting from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


# --- the same work whether or not the account exists --------------------------------------

@pytest.fixture
def argon2_calls(monkeypatch):
    """Counts of argon2 `hash` and `verify` calls, by name."""
    calls = {"hash": 0, "verify": 0}
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def counting_hash(self, *args, **kwargs):
        calls["hash"] += 1
        return real_hash(self, *args, **kwargs)

    def counting_verify(self, *args, **kwargs):
        calls["verify"] += 1
        return real_verify(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)

    def take() -> dict[str, int]:
        taken = dict(calls)
        calls.update(hash=0, verify=0)
        return taken

    return take


def test_sign_in_costs_one_argon2_verify_whoever_asks(app, make_user, argon2_calls):
    user = make_user("donor")
    disabled = make_user("donor")
    disabled.active = False
    db.session.commit()
    services.authenticate(email="warm-up@example.org", password=WRONG)  # the dummy hash is made once
    argon2_calls()
    one_verify = {"hash": 0, "verify": 1}
    for email, password in [("nobody@example.org", WRONG), ("someone-else@example.org", WRONG),
                            (user.email, WRONG), (disabled.email, PASSWORD)]:
        assert services.authenticate(email=email, password=password) is None
        assert argon2_calls() == one_verify, email
    assert services.authenticate(email=user.email, password=PASSWORD) == user
    assert argon2_calls() == one_verify


def test_sign_in_runs_the_same_statements_for_unknown_and_known_accounts(app, make_user, count_queries):
    email = make_user("donor").email
    services.authenticate(email="warm-up@example.org", password=WRONG)
    db.session.commit()
    with count_queries() as unknown:
        services.authenticate(email="nobody@example.org", password=WRONG)
        db.session.commit()
    with count_queries() as known:
        services.authenticate(email=email, password=WRONG)
        db.session.commit()
    assert unknown() == known() > 0


def _queued_jobs(app) -> int:
    return sum(queue.count for queue in all_queues(app))


def test_password_reset_request_does_the_same_work_for_any_address(app, make_user, count_queries, run_jobs):
    make_user("donor", email="known@example.org")
    work = {}
    for email in ("known@example.org", "unknown@example.org"):
        before = _queued_jobs(app)
        with count_queries() as statements:
            services.request_password_reset(email=email)
            db.session.commit()
        work[email] = (statements(), _queued_jobs(app) - before)
    assert work["known@example.org"] == work["unknown@example.org"] == (0, 1)
    assert db.session.query(OutboundEmail).count() == 0, "nothing is rendered or stored while the person waits"
    run_jobs()
    sent = db.session.execute(sa.select(OutboundEmail.to_address)).scalars().all()
    assert sent == ["known@example.org"]


def test_password_reset_answers_alike_for_known_and_unknown_addresses(client, make_user):
    make_user("donor", email="known@example.org")
    answers = []
    for email in ("known@example.org", "unknown@example.org"):
        token = get_csrf(client, "/password/forgot")
        response = client.post("/password/forgot", data={"email": email, "csrf_token": token})
        answers.append((response.status_code, response.location, client.get(response.location).get_data(as_text=True)))
    (known_status, known_location, known_page), (unknown_status, unknown_location, unknown_page) = answers
    assert known_status == unknown_status == 302 and known_location == unknown_location
    assert "If an account uses that address" in known_page and "If an account uses that address" in unknown_page


# --- sign-in limits: one counter for page and API, per account and address -----------------------------

def _api_sign_in(client, email: str, password: str):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password})


def test_page_and_api_share_the_per_account_counter(app, make_user):
    user = make_user("donor")
    limit = int(app.config["SIGNIN_LIMIT_PER_ACCOUNT"].split()[0])
    client = _client(app, "203.0.113.10")
    for n in range(limit):
        if n % 2:
            assert _api_sign_in(client, user.email, WRONG).status_code == 401
        else:
            assert sign_in(client, user, WRONG).status_code == 422
    assert _api_sign_in(client, user.email, PASSWORD).status_code == 429
    assert sign_in(client, user, PASSWORD).status_code == 429


def test_a_stranger_cannot_lock_the_owner_out(app, make_user):
    owner = make_user("donor")
    limit = int(app.config["SIGNIN_LIMIT_PER_ACCOUNT"].split()[0])
    stranger = _client(app, "203.0.113.66")
    for _ in range(limit):
        sign_in(stranger, owner, WRONG)
    assert sign_in(stranger, owner, PASSWORD).status_code == 429, "the stranger's address is stopped"
    assert _api_sign_in(stranger, owner.email, PASSWORD).status_code == 429
    at_home = _client(app, "198.51.100.7")
    assert sign_in(at_home, owner).status_code == 302, "the owner signs in from their own address"
    assert _api_sign_in(_client(app, "198.51.100.7"), owner.email, PASSWORD).status_code == 201


def test_successful_sign_ins_do_not_use_up_the_allowance(app, make_user):
    user = make_user("donor")
    limit = int(app.config["SIGNIN_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(limit + 2):
        assert sign_in(_client(app, "198.51.100.8"), user).status_code == 302
        assert _api_sign_in(_client(app, "198.51.100.8"), user.email, PASSWORD).status_code == 201


def test_guessing_from_many_addresses_meets_the_per_account_limit(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNIN_LIMIT_PER_ACCOUNT_GLOBAL", "6 per hour")
    user = make_user("donor")
    for n in range(3):  # two failures from each of three addresses: below the per-address-and-account limit
        client = _client(app, f"192.0.2.{n + 1}")
        assert sign_in(client, user, WRONG).status_code == 422
        assert _api_sign_in(client, user.email, WRONG).status_code == 401
    assert sign_in(_client(app, "192.0.2.99"), user, WRONG).status_code == 429
    assert _api_sign_in(_client(app, "192.0.2.98"), user.email, PASSWORD).status_code == 429
    other = make_user("donor")
    assert sign_in(_client(app, "192.0.2.99"), other).status_code == 302, "other accounts are unaffected"


def test_page_and_api_share_the_per_address_counter(app, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNIN_LIMIT_PER_ADDRESS", "6 per 15 minutes")
    client = _client(app, "203.0.113.20")
    for n in range(3):
        assert sign_in(client, f"probe{n}@example.org", WRONG).status_code == 422
        assert _api_sign_in(client, f"probe-api{n}@example.org", WRONG).status_code == 401
    assert sign_in(client, "fresh@example.org", WRONG).status_code == 429
    response = _api_sign_in(client, "fresh-api@example.org", WRONG)
    assert response.status_code == 429 and response.content_type == "application/problem+json"
    assert sign_in(_client(app, "203.0.113.21"), "fresh@example.org", WRONG).status_code == 422


# --- sign-up and password-reset limits ---------------------------------------------------------------

def test_sign_up_is_limited_per_address_on_page_and_api(app, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP_LIMIT_PER_ADDRESS", "3 per hour")
    client = _client(app, "203.0.113.30")
    bad = {"email": "nope", "password": "x", "name": "", "role": "donor"}
    assert client.post("/api/v1/users", json=bad).status_code == 422
    assert client.post("/api/v1/users", json=bad).status_code == 422
    token = get_csrf(client, "/signup")
    assert client.post("/signup", data={**bad, "csrf_token": token}).status_code == 422
    assert client.post("/signup", data={**bad, "csrf_token": token}).status_code == 429
    assert client.post("/api/v1/users", json=bad).status_code == 429
    elsewhere = _client(app, "203.0.113.31")
    assert elsewhere.post("/api/v1/users", json=bad).status_code == 422


def _ask_reset(client, email: str):
    token = get_csrf(client, "/password/forgot")
    return client.post("/password/forgot", data={"email": email, "csrf_token": token})


def test_password_reset_is_limited_per_target_address(app, make_user, monkeypatch, run_jobs):
    monkeypatch.setitem(app.config, "RESET_LIMIT_PER_ACCOUNT", "3 per hour")
    make_user("donor", email="target@example.org")
    for n in range(3):  # from three addresses: only the target's own limit applies
        assert _ask_reset(_client(app, f"192.0.2.{n + 10}"), "target@example.org").status_code == 302
    for n in range(5):
        assert _ask_reset(_client(app, f"192.0.2.{n + 20}"), "Target@Example.org").status_code == 429
    run_jobs()
    assert db.session.query(OutboundEmail).filter_by(to_address="target@example.org").count() == 3
    # The limit says nothing about whether an account uses the address: an unknown one is limited alike.
    for n in range(3):
        assert _ask_reset(_client(app, f"192.0.2.{n + 30}"), "ghost@example.org").status_code == 302
    assert _ask_reset(_client(app, "192.0.2.40"), "ghost@example.org").status_code == 429


def test_password_reset_is_limited_per_address(app, monkeypatch):
    monkeypatch.setitem(app.config, "RESET_LIMIT_PER_ADDRESS", "3 per hour")
    client = _client(app, "203.0.113.40")
    for n in range(3):
        assert _ask_reset(client, f"someone{n}@example.org").status_code == 302
    assert _ask_reset(client, "another@example.org").status_code == 429
    assert _ask_reset(_client(app, "203.0.113.41"), "another@example.org").status_code == 302


# --- trusted proxies ---------------------------------------------------------------------------------

def _address_app(hops: int) -> Flask:
    app = Flask("proxied")
    app.config["TRUSTED_PROXIES"] = hops
    app.add_url_rule("/", "address", lambda: request.remote_addr or "")
    _trust_proxies(app)
    return app


def test_without_trusted_proxies_forwarded_headers_are_ignored():
    client = _address_app(0).test_client()
    answer = client.get("/", headers={"X-Forwarded-For": "6.6.6.6"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert answer.get_data(as_text=True) == "10.0.0.1"


def test_trusted_proxies_give_the_client_address_and_a_client_cannot_forge_it():
    one = _address_app(1).test_client()
    answer = one.get("/", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.5"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert answer.get_data(as_text=True) == "203.0.113.5", "the value the one trusted proxy appended"
    two = _address_app(2).test_client()
    answer = two.get("/", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.5, 10.0.0.2"},
                     environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert answer.get_data(as_text=True) == "203.0.113.5"


def test_a_negative_proxy_count_is_refused():
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        _address_app(-1)


# --- session timeouts --------------------------------------------------------------------------------

def _open_session(user) -> str:
    token = services.start_session(user=user)
    db.session.commit()
    return token


def _sessions() -> int:
    db.session.commit()
    return db.session.query(UserSession).count()


def test_money_roles_sign_out_after_30_idle_minutes(app, clock, make_user):
    manager = make_user("fund_manager")
    token = _open_session(manager)
    clock.shift(minutes=29)
    assert services.load_session_user(token) == manager
    db.session.commit()
    clock.shift(minutes=29)
    assert services.load_session_user(token) == manager, "use moves the idle deadline on"
    db.session.commit()
    clock.shift(minutes=31)
    assert services.load_session_user(token) is None
    assert _sessions() == 0, "the expired session is deleted"


def test_other_roles_sign_out_after_the_longer_idle_time(app, clock, make_user):
    donor = make_user("donor")
    token = _open_session(donor)
    clock.shift(minutes=119)
    assert services.load_session_user(token) == donor
    db.session.commit()
    clock.shift(minutes=121)
    assert services.load_session_user(token) is None
    assert _sessions() == 0


def test_idle_times_are_configurable(app, clock, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 10)
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES_MONEY_ROLES", 5)
    donor, auditor = make_user("donor"), make_user("auditor")
    donor_token, auditor_token = _open_session(donor), _open_session(auditor)
    clock.shift(minutes=6)
    assert services.load_session_user(auditor_token) is None
    assert services.load_session_user(donor_token) == donor


def test_sessions_end_after_the_absolute_lifetime_however_active(app, clock, make_user):
    donor = make_user("donor")
    token = _open_session(donor)
    for _ in range(11):
        clock.shift(hours=1)
        assert services.load_session_user(token) == donor
        db.session.commit()
    clock.shift(minutes=59)
    assert services.load_session_user(token) == donor
    db.session.commit()
    clock.shift(minutes=1)
    assert services.load_session_user(token) is None
    assert _sessions() == 0


def test_last_seen_is_written_at_most_once_a_minute(app, clock, make_user):
    donor = make_user("donor")
    token = _open_session(donor)
    opened = db.session.query(UserSession).one().last_seen_at
    clock.shift(seconds=30)
    services.load_session_user(token)
    db.session.commit()
    assert db.session.query(UserSession).one().last_seen_at == opened
    clock.shift(seconds=31)
    services.load_session_user(token)
    db.session.commit()
    assert db.session.query(UserSession).one().last_seen_at == clock.now


def test_reading_pages_keeps_a_session_alive_and_idleness_ends_it(client, clock, make_user, login):
    manager = make_user("fund_manager")
    login(client, manager)
    for _ in range(3):  # 60 minutes of reading, never 30 idle
        clock.shift(minutes=20)
        response = client.get("/profile")
        assert not (response.status_code == 302 and "/signin" in response.location)
    clock.shift(minutes=31)
    response = client.get("/profile")
    assert response.status_code == 302 and "/signin" in response.location
    assert _sessions() == 0
