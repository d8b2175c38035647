"""The open-data exports at scale: 100,000 grants in each format, with bounded memory.

Issue 11 ("Open data"): every export is streamed, so 100,000 grants leave the server with bounded
memory. The script builds a throw-away PostgreSQL database by running the migrations, fills it with
`generate_series` (1,000 cities and challenges, one grantee organisation, proposal and grant per
grant, 3 tranches each, 0-3 of them paid), then downloads each file through the application (the
Flask test client, the product's views, streamed body read chunk by chunk and thrown away):

1. with 1,000 grants (the baseline), each format once;
2. with 100,000 grants, each format once.

It prints, per format and size, the time and grants per second, and the process's peak memory
(`resource.getrusage` max RSS) after the baseline and after the large exports: the growth is what
100,000 grants cost over 1,000. Goal: growth under 50 MB.

    .venv/bin/python benchmarks/opendata.py

Environment: BENCH_DATABASE_URL (else TEST_DATABASE_URL, else DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/test; a database `bench_<random>` is created next to it and
dropped), BENCH_REDIS_URL (default redis://127.0.0.1:6379/0), BENCH_GRANTS (default 100000).
"""
from __future__ import annotations

import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from benchmarks._database import throwaway_database  # noqa: E402

URL = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
       or "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
GRANTS = int(os.environ.get("BENCH_GRANTS", "100000"))
BASELINE = 1_000
CITIES = 1_000
GOAL_MB = 50
FILES = ("/opendata/360giving.json", "/opendata/iati-activities.xml", "/opendata/grants.csv",
         "/opendata/grants.xlsx")

SETUP = [
    "INSERT INTO users (id, email, name, password_hash, active, timezone, created_at, updated_at) "
    "VALUES (1, 'requester@bench.example', 'Requester', 'x', true, 'UTC', now(), now())",
    "INSERT INTO organizations (id, name, kind, description, country, created_at, updated_at) "
    "SELECT i, 'City authority ' || i, 'city', '', (ARRAY['KEN','BGD','FJI','BRA','IND'])[1 + i %% 5], now(), now() "
    "FROM generate_series(1, %(cities)s::int) i",
    "INSERT INTO cities (id, organization_id, name, country, population, informal_settlement_share_pct, climate_risk, "
    "created_at, updated_at) SELECT i, i, 'City ' || i, (ARRAY['KEN','BGD','FJI','BRA','IND'])[1 + i %% 5], 1000000, "
    "30, 'high', now(), now() FROM generate_series(1, %(cities)s::int) i",
    "INSERT INTO challenges (id, city_id, title, summary, description, focus_area, sdg_targets, prize_pool_cents, "
    "max_award_cents, opens_at, closes_at, eligible_org_types, eligible_countries, status, created_at, updated_at) "
    "SELECT i, i, 'Challenge ' || i || ' «Ω» & <co>', 'Summary', 'Description', 'inclusive_innovation', "
    "'[\"11.1\", \"11.b\"]', 100000000000, 100000000, now() - interval '400 days', now() - interval '300 days', "
    "'[]', '[]', 'finished', now(), now() FROM generate_series(1, %(cities)s::int) i",
]
# Grants lo..hi: organisation CITIES + g, proposal g, grant g, tranches 3(g-1)+1..3g, the first g %% 4 paid.
GRANT_ROWS = [
    "INSERT INTO organizations (id, name, kind, org_type, country, description, org_identifier, created_at, updated_at) "
    "SELECT %(cities)s + g, 'Grantee ' || g || ' — مؤسسة', 'innovator', 'ngo', 'KEN', '', "
    "CASE WHEN g %% 3 = 0 THEN 'GB-CHC-' || g END, now(), now() FROM generate_series(%(lo)s::int, %(hi)s::int) g",
    "INSERT INTO proposals (id, challenge_id, organization_id, title, summary, approach, team, requested_cents, "
    "beneficiary_groups, privacy_impact, status, created_at, updated_at) "
    "SELECT g, 1 + g %% %(cities)s, %(cities)s + g, 'Proposal ' || g, 'What grant ' || g || ' pays for', '', '', "
    "600000, '[]', '', 'awarded', now(), now() FROM generate_series(%(lo)s::int, %(hi)s::int) g",
    "INSERT INTO grants (id, proposal_id, challenge_id, organization_id, amount_cents, status, awarded_at, accepted_at, "
    "agreement_text, created_at, updated_at) "
    "SELECT g, g, 1 + g %% %(cities)s, %(cities)s + g, 600000 + g, "
    "CASE WHEN g %% 4 = 3 THEN 'completed' WHEN g %% 17 = 0 THEN 'cancelled' ELSE 'active' END, "
    "now() - interval '200 days', now() - interval '198 days', '', now(), now() FROM generate_series(%(lo)s::int, %(hi)s::int) g",
    "INSERT INTO tranches (id, grant_id, position, title, deliverable, due_date, amount_cents, status) "
    "SELECT 3 * (g - 1) + k, g, k, 'Milestone ' || k, '', (now() + k * interval '60 days')::date, "
    "CASE WHEN k = 3 THEN 200000 + g ELSE 200000 END, CASE WHEN k <= g %% 4 THEN 'paid' ELSE 'pending' END "
    "FROM generate_series(%(lo)s::int, %(hi)s::int) g, generate_series(1, 3) k",
    "INSERT INTO disbursements (id, tranche_id, grant_id, amount_cents, rail, status, required_approvals, "
    "requested_by_id, attempts, last_error, paid_at, created_at, updated_at) "
    "SELECT 3 * (g - 1) + k, 3 * (g - 1) + k, g, CASE WHEN k = 3 THEN 200000 + g ELSE 200000 END, 'manual', 'paid', "
    "1, 1, 1, '', now() - (100 - k) * interval '1 day', now(), now() "
    "FROM generate_series(%(lo)s::int, %(hi)s::int) g, generate_series(1, 3) k WHERE k <= g %% 4",
]


def fill(conn: psycopg.Connection, lo: int, hi: int) -> float:
    started = time.perf_counter()
    params = {"cities": CITIES, "lo": lo, "hi": hi}
    conn.execute("SET session_replication_role = replica")  # rows consistent by construction: skip FK triggers
    for statement in (SETUP if lo == 1 else []) + GRANT_ROWS:
        conn.execute(statement, params)
    conn.execute("SET session_replication_role = DEFAULT")
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False
    return time.perf_counter() - started


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def download(client, path: str) -> tuple[float, int]:
    """Seconds and bytes of one download, its streamed body read and thrown away chunk by chunk."""
    started = time.perf_counter()
    response = client.get(path, buffered=False)
    assert response.status_code == 200, (path, response.status_code)
    size = 0
    for chunk in response.response:
        size += len(chunk)
    response.close()
    return time.perf_counter() - started, size


def export_all(client, grants: int, label: str) -> None:
    for path in FILES:
        gc.collect()
        seconds, size = download(client, path)
        print(f"{label:>9} {path:<32} {grants:>7,} grants {seconds:7.2f} s {grants / seconds:9,.0f} grants/s "
              f"{size / 1e6:8.1f} MB  peak RSS {peak_mb():7.1f} MB", flush=True)


def main() -> int:
    try:
        psycopg.connect(URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        print(f"skipped: no PostgreSQL at {URL} ({exc.__class__.__name__}); set BENCH_DATABASE_URL")
        return 0
    with throwaway_database(migrate_schema=True, server_url=URL) as database:
        from facility import create_app
        from facility.extensions import db

        app = create_app("test", SQLALCHEMY_DATABASE_URI=database.url, REDIS_URL=REDIS_URL,
                         INSTANCE_PATH=tempfile.mkdtemp(), RATELIMIT_ENABLED=False)
        client = app.test_client()
        with psycopg.connect(database.conninfo) as conn:
            filled = fill(conn, 1, BASELINE)
            print(f"filled {BASELINE:,} grants in {filled:.1f} s")
            export_all(client, BASELINE, "baseline")
            export_all(client, BASELINE, "baseline")  # twice: the first run also warms caches and imports
            base = peak_mb()
            filled = fill(conn, BASELINE + 1, GRANTS)
            print(f"filled {GRANTS:,} grants in all ({filled:.1f} s more)")
        export_all(client, GRANTS, "large")
        growth = peak_mb() - base
        print(f"peak RSS after the {BASELINE:,}-grant exports {base:.1f} MB, after the {GRANTS:,}-grant exports "
              f"{peak_mb():.1f} MB: growth {growth:.1f} MB (goal < {GOAL_MB} MB: {'met' if growth < GOAL_MB else 'NOT met'})")
        with app.app_context():
            db.engine.dispose()
        return 0 if growth < GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
