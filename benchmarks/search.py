"""Full-text search of challenges and proposals (migrations 0024 and 0030) against the ILIKE scan it
replaced, on PostgreSQL.

Fills a throw-away database (built by the migrations) with BENCH_CHALLENGES published challenges
(default 10,000) and BENCH_PROPOSALS submitted proposals (default 100,000), every text drawn with a skew
from 4,000 made-up words (title 3 words, summary 12, description or approach 40; one SDG target per
challenge), VACUUM ANALYZE, then times, interleaved, the first page (20 rows and the count) of:

  (a) product: `challenges.queries.public_challenges(q=word)` and `proposals.queries.search_proposals(
      auditor, word)` (the vector of the visitor's language @@ plainto_tsquery, GIN index, at most
      `core.search.MATCH_LIMIT` candidates ranked), the proposals also for a French visitor, and
      `public_challenges(sdg_target=code)` (jsonb containment, GIN index);
  (b) baseline: the same lists with the code search replaced: title or summary ILIKE '%word%', and the
      SDG list cast to text and searched for '"code"'.

The words: 6 of the most frequent (each in most rows), 8 middling, 8 rare, 6 two-word queries.
Prints p50 and p99 of each and the ratios. Goal: p99 of (a) under 50 ms.
Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test), BENCH_REDIS_URL,
BENCH_CHALLENGES, BENCH_PROPOSALS, BENCH_RUNS (timed passes over the query words, default 3).
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from sqlalchemy.orm import joinedload

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._database import throwaway_database  # noqa: E402 - after the path tweak
from facility import create_app  # noqa: E402
from facility.challenges.models import Challenge, ChallengeStatus  # noqa: E402
from facility.challenges.queries import public_challenges  # noqa: E402
from facility.extensions import db  # noqa: E402
from facility.proposals.models import Proposal  # noqa: E402
from facility.proposals.queries import search_proposals  # noqa: E402
from tests.factories.accounts import make_user  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CHALLENGES = int(os.environ.get("BENCH_CHALLENGES", "10000"))
PROPOSALS = int(os.environ.get("BENCH_PROPOSALS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
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
    pick = "w.a[1 + floor(%(n)s * power(random(), 3))::int]"
    words_once = "(SELECT %(words)s::text[] AS a) AS w"  # the array parsed once, not for every word

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
            "FROM generate_series(1, %(rows)s) AS n, " + words_once,
            {"words": words, "n": len(words), "sdg": SDG, "k": len(SDG), "rows": CHALLENGES})
        conn.execute(
            "INSERT INTO proposals (challenge_id, organization_id, title, summary, approach, team, requested_cents, "  # noqa: S608 - built from constants
            f"beneficiary_groups, privacy_impact, status, submitted_at, created_at, updated_at) SELECT "
            f"1 + n %% %(challenges)s, 1, {text(3)}, {text(12)}, {text(40)}, '', 100000, '[]', '', 'submitted', "
            "now(), now(), now() FROM generate_series(1, %(rows)s) AS n, " + words_once,
            {"words": words, "n": len(words), "challenges": CHALLENGES, "rows": PROPOSALS})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE challenges")
        conn.execute("VACUUM ANALYZE proposals")


def baseline_text(q: str) -> sa.Select:
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return (sa.select(Challenge).join(Challenge.city).where(Challenge.status.in_([ChallengeStatus.PUBLISHED]))
            .where(sa.or_(Challenge.title.ilike(like, escape="\\"), Challenge.summary.ilike(like, escape="\\")))
            .order_by(Challenge.closes_at.asc(), Challenge.id.asc()))


def baseline_proposals(q: str) -> sa.Select:
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return (sa.select(Proposal).options(joinedload(Proposal.organization)).where(sa.or_(Proposal.title.ilike(like, escape="\\"),
                                             Proposal.summary.ilike(like, escape="\\")))
            .order_by(Proposal.submitted_at.is_(None), Proposal.submitted_at, Proposal.id))


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


def french(query: Callable[[], sa.Select]) -> float:
    """`first_page` of the list `query()` builds, for a visitor reading French."""
    with current_app.test_request_context(), force_locale("fr"):
        return first_page(query())


def main() -> int:
    with throwaway_database(migrate_schema=True) as database:
        app = create_app("test", SQLALCHEMY_DATABASE_URI=database.url, REDIS_URL=REDIS_URL,
                         INSTANCE_PATH=tempfile.mkdtemp())
        words = vocabulary()
        with app.app_context():
            started = time.perf_counter()
            fill(database.conninfo, words)
            print(f"filled {CHALLENGES:,} challenges and {PROPOSALS:,} proposals in "
                  f"{time.perf_counter() - started:.1f} s")
            auditor = make_user("auditor", enrolled=False)
            rng = random.Random(3)
            # frequent, middling and rare words, and two-word queries
            queries = [*words[:6], *rng.sample(words[10:400], 8), *rng.sample(words[400:], 8),
                       *(f"{rng.choice(words[:200])} {rng.choice(words[:200])}" for _ in range(6))]
            first_page(public_challenges(q=queries[0]))  # warm the cache and the imports
            first_page(baseline_text(queries[0]))
            times: dict[str, list[float]] = {label: [] for label in LABELS}
            for _ in range(RUNS):  # interleaved, so that changes in the machine's load hit all of them
                for q in queries:
                    times["challenges"].append(first_page(public_challenges(q=q)))
                    times["challenges, baseline"].append(first_page(baseline_text(q)))
                    times["proposals"].append(first_page(search_proposals(auditor, q)))
                    times["proposals, French"].append(french(lambda q=q: search_proposals(auditor, q)))
                    times["proposals, baseline"].append(first_page(baseline_proposals(q)))
                    if q in queries[:6]:
                        times["proposals, frequent"].append(times["proposals"][-1])
                        times["proposals, frequent, baseline"].append(times["proposals, baseline"][-1])
                for code in SDG:
                    times["sdg"].append(first_page(public_challenges(sdg_target=code)))
                    times["sdg, baseline"].append(first_page(baseline_sdg(code)))
            db.engine.dispose()
        for key, label in LABELS.items():
            p50, p99 = percentiles(times[key])
            print(f"{label:<46} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   ({len(times[key])} pages)")
        for key in ("challenges", "proposals", "sdg"):
            print(f"p99 ratio baseline / product, {key}: "
                  f"{percentiles(times[key + ', baseline'])[1] / percentiles(times[key])[1]:.1f}x")
        goal = all(percentiles(times[key])[1] < GOAL_P99_MS for key in LABELS if "baseline" not in key)
        print(f"goal (p99 under {GOAL_P99_MS:.0f} ms for every product row): {'met' if goal else 'NOT met'}")
        return 0


LABELS = {
    "challenges": "(a) challenges, full-text search",
    "challenges, baseline": "(b) challenges, baseline: ILIKE '%q%' scan",
    "proposals": "(a) proposals, full-text search",
    "proposals, French": "(a) proposals, French visitor",
    "proposals, baseline": "(b) proposals, baseline: ILIKE '%q%' scan",
    "proposals, frequent": "(a) proposals, the 6 most frequent words",
    "proposals, frequent, baseline": "(b) proposals, frequent words, ILIKE",
    "sdg": "(a) SDG filter, jsonb @> on GIN",
    "sdg, baseline": "(b) SDG filter, baseline: list cast to text",
}


if __name__ == "__main__":
    sys.exit(main())
