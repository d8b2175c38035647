"""The benchmarks' throw-away PostgreSQL database: made next to BENCH_DATABASE_URL, dropped at the end.

    with throwaway_database("bench", migrate=True) as database:
        app = create_app("test", SQLALCHEMY_DATABASE_URI=database.url, ...)
        psycopg.connect(database.conninfo)

The database gets a unique name (`<prefix>_<random>`) on the server and role of BENCH_DATABASE_URL
(default postgresql://postgres@127.0.0.1:5432/test; CREATE DATABASE needs the right to). `migrate=True`
builds the product's schema in it as the tests and deployments do, by the Alembic migrations (with an app
of its own, using BENCH_REDIS_URL). At the end it is dropped WITH (FORCE), whatever is still connected,
unless `keep=True` (the caller says so).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    url: str  # for SQLAlchemy and the app (postgresql+psycopg://…), password included
    conninfo: str  # for psycopg.connect


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def bench_database(name: str, server_url: str = SERVER_URL) -> BenchDatabase:
    """The URLs of database `name` on the benchmarks' server (one made here, or one kept from before)."""
    url = sa.engine.make_url(_libpq(server_url)).set(drivername="postgresql+psycopg", database=name)
    return BenchDatabase(name=name, url=url.render_as_string(hide_password=False),
                         conninfo=make_conninfo(_libpq(server_url), dbname=name))


def migrate(url: str) -> None:
    """The product's schema, built by the migrations (`flask db upgrade`), in the database at `url`."""
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from facility import create_app
    from facility.extensions import db

    instance = tempfile.mkdtemp(prefix="bench-migrate-")
    try:
        app = create_app("test", SQLALCHEMY_DATABASE_URI=url, REDIS_URL=REDIS_URL, INSTANCE_PATH=instance)
        with app.app_context():
            upgrade()
            db.engine.dispose()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


@contextmanager
def throwaway_database(prefix: str = "bench", *, migrate_schema: bool = False, keep: bool = False,
                       server_url: str = SERVER_URL) -> Iterator[BenchDatabase]:
    """A new database `<prefix>_<random>` on `server_url`'s server, migrated if asked, dropped at the end."""
    database = bench_database(f"{prefix}_{uuid.uuid4().hex[:10]}", server_url)
    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database.name}"')
    try:
        if migrate_schema:
            migrate(database.url)
        yield database
    finally:
        if not keep:
            with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
