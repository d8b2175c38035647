"""Fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

The schema is built by running the Alembic migrations (never create_all).
Each backend gets its own throw-away database for the session; tests are
isolated by restoring a migrated SQLite file or truncating PostgreSQL tables.
Redis is an embedded server unless TEST_REDIS_URL is set.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import has_app_context
from flask.testing import FlaskClient

from facility import create_app
from facility.extensions import db, limiter
from tests import factories
from tests.factories import NOW, PASSWORD
from tests.factories.ledger import fund_facility  # noqa: F401 - imported from here by tests

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


def _pg_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    from facility.queue import start_embedded_redis, stop_embedded_redis

    yield start_embedded_redis(str(tmp_path_factory.mktemp("redis")))
    stop_embedded_redis()


def _create_pg_database() -> tuple[str, sa.Engine, str]:
    admin_engine = sa.create_engine(_pg_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    name = f"facility_test_{uuid.uuid4().hex[:12]}"
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # A throwaway database: a commit need not wait for its WAL to reach the disk (the suite commits
        # thousands of times; a crash loses only a database that is dropped anyway).
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    url = sa.engine.make_url(_pg_url(TEST_DATABASE_URL)).set(database=name)
    return url.render_as_string(hide_password=False), admin_engine, name


def _drop_pg_database(admin_engine: sa.Engine, name: str) -> None:
    with admin_engine.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
        ), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin_engine.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production.

    Tests keep an app context pushed for their own database work; without
    this, requests would reuse it and share `g` (the signed-in user, the CSRF
    token) with each other.
    """

    def open(self, *args, **kwargs):
        # End the test's own transaction first: on SQLite every transaction
        # holds the write lock (BEGIN IMMEDIATE), as it would between two requests.
        if has_app_context():
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_test_app(database_url: str, redis_url: str, instance_path: str, **overrides):
    tag = uuid.uuid4().hex[:8]
    app = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_url,
        QUEUE_PREFIX=f"test-{tag}-",
        RATELIMIT_KEY_PREFIX=f"test-{tag}",
        # limiter.reset() deletes every key under the storage prefix; a prefix of our own keeps
        # concurrent test runs on a shared Redis from wiping each other's counters.
        RATELIMIT_STORAGE_OPTIONS={"key_prefix": f"test-{tag}-LIMITS"},
        PUBLIC_CACHE_KEY_PREFIX=f"test-{tag}-cache:",  # the shared page cache's entries are this app's own
        INSTANCE_PATH=instance_path,
        **overrides,
    )
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session", params=BACKENDS)
def backend_app(request, tmp_path_factory, redis_url):
    """One migrated app per backend for the whole session."""
    from flask_migrate import upgrade

    backend = request.param
    tmp = tmp_path_factory.mktemp(f"app-{backend}")
    cleanup = None
    if backend == "sqlite":
        db_path = tmp / "facility.db"
        url = f"sqlite:///{db_path}"
    else:
        url, admin_engine, name = _create_pg_database()
        cleanup = lambda: _drop_pg_database(admin_engine, name)  # noqa: E731
    app = make_test_app(url, redis_url, str(tmp / "instance"))
    app.config["TEST_BACKEND"] = backend
    with app.app_context():
        upgrade()
        db.engine.dispose()
        if backend == "sqlite":
            shutil.copy(db_path, tmp / "template.db")
            app.config["TEST_SQLITE_FILES"] = (db_path, tmp / "template.db")
        else:
            tables = [t for t in sa.inspect(db.engine).get_table_names() if t != "alembic_version"]
            app.config["TEST_PG_TABLES"] = tables
    yield app
    with app.app_context():
        db.engine.dispose()
    if cleanup:
        cleanup()


def _reset_database(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        if app.config["TEST_BACKEND"] == "sqlite":
            # SQLite's backup API rewrites the live database from the migrated template; unlike
            # copying files over it, this is safe while another connection still has it open.
            db_path, template = app.config["TEST_SQLITE_FILES"]
            source, target = sqlite3.connect(template), sqlite3.connect(db_path)
            try:
                source.backup(target)
            finally:
                source.close()
                target.close()
        else:
            _empty_pg_tables(app.config["TEST_PG_TABLES"])


def _empty_pg_tables(tables: list[str]) -> None:
    """Empty the tables a test wrote to and restart the sequences it advanced, in one transaction.

    Truncating all ~90 tables cost most of a second per test (a new file for every table and index);
    a test writes to a handful. So: find the tables with rows in one query, delete their rows with the
    foreign keys' and the append-only triggers' checks switched off (`session_replication_role`, which
    the suite's superuser may set; otherwise truncate just those tables), and restart the sequences
    that moved, rolled-back inserts included, so that ids start at 1 as in a fresh database."""
    # The names come from the migrated schema's inspector, never from input.
    probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)  # noqa: S608
    with db.engine.begin() as conn:
        filled = list(conn.execute(sa.text(probe)).scalars())
        if filled:
            try:
                with conn.begin_nested():
                    conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                    conn.exec_driver_sql("; ".join(f'DELETE FROM "{t}"' for t in filled))  # noqa: S608
            except sa.exc.DBAPIError:  # not a superuser: truncating only what has rows is still quick
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in filled) + " CASCADE"))
        moved = list(conn.execute(sa.text(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences "
            "WHERE last_value IS NOT NULL AND schemaname = current_schema()")).scalars())
        if moved:
            conn.exec_driver_sql("; ".join(f"ALTER SEQUENCE {name} RESTART" for name in moved))


def _reset_redis(app) -> None:
    from facility.core import public_cache
    from facility.queue import all_queues

    public_cache.clear(app)  # the database was reset without a commit: the pages cached from it are dead
    with app.app_context():
        for queue in all_queues(app):
            queue.empty()
        # The limiter is a module-level extension: the storage it uses now is the one of the
        # last app built in this process. Each test app has its own storage key prefix, so
        # resetting it never touches another test run's (or a deployment's) counters.
        limiter.reset()


@pytest.fixture
def app(backend_app):
    """A clean database and queues for each test; an app context is pushed."""
    _reset_database(backend_app)
    _reset_redis(backend_app)
    ctx = backend_app.app_context()
    ctx.push()
    try:
        yield backend_app
    finally:
        db.session.remove()
        ctx.pop()


@pytest.fixture
def stripe_on(app, monkeypatch):
    """The app with Stripe configured (card pledges and Stripe payouts offered); nothing listens at its
    address, so a test that does reach Stripe fails fast instead of using the network."""
    monkeypatch.setitem(app.config, "STRIPE_API_KEY", factories.grants.OFFLINE_STRIPE_KEY)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def backend(app) -> str:
    return app.config["TEST_BACKEND"]


# --- time -------------------------------------------------------------------------------

class Clock:
    """A frozen clock a test can move: `clock.move_to(when)`, `clock.shift(days=1)`, `clock.now`."""

    def __init__(self, traveller):
        self._traveller = traveller

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def move_to(self, destination) -> None:
        self._traveller.move_to(destination)

    def shift(self, delta: timedelta | float | None = None, **kwargs) -> None:
        self._traveller.shift(delta if delta is not None else timedelta(**kwargs))


@pytest.fixture
def clock():
    """Time stands still at NOW (2027-03-01 12:00 UTC) until the test moves it."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield Clock(traveller)


@pytest.fixture
def world(app, clock) -> factories.world.World:
    """A small facility built through the services, the clock standing at NOW: a verified city and its
    official, a funded published challenge open for 30 days, an innovator organisation with a submitted
    proposal, two fund managers, a reviewer and a donor (see tests/factories/world.py)."""
    return factories.world.build_world()


# --- factories and helpers: thin wrappers over tests/factories ---------------------------

@pytest.fixture(autouse=True)
def _number_users_per_test():
    """Users are numbered from 1 in each test (user1-innovator@example.org, ...)."""
    factories.accounts.reset_numbers()


@pytest.fixture
def make_org():
    return factories.accounts.make_org


@pytest.fixture
def make_user(app):
    return factories.accounts.make_user


def csrf_token_from(html: str) -> str:
    # A form's hidden field, or the token a script sends (`data-csrf`, e.g. the passkey sign-in page, whose
    # only form is the script's: since visitors switch language by GET, no other form carries one).
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html) or re.search(r'data-csrf="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def get_csrf(client, path="/signin") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


SIGNUP_PASSWORD = "correct horse battery staple"


def post_signup(client, **overrides):
    """Sign up the way the form does: an innovator with her organisation, `overrides` replacing fields."""
    data = {"role": "innovator", "name": "Amina", "email": "amina@example.org", "password": SIGNUP_PASSWORD,
            "org_name": "Kiosk", "org_country": "UGA", "org_type": "startup"}
    data.update(overrides)
    data["csrf_token"] = get_csrf(client, "/signup")
    return client.post("/signup", data=data)


def sign_in(client, user_or_email, password=PASSWORD, *, path="/signin"):
    """Sign in through the page; a person with two-step sign-in on also passes the second step with a
    fresh code (`factories.accounts.fresh_code`). Answers the last response (302 on success)."""
    email = getattr(user_or_email, "email", user_or_email)
    token = get_csrf(client)
    response = client.post(path, data={"email": email, "password": password, "csrf_token": token})
    if response.status_code == 302 and response.location.split("?")[0].endswith("/signin/verify"):
        response = pass_second_step(client, email)
    return response


def pass_second_step(client, email, code=None):
    """The sign-in's second step, with `code` (default: a fresh valid one)."""
    page = client.get("/signin/verify")
    if page.status_code != 200:
        return page
    token = csrf_token_from(page.get_data(as_text=True))
    code = code if code is not None else factories.accounts.fresh_code(email)
    return client.post("/signin/verify", data={"email": email, "code": code, "csrf_token": token})


@pytest.fixture
def login():
    def _login(client, user, password=PASSWORD):
        response = sign_in(client, user, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _login


@pytest.fixture
def signed_in(app, login):
    """`signed_in(user)`: a new test client signed in as `user` (each user signs in once: the sign-in
    limit counts per account)."""

    def _client(user):
        client = app.test_client()
        login(client, user)
        return client

    return _client


@pytest.fixture
def api_headers(app):
    """Authorization headers for a user, with a real token from the service."""
    from facility.accounts.services import issue_api_token

    def _headers(user):
        _, plain = issue_api_token(user=user)
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return _headers


@pytest.fixture
def run_jobs(app):
    """Run every queued job in this process until the queues are empty."""
    from rq import SimpleWorker

    from facility.queue import all_queues, get_redis

    def _run():
        db.session.commit()  # release the test's transaction (SQLite lock), as between processes
        worker = SimpleWorker(all_queues(app), connection=get_redis(app))
        worker.work(burst=True, with_scheduler=False)

    return _run


@pytest.fixture
def count_queries(app):
    """Count the SQL statements run inside the block: `with count_queries() as n: ...; n()`.
    `count_queries(selects_only=True)` counts reads only (writes a page makes on the side, such as a
    session's last-seen time, do not grow with its rows)."""
    @contextlib.contextmanager
    def _count(*, selects_only: bool = False):
        statements: list[str] = []

        def listener(conn, cursor, statement, *args):
            if not selects_only or statement.lstrip().upper().startswith("SELECT"):
                statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            yield lambda: len(statements)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)

    return _count
