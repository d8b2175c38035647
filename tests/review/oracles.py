"""Other implementations of the ranking defined in `facility.review.statistics`: the oracles.

The product ranks with `statistics.rank_arrays` (numpy) over the stored review totals. These
give the same results by other routes, so the tests can check the product against them and
the benchmark (`benchmarks/ranking.py`) can measure it against them:

* `rank_proposals_baseline`: row by row in pure Python, recomputing every weighted total (the
  reference; deliberately plain);
* `rank_proposals`: the numpy implementation fed review rows instead of arrays;
* `ranking_sql` / `ranking_in_sql`: the whole ranking computed by PostgreSQL or SQLite. Sums of
  z-scores may be added in a different order in SQL; that can change the last bit, which
  matters only if a value lies within a rounding error of a 6-decimal half-way point;
* `krippendorff_alpha_interval`, `reviews_alpha`, `icc_one_way`: reliability in pure Python.
"""
from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from facility.extensions import db
from facility.review.facts import round_statuses
from facility.review.models import ReviewRound
from facility.review.ranking import ranking_memory
from facility.review.statistics import (
    _SCALE,
    DISAGREEMENT_RANGE_HUNDREDTHS,
    WEIGHT_TOTAL,
    ProposalStats,
    Ranking,
    ReviewerStats,
    gc_paused,
    rank_arrays,
    weighted_hundredths,
)

# --- weighted scores and review rows ---------------------------------------------------


def round6(x: float) -> float:
    """Round to 6 decimals the way numpy's rint and PostgreSQL's round(float8) do:
    half-even on x * 10^6. Ranking ties are decided on these values."""
    return round(x * _SCALE) / _SCALE


def validate_weights(weights: Mapping[Hashable, int]) -> None:
    """Rule: rubric weights are non-negative integers that sum to 100."""
    if not weights:
        raise ValueError("a rubric needs at least one criterion")
    for criterion, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValueError(f"weight of criterion {criterion!r} must be a non-negative integer")
    if sum(weights.values()) != WEIGHT_TOTAL:
        raise ValueError(f"weights must sum to {WEIGHT_TOTAL}, not {sum(weights.values())}")


def weighted_score(scores: Mapping[Hashable, int], weights: Mapping[Hashable, int]) -> float | None:
    """Weighted score of one review on the 0..10 scale: sum(score * weight) / 100."""
    hundredths = weighted_hundredths(scores, weights)
    return None if hundredths is None else hundredths / 100


@dataclass(frozen=True)
class ReviewScores:
    """One review row: `scores` maps criterion -> 0..10, None if not submitted."""

    proposal_id: Any
    reviewer_id: Any
    scores: Mapping[Hashable, int] | None


# --- the row-by-row baseline (test oracle and benchmark baseline) ------------------------


def _z(n: int, s: int, q: int, x: int) -> float:
    radicand = n * q - s * s
    return (n * x - s) / math.sqrt(radicand) if radicand > 0 else 0.0


def _proposal_stats(pid: Any, n: int, zsum: float, s: int, q: int, lo: int, hi: int, missing: int) -> ProposalStats:
    if n == 0:
        return ProposalStats(pid, None, None, None, None, None, None, 0, missing, False, False)
    sd = round6(math.sqrt((n * q - s * s) / (n * (n - 1))) / 100) if n > 1 else None
    return ProposalStats(
        proposal_id=pid, rank=None, normalised=round6(zsum / n), raw_mean=round6(s / (100 * n)), sd=sd,
        min_score=round6(lo / 100), max_score=round6(hi / 100), reviews=n, missing=missing,
        disagreement=n > 1 and hi - lo >= DISAGREEMENT_RANGE_HUNDREDTHS, tied=False,
    )


def _reviewer_stats(rid: Any, n: int, s: int, q: int) -> ReviewerStats:
    radicand = n * q - s * s
    return ReviewerStats(rid, n, round6(s / (100 * n)), round6(math.sqrt(radicand) / (100 * n)),
                         flagged=n < 2 or radicand == 0)


def _with_ranks(stats: list[ProposalStats]) -> Ranking:
    """Split into ranked and unranked and give competition ranks (shared on ties)."""
    ranked = [p for p in stats if p.reviews > 0 and p.missing == 0]
    unranked = sorted((p for p in stats if not (p.reviews > 0 and p.missing == 0)), key=lambda p: p.proposal_id)
    ranked.sort(key=lambda p: p.proposal_id)
    ranked.sort(key=lambda p: (p.normalised, p.raw_mean), reverse=True)  # stable: ids stay ascending in ties
    keys = [(p.normalised, p.raw_mean) for p in ranked]
    counts: dict[tuple, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    out = []
    rank = 0
    for position, p in enumerate(ranked, start=1):
        if position == 1 or keys[position - 1] != keys[position - 2]:
            rank = position
        out.append(p._replace(rank=rank, tied=counts[keys[position - 1]] > 1))
    return Ranking(tuple(out), tuple(unranked), ())


def rank_proposals_baseline(
    reviews: Iterable[ReviewScores], weights: Mapping[Hashable, int], proposal_ids: Iterable[Any] = ()
) -> Ranking:
    """Pure-Python, row-by-row implementation of the ranking defined above.

    Deliberately plain: it is the reference the vectorised and SQL versions
    are checked against, and the baseline the benchmark measures.
    """
    validate_weights(weights)
    rows = []
    per_reviewer: dict[Any, list[int]] = {}  # reviewer -> [n, S, Q]
    missing: dict[Any, int] = {pid: 0 for pid in proposal_ids}
    for review in reviews:
        missing.setdefault(review.proposal_id, 0)
        x = weighted_hundredths(review.scores, weights)
        if x is None:
            missing[review.proposal_id] += 1
            continue
        rows.append((review.proposal_id, review.reviewer_id, x))
        acc = per_reviewer.setdefault(review.reviewer_id, [0, 0, 0])
        acc[0] += 1
        acc[1] += x
        acc[2] += x * x
    per_proposal: dict[Any, list] = {}  # proposal -> [n, zsum, S, Q, lo, hi]
    for pid, rid, x in rows:
        n, s, q = per_reviewer[rid]
        z = _z(n, s, q, x)
        acc = per_proposal.get(pid)
        if acc is None:
            per_proposal[pid] = [1, z, x, x * x, x, x]
        else:
            acc[0] += 1
            acc[1] += z
            acc[2] += x
            acc[3] += x * x
            acc[4] = min(acc[4], x)
            acc[5] = max(acc[5], x)
    stats = [
        _proposal_stats(pid, *per_proposal.get(pid, (0, 0.0, 0, 0, 0, 0)), missing=m) for pid, m in missing.items()
    ]
    ranking = _with_ranks(stats)
    reviewers = tuple(_reviewer_stats(rid, *acc) for rid, acc in sorted(per_reviewer.items(), key=lambda i: i[0]))
    return Ranking(ranking.ranked, ranking.unranked, reviewers)


# --- the numpy implementation over review rows -------------------------------------------


def rank_proposals(
    reviews: Iterable[ReviewScores], weights: Mapping[Hashable, int], proposal_ids: Iterable[Any] = ()
) -> Ranking:
    """The ranking defined above, computed with numpy (see `rank_arrays`)."""
    validate_weights(weights)
    pids, rids, points, complete = [], [], [], []
    for review in reviews:
        x = weighted_hundredths(review.scores, weights)
        pids.append(review.proposal_id)
        rids.append(review.reviewer_id)
        points.append(0 if x is None else x)
        complete.append(x is not None)
    return rank_arrays(pids, rids, points, complete, proposal_ids=proposal_ids)


# --- inter-rater reliability in pure Python -----------------------------------------------


def krippendorff_alpha_interval(units: Iterable[Iterable[float | None]]) -> float | None:
    """Krippendorff's alpha for interval data, any number of coders, missing values allowed.

    `units` holds, per unit (proposal), the values the coders (reviewers) gave;
    None or absent means not coded. Following Krippendorff (2011), "Computing
    Krippendorff's Alpha-Reliability", coincidence-matrix form:

        o_ck = sum_u (number of c-k pairs in unit u) / (m_u - 1)   over units with m_u >= 2 values
        n_c  = sum_k o_ck,    n = sum_c n_c  (the pairable values)
        alpha = 1 - D_o / D_e = 1 - (n - 1) * sum_c sum_k o_ck d2_ck / sum_c sum_k n_c n_k d2_ck
        d2_ck = (c - k)^2  (interval metric)

    The double sums are evaluated without building the matrix, using
    sum_{i,j} (v_i - v_j)^2 = 2 m sum v^2 - 2 (sum v)^2 over a unit's m values
    (for D_o, divided by m_u - 1) and over all n pairable values (for D_e).
    Returns None when alpha is undefined: fewer than two pairable values, or
    no variation at all (D_e = 0).
    """
    observed = 0.0
    n = 0
    total = 0.0
    total_sq = 0.0
    for unit in units:
        values = [float(v) for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue  # a lone value cannot be paired
        s = math.fsum(values)
        sq = math.fsum(v * v for v in values)
        observed += (2 * m * sq - 2 * s * s) / (m - 1)
        n += m
        total += s
        total_sq += sq
    if n < 2:
        return None
    expected = 2 * n * total_sq - 2 * total * total
    if expected <= 1e-12 * max(1.0, total_sq):
        return None
    return 1 - (n - 1) * observed / expected


def icc_one_way(units: Iterable[Iterable[float | None]]) -> tuple[float, float] | None:
    """ICC(1,1) and ICC(1,k) (Shrout & Fleiss 1979, one-way random effects):
    each unit is rated by k different raters drawn at random, as a panel's
    proposals are.

        MSB = k * sum_i (mean_i - grand mean)^2 / (n - 1)     between units
        MSW = sum_i sum_j (x_ij - mean_i)^2 / (n * (k - 1))     within units
        ICC(1,1) = (MSB - MSW) / (MSB + (k - 1) * MSW)          one rater's reliability
        ICC(1,k) = (MSB - MSW) / MSB                            reliability of the mean of k

    Needs the same number k >= 2 of ratings in every unit (None values are
    dropped first; units with fewer than two are ignored); raises ValueError
    otherwise. Returns None when undefined (fewer than two units, or MSB = 0).
    """
    rows = [[float(v) for v in unit if v is not None] for unit in units]
    rows = [row for row in rows if len(row) >= 2]
    if len(rows) < 2:
        return None
    k = len(rows[0])
    if any(len(row) != k for row in rows):
        raise ValueError("ICC(1,k) needs the same number of ratings in every unit")
    n = len(rows)
    means = [math.fsum(row) / k for row in rows]
    grand = math.fsum(means) / n
    msb = k * math.fsum((m - grand) ** 2 for m in means) / (n - 1)
    msw = math.fsum((x - m) ** 2 for row, m in zip(rows, means, strict=True) for x in row) / (n * (k - 1))
    if msb <= 0:
        return None
    return (msb - msw) / (msb + (k - 1) * msw), (msb - msw) / msb


def reviews_alpha(reviews: Iterable[ReviewScores], weights: Mapping[Hashable, int]) -> float | None:
    """Krippendorff's interval alpha of the weighted scores of a round's complete
    reviews: units are proposals, coders are reviewers."""
    validate_weights(weights)
    units: dict[Any, list[float]] = {}
    for review in reviews:
        x = weighted_hundredths(review.scores, weights)
        if x is not None:
            units.setdefault(review.proposal_id, []).append(x / 100)
    return krippendorff_alpha_interval(units.values())


# --- the same ranking in SQL ---------------------------------------------------------------

_RELATION = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?|\(.*\))$", re.DOTALL)
RANKING_COLUMNS = (
    "proposal_id", "rank", "normalised", "raw_mean", "sd", "min_score", "max_score",
    "reviews", "missing", "disagreement", "tied",
)


def ranking_sql(
    reviews: str = "reviews", scores: str = "scores", criteria: str = "criteria", *, points_column: str | None = None
) -> str:
    """SQL (PostgreSQL; SQLite >= 3.35 built with its math functions, as Python's is) computing the ranking defined above.

    The three arguments are relations - table names or parenthesised
    subqueries written by the programmer (never user input), e.g.
    ``"(SELECT id, weight FROM rubric_criteria WHERE challenge_id = :challenge_id)"``:

    * reviews(id, proposal_id, reviewer_id): one row per assigned review;
    * scores(review_id, criterion_id, score): integer scores 0..10;
    * criteria(id, weight): the rubric, integer weights summing to 100.

    With `points_column`, each review row already carries its weighted total
    in hundredths (NULL while incomplete) in that column, and `scores` and
    `criteria` are not read: one pass over the scores saved.

    Returns one row per proposal that has review rows, columns
    `RANKING_COLUMNS`, ranked ones first by rank then proposal id, then the
    unranked ones by proposal id. Proposals without any review row do not
    appear (the caller knows them). Same integer arithmetic as the Python
    implementations; rounding differs only on exact half-way cases (SQLite
    rounds half away from zero).
    """
    for relation in (reviews, scores, criteria):
        if not _RELATION.match(relation.strip()):
            raise ValueError(f"not a table name or parenthesised subquery: {relation!r}")
    if points_column is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", points_column):
        raise ValueError(f"not a column name: {points_column!r}")
    dp = "DOUBLE PRECISION"
    scale = f"CAST({int(_SCALE)} AS {dp})"

    def r6(expr: str) -> str:
        return f"ROUND(({expr}) * {scale}) / {scale}"

    if points_column is None:
        weighted = f"""points AS (
    -- one pass over the scores: each review's weighted total in hundredths of a point
    SELECT s.review_id, SUM(s.score * c.weight) AS w, COUNT(*) AS n_scored
    FROM {scores} s JOIN {criteria} c ON c.id = s.criterion_id
    GROUP BY s.review_id
),
weighted AS (
    -- w is NULL for a review that does not score every criterion (missing)
    SELECT r.proposal_id, r.reviewer_id,
           CASE WHEN p.n_scored = (SELECT COUNT(*) FROM {criteria} cc) THEN CAST(p.w AS INTEGER) END AS w
    FROM {reviews} r LEFT JOIN points p ON p.review_id = r.id
),"""  # noqa: S608 - checked relation names from code
    else:
        weighted = f"""weighted AS (
    SELECT r.proposal_id, r.reviewer_id, CAST(r.{points_column} AS INTEGER) AS w FROM {reviews} r
),"""  # noqa: S608 - checked names from code
    return f"""
WITH {weighted}
reviewer_stats AS (
    SELECT reviewer_id, COUNT(*) AS n, SUM(w) AS s, SUM(w * w) AS q
    FROM weighted WHERE w IS NOT NULL GROUP BY reviewer_id
),
per_proposal AS (
    -- z = (n*x - S) / sqrt(n*Q - S^2): population z-score, 0 when sd = 0 or one review
    SELECT t.proposal_id, COUNT(*) AS n_rows, COUNT(t.w) AS n,
           SUM(CASE WHEN t.w IS NULL THEN NULL
                    WHEN rs.n * rs.q - rs.s * rs.s > 0
                    THEN CAST(rs.n * t.w - rs.s AS {dp}) / SQRT(CAST(rs.n * rs.q - rs.s * rs.s AS {dp}))
                    ELSE CAST(0 AS {dp}) END) AS zsum,
           SUM(t.w) AS s, SUM(t.w * t.w) AS q, MIN(t.w) AS lo, MAX(t.w) AS hi
    FROM weighted t LEFT JOIN reviewer_stats rs ON rs.reviewer_id = t.reviewer_id
    GROUP BY t.proposal_id
),
summary AS (
    SELECT proposal_id, n AS reviews, n_rows - n AS missing,
           CASE WHEN n > 0 AND n_rows = n THEN 1 ELSE 0 END AS ranked,
           {r6(f"zsum / CAST(NULLIF(n, 0) AS {dp})")} AS normalised,
           {r6(f"CAST(s AS {dp}) / CAST(100 * NULLIF(n, 0) AS {dp})")} AS raw_mean,
           CASE WHEN n > 1 THEN
               {r6(f"SQRT(CAST(n * q - s * s AS {dp}) / CAST(n * (n - 1) AS {dp})) / 100")}
           END AS sd,
           {r6(f"CAST(lo AS {dp}) / 100")} AS min_score,
           {r6(f"CAST(hi AS {dp}) / 100")} AS max_score,
           CASE WHEN n > 1 AND hi - lo >= {DISAGREEMENT_RANGE_HUNDREDTHS} THEN 1 ELSE 0 END AS disagreement
    FROM per_proposal
),
keyed AS (
    -- sort keys: NULL for unranked rows, so they are all peers, listed by proposal id
    SELECT summary.*,
           CASE WHEN ranked = 1 THEN normalised END AS k1,
           CASE WHEN ranked = 1 THEN raw_mean END AS k2
    FROM summary
)
SELECT proposal_id,
       CASE WHEN ranked = 1 THEN RANK() OVER w END AS rank,
       normalised, raw_mean, sd, min_score, max_score, reviews, missing, disagreement,
       -- peers share normalised and raw_mean: the frame of the current row's peers counts them
       CASE WHEN ranked = 1 AND COUNT(*) OVER (w RANGE BETWEEN CURRENT ROW AND CURRENT ROW) > 1
            THEN 1 ELSE 0 END AS tied
FROM keyed
WINDOW w AS (ORDER BY ranked DESC, k1 DESC, k2 DESC)
ORDER BY ranked DESC, k1 DESC, k2 DESC, proposal_id
"""  # noqa: S608 - relations are checked above and come from code, values are bound parameters


def ranking_from_rows(rows: Iterable[Sequence[Any]]) -> tuple[tuple[ProposalStats, ...], tuple[ProposalStats, ...]]:
    """Turn `ranking_sql` rows into (ranked, unranked) `ProposalStats`, as the
    Python implementations return them."""
    ranked, unranked = [], []

    def num(value: Any) -> float | None:
        return None if value is None else float(value) + 0.0

    make = ProposalStats._make
    with gc_paused():
        for row in rows:
            pid, rank, norm, raw, sd, lo, hi, n, missing, dis, tied = row
            if not n:
                stats = make((pid, None, None, None, None, None, None, 0, int(missing), False, False))
            else:
                stats = make((pid, rank, num(norm), num(raw), num(sd), num(lo), num(hi), int(n), int(missing),
                              bool(dis), bool(tied)))
            (ranked if rank is not None else unranked).append(stats)
    return tuple(ranked), tuple(unranked)


def ranking_in_sql(round_: ReviewRound, *, connection: Any = None
                   ) -> tuple[tuple[ProposalStats, ...], tuple[ProposalStats, ...]]:
    """The same ranking computed by the database (`ranking_sql` over the round's assignments of
    the proposals it reviews and their reviews' stored weighted totals); proposals without any
    assignment are not listed."""
    params: dict[str, Any] = {"round_id": round_.id, "challenge_id": round_.challenge_id}
    params.update({f"status_{i}": s.value for i, s in enumerate(round_statuses(round_))})
    placeholders = ", ".join(f":{name}" for name in params if name.startswith("status_"))
    reviews = ("(SELECT a.id, a.proposal_id, a.reviewer_id, r.weighted_points FROM review_assignments a "  # noqa: S608 - placeholders only
               "JOIN proposals p ON p.id = a.proposal_id LEFT JOIN reviews r ON r.assignment_id = a.id "
               "WHERE a.round_id = :round_id AND a.waived_at IS NULL "
               "AND p.challenge_id = :challenge_id AND p.status IN (" + placeholders + "))")
    connection = connection if connection is not None else db.session
    ranking_memory(connection)
    rows = connection.execute(sa.text(ranking_sql(reviews, points_column="weighted_points")), params).all()
    return ranking_from_rows(rows)
