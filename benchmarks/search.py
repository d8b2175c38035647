"""Full-text search of challenges (migration 0024) against the ILIKE scan it replaced, on PostgreSQL.

Fills a throw-away database (built by the migrations) with BENCH_ROWS published challenges (default
100,000; title 3 words, summary 12, description 40, drawn with a skew from 4,000 made-up words; one SDG
target each), VACUUM ANALYZE, then times, interleaved, the first page (20 rows) of the public list:

  (a) product: `challenges.queries.public_challenges(q=word)` (tsvector @@ plainto_tsquery, GIN index,
      ranked), and `public_challenges(sdg_target=code)` (jsonb containment, GIN index);
  (b) baseline: the same list with the code this replaced: title or summary ILIKE '%word%', and the
      SDG list cast to text and searched for '"code"'.

Prints p50 and p99 of each and the ratio. Goal: p99 of (a) under 50 ms.
Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test), BENCH_REDIS_URL,
BENCH_ROWS, BENCH_RUNS (timed passes over the query words, default 5).
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._database import throwaway_database  # noqa: E402 - after the path tweak
from facility import create_app  # noqa: E402
from facility.challenges.models import Challenge, ChallengeStatus  # noqa: E402
from facility.challenges.queries import public_challenges  # noqa: E402
from facility.extensions import db  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PAGE = 20
GOAL_P99_MS = 50.0
SDG = ["11.1", "11.2", "11.3", "11.5", "11.6", "6.1", "3.6", "13.1"]


def vocabulary(n: int = 4000) -> list[str]:
    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "da", "ve", "zu", "shi", "ba", "go", "fe"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def fill(url: str, words: list[str]) -> None:
    # word i is drawn with probability ~ skewed to the first ones (random()^3), like real text
    pick = "(%(words)s::text[])[1 + floor(%(n)s * power(random(), 3))::int]"

    def text(count: int) -> str:
        return " || ' ' || ".join([pick] * count)

    with psycopg.connect(url) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute("INSERT INTO organizations (id, name, kind, description, created_at, updated_at) VALUES "
                     "(1, 'Bench City Authority', 'city', '', now(), now())")
        conn.execute("INSERT INTO cities (id, organization_id, name, country, population, "
                     "informal_settlement_share_pct, climate_risk, created_at, updated_at) "
                     "VALUES (1, 1, 'Benchville', 'KEN', 1000000, 30, 'high', now(), now())")
        conn.execute(
            "INSERT INTO challenges (city_id, title, summary, description, focus_area, sdg_targets, prize_pool_cents, "  # noqa: S608 - built from constants
            "max_award_cents, opens_at, closes_at, eligible_org_types, eligible_countries, status, created_at, "
            f"updated_at) SELECT 1, {text(3)}, {text(12)}, {text(40)}, 'inclusive_innovation', "
            "json_build_array((%(sdg)s::text[])[1 + floor(random() * %(k)s)::int]), 100000000, 1000000, "
            "now() - interval '1 day', now() + (n %% 400) * interval '1 day', '[]', '[]', 'published', now(), now() "
            "FROM generate_series(1, %(rows)s) AS n",
            {"words": words, "n": len(words), "sdg": SDG, "k": len(SDG), "rows": ROWS})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE challenges")


def baseline_text(q: str) -> sa.Select:
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return (sa.select(Challenge).join(Challenge.city).where(Challenge.status.in_([ChallengeStatus.PUBLISHED]))
            .where(sa.or_(Challenge.title.ilike(like, escape="\\"), Challenge.summary.ilike(like, escape="\\")))
            .order_by(Challenge.closes_at.asc(), Challenge.id.asc()))


def baseline_sdg(code: str) -> sa.Select:
    return (sa.select(Challenge).join(Challenge.city).where(Challenge.status.in_([ChallengeStatus.PUBLISHED]))
            .where(sa.cast(Challenge.sdg_targets, sa.Text).contains(f'"{code}"', autoescape=True))
            .order_by(Challenge.closes_at.asc(), Challenge.id.asc()))


def first_page(query: sa.Select) -> float:
    """Milliseconds for what a list page runs: the first 20 rows and the count."""
    started = time.perf_counter()
    db.session.execute(query.limit(PAGE)).scalars().all()
    db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    elapsed = (time.perf_counter() - started) * 1000
    db.session.rollback()
    return elapsed


def percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return statistics.median(times), cuts[98]


def main() -> int:
    with throwaway_database(migrate_schema=True) as database:
        app = create_app("test", SQLALCHEMY_DATABASE_URI=database.url, REDIS_URL=REDIS_URL,
                         INSTANCE_PATH=tempfile.mkdtemp())
        words = vocabulary()
        with app.app_context():
            started = time.perf_counter()
            fill(database.conninfo, words)
            print(f"filled {ROWS:,} challenges in {time.perf_counter() - started:.1f} s")
            rng = random.Random(3)
            # common, middling and rare words, and two-word queries
            queries = [*words[:10], *rng.sample(words[10:400], 15), *rng.sample(words[400:], 15),
                       *(f"{rng.choice(words[:200])} {rng.choice(words[:200])}" for _ in range(10))]
            first_page(public_challenges(q=queries[0]))  # warm the cache and the imports
            first_page(baseline_text(queries[0]))
            product, base, product_sdg, base_sdg = [], [], [], []
            for _ in range(RUNS):  # interleaved, so that changes in the machine's load hit both
                for q in queries:
                    product.append(first_page(public_challenges(q=q)))
                    base.append(first_page(baseline_text(q)))
                for code in SDG:
                    product_sdg.append(first_page(public_challenges(sdg_target=code)))
                    base_sdg.append(first_page(baseline_sdg(code)))
            db.engine.dispose()
        rows = [("(a) full-text search, GIN", product), ("(b) baseline: ILIKE '%q%' scan", base),
                ("(a) SDG filter, jsonb @> on GIN", product_sdg), ("(b) baseline: SDG list cast to text", base_sdg)]
        for label, times in rows:
            p50, p99 = percentiles(times)
            print(f"{label:<40} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   ({len(times)} pages)")
        text_ratio = percentiles(base)[1] / percentiles(product)[1]
        sdg_ratio = percentiles(base_sdg)[1] / percentiles(product_sdg)[1]
        print(f"p99 ratio baseline / product: text {text_ratio:.1f}x, SDG {sdg_ratio:.1f}x")
        goal = percentiles(product)[1] < GOAL_P99_MS and percentiles(product_sdg)[1] < GOAL_P99_MS
        print(f"goal (p99 under {GOAL_P99_MS:.0f} ms for both): {'met' if goal else 'NOT met'}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
