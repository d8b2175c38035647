"""The API's challenge list (`GET /api/v1/challenges?per_page=50`) against the full rows it used to send.

Issue 15: "the API list of 50 challenges under 10 ms in-process (send what a list needs; full text on the
item)". Fills a throw-away PostgreSQL database (built by the migrations) with BENCH_ROWS published
challenges (default 10,000, over 20 cities; a 300-character summary, a 760-character Markdown
description, four rubric criteria each), VACUUM ANALYZE, then times in-process (Flask test client, public
cache off), interleaved:

  (a) product: `GET /api/v1/challenges?per_page=50` (the list schema: what a row needs, with the item's url);
  (b) baseline: the same 50 rows as the list sent them before: every field of `ChallengeSchema` (the long
      description, its HTML, the rubric), criteria loaded per page, in the same envelope.

Prints median and p99 ms (wall clock), the median CPU time of this process per request (the app's own
work: on a busy machine the wall clock also counts waiting for a core and for PostgreSQL), bytes per
response and the ratio. Goal: median of (a) under 10 ms.
Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a database
bench_<random> is created next to it and dropped), BENCH_REDIS_URL, BENCH_ROWS, BENCH_RUNS (default 300),
BENCH_PROFILE=1 prints the top of a cProfile of (a).
"""
from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from facility import create_app  # noqa: E402 - after the path tweak
from facility.api.challenges import ChallengeSchema  # noqa: E402
from facility.api.schemas import page_of, paginate  # noqa: E402
from facility.challenges.models import PUBLIC_STATUSES, Challenge  # noqa: E402

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "300"))
PATH = "/api/v1/challenges?per_page=50"
GOAL_MS = 10.0
PARAGRAPH = ("Informal settlements need **safe water**, drainage and lighting; proposals should show how "
             "residents take part, what it costs to run and who maintains it after the grant ends. ")


def fill(url: str) -> None:
    """Cities, published challenges and their rubrics, in a few set-based INSERTs."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO organizations (id, name, kind, description, created_at, updated_at) "
                     "SELECT n, 'City authority ' || n, 'city', '', now(), now() FROM generate_series(1, 20) n")
        conn.execute("INSERT INTO cities (id, organization_id, name, country, population, "
                     "informal_settlement_share_pct, climate_risk, created_at, updated_at) "
                     "SELECT n, n, 'City ' || n, (ARRAY['KEN','BRA','IND','IDN','NGA'])[1 + mod(n, 5)], "
                     "1000000 + n, 30, 'high', now(), now() FROM generate_series(1, 20) n")
        conn.execute(
            "INSERT INTO challenges (id, city_id, title, summary, description, focus_area, sdg_targets, "
            "prize_pool_cents, max_award_cents, opens_at, closes_at, eligible_org_types, eligible_countries, "
            "status, created_at, updated_at) "
            "SELECT n, 1 + mod(n, 20), 'Urban challenge number ' || n, left(repeat(%(p)s, 2), 300), "
            "'## Context' || chr(10) || repeat(%(p)s, 4), 'inclusive_innovation', '[\"11.1\", \"11.6\"]', "
            "100000000, 1000000, now() - interval '1 day', now() + mod(n, 400) * interval '1 day', '[]', '[]', "
            "'published', now(), now() FROM generate_series(1, %(rows)s) AS n", {"p": PARAGRAPH, "rows": ROWS})
        conn.execute("INSERT INTO challenge_criteria (challenge_id, name, description, weight, position) "
                     "SELECT c, 'Criterion ' || k, left(%(p)s, 120), 25, k "
                     "FROM generate_series(1, %(rows)s) c, generate_series(1, 4) k", {"p": PARAGRAPH, "rows": ROWS})
        conn.execute("SELECT setval(pg_get_serial_sequence('challenges', 'id'), %(rows)s)", {"rows": ROWS})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def full_list() -> dict:
    """The baseline: the list as it was, every field of every row (the rubric loaded per page)."""
    query = (sa.select(Challenge).join(Challenge.city).options(selectinload(Challenge.criteria))
             .where(Challenge.status.in_(PUBLIC_STATUSES)).order_by(Challenge.closes_at, Challenge.id))
    return page_of(ChallengeSchema)().dump(paginate(query, page=1, per_page=50))


def timed(client, path: str) -> tuple[float, float, int]:
    """Wall-clock ms, this process's CPU ms (the app's own work, without waiting for PostgreSQL or for a
    core on a busy machine) and the body's bytes of one request."""
    started, cpu = time.perf_counter(), time.process_time()
    answer = client.get(path)
    elapsed, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path}: {answer.status_code} {answer.get_data(as_text=True)[:300]}")
    return elapsed, cpu, len(answer.get_data())


def percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return statistics.median(times), cuts[98]


def main() -> int:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(URL).set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False)
    try:
        from flask_migrate import upgrade

        app = create_app("test", SQLALCHEMY_DATABASE_URI=url, REDIS_URL=REDIS_URL, INSTANCE_PATH=tempfile.mkdtemp(),
                         PUBLIC_CACHE_ENABLED=False)
        app.add_url_rule("/bench/full-list", "bench_full_list", full_list)
        with app.app_context():
            upgrade()
            db_url = psycopg.conninfo.make_conninfo(URL, dbname=name)
            started = time.perf_counter()
            fill(db_url)
            print(f"filled {ROWS:,} challenges in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        for _ in range(20):  # warm the imports, the pool and the plans
            timed(client, PATH), timed(client, "/bench/full-list")
        times: dict[str, list[float]] = {"list": [], "full": []}
        cpus: dict[str, list[float]] = {"list": [], "full": []}
        sizes: dict[str, int] = {}
        for _ in range(RUNS):
            for label, path in (("list", PATH), ("full", "/bench/full-list")):
                elapsed, cpu, sizes[label] = timed(client, path)
                times[label].append(elapsed)
                cpus[label].append(cpu)
        if os.environ.get("BENCH_PROFILE"):
            profile = cProfile.Profile()
            profile.runcall(lambda: [client.get(PATH) for _ in range(100)])
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    finally:
        from facility.extensions import db

        with app.app_context():
            db.engine.dispose()
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                          "AND pid <> pg_backend_pid()", (name,))
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {ROWS:,} published challenges, "
          f"{RUNS} interleaved requests each, in-process (test client, public cache off)")
    for label, title in (("list", f"(a) {PATH}"), ("full", "(b) baseline: full rows")):
        median, p99 = percentiles(times[label])
        print(f"{title:40} median {median:7.2f} ms   p99 {p99:7.2f} ms   CPU median "
              f"{statistics.median(cpus[label]):6.2f} ms   {sizes[label]:8,} bytes")
    new, old = statistics.median(times["list"]), statistics.median(times["full"])
    print(f"(b) / (a): {old / new:.1f}x the time, {sizes['full'] / sizes['list']:.1f}x the bytes; "
          f"goal: (a) median under {GOAL_MS:.0f} ms: {'met' if new < GOAL_MS else 'NOT met'}")
    return 0  # the verdict is printed; `make bench` goes on to the other benchmarks either way


if __name__ == "__main__":
    sys.exit(main())
