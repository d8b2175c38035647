"""Benchmark: ranking with reviewer normalisation on PostgreSQL, the product's path.

100,000 proposals x 3 reviews x 5 criteria (1.5 million scores) in the product's own schema
(the Alembic migrations are run into a throw-away database, which is then filled with
generate_series; the stored review totals are filled by migration 0007's backfill). In one run:
  (a) product: `review.ranking.round_statistics()` - what the ranking page, its CSV and the API call
      (`review.ranking.ranking`): one query reads each review's stored weighted total
      (`reviews.weighted_points`), numpy ranks, with reviewer statistics and Krippendorff's alpha;
  (b) in SQL: `ranking_in_sql()` - `ranking_sql()` over the same stored totals,
      the whole ranking computed by PostgreSQL and fetched;
  (c) baseline: the raw score rows of the round are fetched and the ranking computed row by row in
      pure Python (`rank_proposals_baseline`), recomputing every weighted total.
All rankings must be identical (and the reviewer statistics and alpha of (a) those of the baseline).
Goal (issue "Evaluation panels"): the product's ranking under 2 s and at least 10x faster than (c).

Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/0, only to build the app), BENCH_PROPOSALS
(default 100000). A throw-away database bench_<random> is created and dropped.
"""
from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._database import throwaway_database  # noqa: E402 - after the path tweak
from facility.review import ranking as review_ranking  # noqa: E402
from facility.review.models import ReviewRound, RoundKind  # noqa: E402
from tests.review.oracles import (  # noqa: E402 - the other implementations live beside the tests
    ReviewScores,
    rank_proposals_baseline,
    ranking_in_sql,
    reviews_alpha,
)

PROPOSALS = int(os.environ.get("BENCH_PROPOSALS", "100000"))
REVIEWS_PER_PROPOSAL = 3
REVIEWERS = 2_000
WEIGHTS = (30, 25, 20, 15, 10)
RUNS = 5
GOAL_SECONDS = 2.0
GOAL_RATIO = 10.0

FILL = [
    "SELECT setseed(0.42)",
    "INSERT INTO organizations (id, name, kind, description, created_at, updated_at) VALUES "
    "(1, 'Bench City Authority', 'city', '', now(), now()), (2, 'Bench Innovators', 'innovator', '', now(), now())",
    "INSERT INTO cities (id, organization_id, name, country, population, informal_settlement_share_pct, climate_risk, "
    "created_at, updated_at) VALUES (1, 1, 'Benchville', 'KEN', 1000000, 30, 'high', now(), now())",
    "INSERT INTO challenges (id, city_id, title, summary, description, focus_area, sdg_targets, prize_pool_cents, "
    "max_award_cents, opens_at, closes_at, eligible_org_types, eligible_countries, status, created_at, updated_at) "
    "VALUES (1, 1, 'Bench challenge', 'Summary', 'Description', 'inclusive_innovation', '[]', 100000000, 1000000, "
    "now() - interval '60 days', now() - interval '1 day', '[]', '[]', 'published', now(), now())",
    "INSERT INTO challenge_criteria (id, challenge_id, name, description, weight, position) "
    "SELECT i, 1, 'Criterion ' || i, '', (%(weights)s::int[])[i], i - 1 FROM generate_series(1, %(criteria)s) i",
    "INSERT INTO users (id, email, name, password_hash, active, timezone, created_at, updated_at) "
    "SELECT i, 'reviewer' || i || '@bench.example', 'Reviewer ' || i, 'x', true, 'UTC', now(), now() "
    "FROM generate_series(1, %(reviewers)s) i",
    "INSERT INTO proposals (id, challenge_id, organization_id, title, summary, approach, team, requested_cents, "
    "beneficiary_groups, privacy_impact, status, created_at, updated_at) "
    "SELECT p, 1, 2, 'Proposal ' || p, 'Summary', 'Approach', 'Team', 100000, '[]', 'None kept.', 'submitted', "
    "now(), now() FROM generate_series(1, %(n)s) p",
    "INSERT INTO review_rounds (id, challenge_id, kind, opens_at, closes_at, can_review, can_see_others) "
    "VALUES (1, 1, 'scoring', now() - interval '1 day', now() + interval '30 days', true, false)",
    # Three distinct reviewers per proposal (offsets 0, 613, 1226 modulo 2000).
    "INSERT INTO review_assignments (id, round_id, proposal_id, reviewer_id, created_at, waive_reason) "
    "SELECT (p - 1) * %(k)s + k + 1, 1, p, ((p * 7 + k * 613) %% %(reviewers)s) + 1, now(), '' "
    "FROM generate_series(1, %(n)s) p, generate_series(0, %(k)s - 1) k",
    # One review in a thousand is an unfinished draft (one criterion unscored): its proposal is unranked.
    "INSERT INTO reviews (id, assignment_id, status, comment, submitted_at, created_at, updated_at) "
    "SELECT a.id, a.id, CASE WHEN a.id %% 1000 = 0 THEN 'draft' ELSE 'submitted' END, "
    "'A considered comment of a typical length on the proposal.', now(), now(), now() FROM review_assignments a",
    # Scores 0..10 with a per-reviewer bias (-2..+2): what normalisation is for.
    "INSERT INTO review_scores (review_id, criterion_id, score) "
    "SELECT r.id, c.id, LEAST(10, GREATEST(0, floor(random() * 11)::int + a.reviewer_id %% 5 - 2)) "
    "FROM reviews r JOIN review_assignments a ON a.id = r.assignment_id CROSS JOIN challenge_criteria c "
    "WHERE NOT (r.status = 'draft' AND c.id = %(criteria)s)",
]


def _migration_backfill() -> str:
    """Migration 0007's backfill statement: the stored totals the product would have written."""
    spec = importlib.util.spec_from_file_location(
        "migration_0007", ROOT / "migrations" / "versions" / "0007_review_weighted_points.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BACKFILL


def fill(conn: psycopg.Connection) -> float:
    params = {"n": PROPOSALS, "k": REVIEWS_PER_PROPOSAL, "reviewers": REVIEWERS, "criteria": len(WEIGHTS),
              "weights": list(WEIGHTS)}
    # Generated rows are consistent by construction: skip the foreign-key triggers while filling
    # (1.5 million checks; setup only, nothing timed). Needs a superuser, as CREATE DATABASE does here.
    conn.execute("SET session_replication_role = replica")
    for statement in FILL:
        conn.execute(statement, params)
    conn.execute("SET session_replication_role = DEFAULT")
    started = time.perf_counter()
    conn.execute(_migration_backfill())
    backfill = time.perf_counter() - started
    conn.commit()
    conn.autocommit = True  # VACUUM refuses to run in a transaction
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False
    return backfill


# A ReviewRound as the page loads it (only id, challenge and kind are read by the ranking).
ROUND = ReviewRound(id=1, challenge_id=1, kind=RoundKind.SCORING)


def product_path(conn: sa.Connection):
    ranking, alpha = review_ranking.round_statistics(ROUND, connection=conn)
    conn.rollback()  # end the read transaction, as a request does
    return ranking, alpha


def product_sql_path(conn: sa.Connection):
    result = ranking_in_sql(ROUND, connection=conn)
    conn.rollback()
    return result


def baseline(conn: psycopg.Connection):
    """The naive computation: the round's raw score rows, row by row in Python."""
    weights = dict(conn.execute("SELECT id, weight FROM challenge_criteria WHERE challenge_id = 1").fetchall())
    reviews: dict[int, ReviewScores] = {}
    cursor = conn.execute(
        "SELECT a.id, a.proposal_id, a.reviewer_id, r.id, s.criterion_id, s.score "
        "FROM review_assignments a JOIN proposals p ON p.id = a.proposal_id "
        "LEFT JOIN reviews r ON r.assignment_id = a.id AND r.status = 'submitted' "
        "LEFT JOIN review_scores s ON s.review_id = r.id "
        "WHERE a.round_id = 1 AND a.waived_at IS NULL AND p.challenge_id = 1 "
        "AND p.status IN ('submitted', 'shortlisted', 'declined', 'awarded')"
    )
    for assignment_id, proposal_id, reviewer_id, review_id, criterion_id, score in cursor:
        review = reviews.get(assignment_id)
        if review is None:
            review = reviews[assignment_id] = ReviewScores(proposal_id, reviewer_id,
                                                           None if review_id is None else {})
        if criterion_id is not None:
            review.scores[criterion_id] = score
    rows = [reviews[k] for k in sorted(reviews)]
    conn.rollback()
    return rank_proposals_baseline(rows, weights), rows, weights


def timed(fn, conn):
    started = time.perf_counter()
    result = fn(conn)
    return result, time.perf_counter() - started


def main() -> int:
    started = time.perf_counter()
    with throwaway_database(migrate_schema=True) as database:
        bench_url = database.conninfo
        with psycopg.connect(bench_url) as conn:
            backfill = fill(conn)
        print(f"migrated and filled {PROPOSALS:,} proposals x {REVIEWS_PER_PROPOSAL} reviews x {len(WEIGHTS)} "
              f"criteria ({PROPOSALS * REVIEWS_PER_PROPOSAL * len(WEIGHTS):,} scores) in "
              f"{time.perf_counter() - started:.1f} s (migration 0007's backfill of the totals: {backfill:.1f} s)")
        engine = sa.create_engine(database.url)
        with engine.connect() as conn, psycopg.connect(bench_url) as raw:
            product_path(conn)  # warm the buffer cache and the imports, as the other paths will find them
            product_times, product = [], None
            sql_times, sql_result = [], None
            base_times, base = [], None
            for _ in range(RUNS):  # interleaved, so that changes in the machine's load hit every path
                product, elapsed = timed(product_path, conn)
                product_times.append(elapsed)
                sql_result, elapsed = timed(product_sql_path, conn)
                sql_times.append(elapsed)
                if len(base_times) < 3:
                    (base, rows, weights), elapsed = timed(baseline, raw)
                    base_times.append(elapsed)
        engine.dispose()

    product_time = statistics.median(product_times)
    sql_time = statistics.median(sql_times)
    base_time = statistics.median(base_times)
    (ranking, alpha) = product
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work slows every path); "
          f"work_mem {review_ranking.RANKING_WORK_MEM} as the product sets it for its ranking transaction, "
          f"other PostgreSQL settings as the server has them")
    print(f"ranked {len(ranking.ranked):,}, unranked {len(ranking.unranked):,}, "
          f"tied {sum(p.tied for p in ranking.ranked):,}, reviewers {len(ranking.reviewers):,}, alpha {alpha:.4f}")

    def runs(times: list[float]) -> str:
        return " ".join(f"{t:.2f}" for t in times)

    print(f"{f'(a) product: stored totals + numpy, median of {RUNS}':<48} {product_time:7.3f} s  "
          f"{base_time / product_time:5.1f}x faster than the baseline   runs: {runs(product_times)}")
    print(f"{f'(b) product in SQL: stored totals, median of {RUNS}':<48} {sql_time:7.3f} s  "
          f"{base_time / sql_time:5.1f}x faster than the baseline   runs: {runs(sql_times)}")
    print(f"{f'(c) baseline: score rows, row by row, median of {len(base_times)}':<48} {base_time:7.3f} s"
          f"{'':38}runs: {runs(base_times)}")
    ok = True
    if ranking != base:
        ok = False
        print("MISMATCH: the product's ranking (or its reviewer statistics) differs from the baseline")
    if sql_result != (base.ranked, base.unranked):
        ok = False
        print("MISMATCH: the SQL ranking differs from the baseline")
    expected_alpha = reviews_alpha(rows, weights)
    if abs(alpha - expected_alpha) > 1e-9:
        ok = False
        print(f"MISMATCH: alpha {alpha!r} != {expected_alpha!r}")
    if ok:
        print("check: the three rankings are identical (and the reviewer statistics and alpha)")
    goal = product_time < GOAL_SECONDS and base_time / product_time >= GOAL_RATIO
    print(f"goal for the product's ranking (< {GOAL_SECONDS:.0f} s and >= {GOAL_RATIO:.0f}x): "
          f"{'met' if goal else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
