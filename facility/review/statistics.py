"""Scores, reviewer normalisation, ranking and inter-rater reliability.

Definitions (the contract every implementation here follows, and the SQL too):

* **Weighted score** of a review: ``sum(score_c * weight_c) / 100`` over the
  rubric criteria, scores 0..10 (integers), weights integers summing to 100,
  so the result is on the same 0..10 scale. It is kept internally as an exact
  integer number of hundredths of a point (``sum(score_c * weight_c)``).
  A review is *complete* when it scores every criterion; incomplete reviews
  are counted as missing and take no part in any statistic.
* **Reviewer normalisation**: for reviewer r with n complete reviews in the
  round, weighted scores x_i, S = sum(x), Q = sum(x^2), the z-score of one of
  their reviews is ``(x - mean_r) / sd_r`` with the *population* standard
  deviation (ddof = 0: the reviewer's scores in this round are all of them,
  not a sample; it is also what SQL's stddev_pop gives). Computed as
  ``(n*x - S) / sqrt(n*Q - S^2)`` (the same quantity with n cancelled), so the
  numerator and the radicand are exact integers and every implementation
  (pure Python, numpy, PostgreSQL, SQLite) gets the same float. Reviewers
  with one review, or with sd = 0 (all their scores equal), get z = 0 and are
  *flagged*: their scores carry no information about their own scale.
* **Proposal statistics** over its complete reviews: normalised score = mean
  of their z-scores; raw mean of the weighted scores; spread as the *sample*
  sd (ddof = 1; None with one review), min and max; the number of reviews;
  the number missing (review rows not complete). **Disagreement** is flagged
  when two or more reviews' weighted scores span ``DISAGREEMENT_RANGE`` = 4
  points or more on the 0..10 scale (e.g. 3.0 and 7.0).
* **Ranking**: proposals with at least one review and none missing are
  ranked by normalised score, then raw mean, both descending, both rounded to
  6 decimals first (round-half-even of x * 10^6, then / 10^6).
  Equal rounded pairs are ties and share a rank, competition style
  ("1, 2, 2, 4"); within a tie, rows are listed by proposal id. Everything
  else is *unranked* and listed by proposal id with the count missing.
* **Reliability** of a round: Krippendorff's alpha for interval data (`alpha_arrays`).

This module holds what the product runs: `rank_arrays` and `alpha_arrays` (numpy), called by
`review.ranking` over the stored review totals. The other implementations of the same
definitions - the row-by-row oracle `rank_proposals_baseline`, the SQL version `ranking_sql`,
the pure-Python alpha and ICC - live in `tests/review/oracles.py`, where the tests check that
all of them agree and the benchmark (`benchmarks/ranking.py`) measures them.
"""
from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from facility.challenges.models import SCORE_MAX, SCORE_MIN

WEIGHT_TOTAL = 100
DISAGREEMENT_RANGE = 4  # points on the 0..10 scale
DISAGREEMENT_RANGE_HUNDREDTHS = DISAGREEMENT_RANGE * 100
DECIMALS = 6
_SCALE = 10.0**DECIMALS


# --- weighted scores ---------------------------------------------------------------------


def weighted_hundredths(scores: Mapping[Any, int] | None, weights: Mapping[Any, int]) -> int | None:
    """Exact weighted score in hundredths of a point (0..1000), or None when the
    review does not score every criterion. Scores must be integers 0..10 and
    name only criteria of the rubric."""
    if scores is None:
        return None
    unknown = set(scores) - set(weights)
    if unknown:
        raise ValueError(f"scores for unknown criteria: {sorted(map(str, unknown))}")
    total = 0
    for criterion, weight in weights.items():
        score = scores.get(criterion)
        if score is None:
            return None
        if isinstance(score, bool) or not isinstance(score, int) or not SCORE_MIN <= score <= SCORE_MAX:
            raise ValueError(f"score for criterion {criterion!r} must be an integer from {SCORE_MIN} to {SCORE_MAX}")
        total += score * weight
    return total


# --- results ---------------------------------------------------------------------------


class ReviewerStats(NamedTuple):
    reviewer_id: Any
    reviews: int  # complete reviews in the round
    mean: float  # of weighted scores, 0..10
    sd: float  # population sd
    flagged: bool  # one review or sd = 0: z-scores set to 0


class ProposalStats(NamedTuple):
    """One line of a ranking (a named tuple: 100,000 of them are built cheaply)."""

    proposal_id: Any
    rank: int | None  # None when unranked
    normalised: float | None  # mean z-score
    raw_mean: float | None  # mean weighted score, 0..10
    sd: float | None  # sample sd of weighted scores (None with < 2 reviews)
    min_score: float | None
    max_score: float | None
    reviews: int  # complete reviews
    missing: int  # review rows not complete
    disagreement: bool
    tied: bool  # shares its rank with another proposal


@dataclass(frozen=True)
class Ranking:
    ranked: tuple[ProposalStats, ...]
    unranked: tuple[ProposalStats, ...]
    reviewers: tuple[ReviewerStats, ...]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building 100,000 result tuples in a row sets off the cyclic garbage collector again and
    again, each pass walking the whole heap (several times the cost of the tuples themselves,
    more in a big process). The tuples hold only numbers and None, so it waits until they are built."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- the vectorised implementation ---------------------------------------------------------


def rank_arrays(
    review_proposals: Sequence[Any] | np.ndarray,
    review_reviewers: Sequence[Any] | np.ndarray,
    points: Sequence[int] | np.ndarray,
    complete: Sequence[bool] | np.ndarray | None = None,
    *,
    proposal_ids: Iterable[Any] = (),
) -> Ranking:
    """Vectorised ranking over parallel arrays, one entry per review row.

    `points` are weighted scores in hundredths (see `weighted_hundredths`),
    `complete` marks rows that score every criterion (all, when None);
    `proposal_ids` adds proposals that have no review rows at all.
    Gives exactly what `rank_proposals_baseline` gives (same operations on
    the same exact integers, sums accumulated in the same row order).
    """
    pid_arr = np.asarray(review_proposals)
    extra = list(proposal_ids)
    if pid_arr.size == 0 and not extra:
        return Ranking((), (), ())
    combined = pid_arr if not extra else (np.concatenate([pid_arr, np.asarray(extra)]) if pid_arr.size else np.asarray(extra))
    p_codes, p_inverse = np.unique(combined, return_inverse=True)
    p_idx = p_inverse[: pid_arr.size]
    n_props = p_codes.size
    pts = np.asarray(points, dtype=np.int64)
    done = np.ones(pts.size, dtype=bool) if complete is None else np.asarray(complete, dtype=bool)
    rows_per_p = np.bincount(p_idx, minlength=n_props)

    pc = p_idx[done]
    x = pts[done]
    xf = x.astype(np.float64)
    r_codes, r_idx = np.unique(np.asarray(review_reviewers)[done], return_inverse=True)
    # Integer sums (bincount adds in float64, exact for these magnitudes).
    n_r = np.bincount(r_idx).astype(np.int64)
    s_r = np.rint(np.bincount(r_idx, weights=xf)).astype(np.int64)
    q_r = np.rint(np.bincount(r_idx, weights=xf * xf)).astype(np.int64)
    rad_r = n_r * q_r - s_r * s_r
    rad_row = rad_r[r_idx]
    z = np.zeros(x.size)
    varying = rad_row > 0
    num = (n_r[r_idx] * x - s_r[r_idx]).astype(np.float64)
    z[varying] = num[varying] / np.sqrt(rad_row[varying].astype(np.float64))

    n_p = np.bincount(pc, minlength=n_props).astype(np.int64)
    zsum = np.bincount(pc, weights=z, minlength=n_props)
    s_p = np.rint(np.bincount(pc, weights=xf, minlength=n_props)).astype(np.int64)
    q_p = np.rint(np.bincount(pc, weights=xf * xf, minlength=n_props)).astype(np.int64)
    lo = np.full(n_props, np.iinfo(np.int64).max)
    hi = np.full(n_props, -1, dtype=np.int64)
    np.minimum.at(lo, pc, x)
    np.maximum.at(hi, pc, x)
    missing = rows_per_p - n_p

    has = n_p > 0
    safe_n = np.where(has, n_p, 1).astype(np.float64)
    normalised = _round6_array(zsum / safe_n)
    raw = _round6_array(s_p.astype(np.float64) / (100 * safe_n))
    two = n_p > 1
    pairs = np.where(two, n_p * (n_p - 1), 1).astype(np.float64)
    sd = _round6_array(np.sqrt((n_p * q_p - s_p * s_p).astype(np.float64) / pairs) / 100)
    lo_f = _round6_array(np.where(has, lo, 0) / 100)
    hi_f = _round6_array(np.where(has, hi, 0) / 100)
    disagreement = two & (hi - lo >= DISAGREEMENT_RANGE_HUNDREDTHS)

    ranked_mask = has & (missing == 0)
    ranked_idx = np.flatnonzero(ranked_mask)
    # lexsort: last key first. Ids ascending inside ties (codes are sorted ids).
    order = ranked_idx[np.lexsort((ranked_idx, -raw[ranked_idx], -normalised[ranked_idx]))]
    k_norm, k_raw = normalised[order], raw[order]
    new_group = np.ones(order.size, dtype=bool)
    new_group[1:] = (k_norm[1:] != k_norm[:-1]) | (k_raw[1:] != k_raw[:-1])
    ranks = np.maximum.accumulate(np.where(new_group, np.arange(1, order.size + 1), 0)) if order.size else order
    group = np.cumsum(new_group) - 1
    tied = (np.bincount(group)[group] > 1) if order.size else new_group

    def lines(idx: np.ndarray, ranks: list[Any], tied_flags: list[Any]) -> tuple[ProposalStats, ...]:
        # Build the named tuples column-wise; None where a statistic does not exist.
        present = has[idx]

        def optional(values: np.ndarray, where: np.ndarray = present) -> list[Any]:
            column: list[Any] = np.asarray(np.where(where, values[idx], None)).tolist()
            return column

        # `_make` builds each tuple in C; calling the class runs a Python __new__ (several times slower).
        return tuple(map(ProposalStats._make, zip(
            p_codes[idx].tolist(), ranks, optional(normalised), optional(raw),
            optional(sd, two[idx]), optional(lo_f), optional(hi_f), n_p[idx].tolist(), missing[idx].tolist(),
            disagreement[idx].tolist(), tied_flags, strict=True,
        )))

    unranked_idx = np.flatnonzero(~ranked_mask)
    with gc_paused():
        ranked = lines(order, ranks.tolist(), tied.tolist())
        unranked = lines(unranked_idx, [None] * unranked_idx.size, [False] * unranked_idx.size)

    r_safe = np.where(n_r > 0, n_r, 1).astype(np.float64)
    r_mean = _round6_array(s_r.astype(np.float64) / (100 * r_safe)).tolist()
    r_sd = _round6_array(np.sqrt(rad_r.astype(np.float64)) / (100 * r_safe)).tolist()
    r_flag = ((n_r < 2) | (rad_r == 0)).tolist()
    reviewers = tuple(
        ReviewerStats(rid, n, mean, sd_, flag)
        for rid, n, mean, sd_, flag in zip(r_codes.tolist(), n_r.tolist(), r_mean, r_sd, r_flag, strict=True)
    )
    return Ranking(ranked, unranked, reviewers)


def _round6_array(values: np.ndarray) -> np.ndarray:
    """Round to 6 decimals the way PostgreSQL's round(float8) does: half-even on x * 10^6 (numpy's
    rint); + 0.0 turns -0.0 into 0.0 as Python's round does. Ranking ties are decided on these values."""
    return np.rint(values * _SCALE) / _SCALE + 0.0


# --- inter-rater reliability ---------------------------------------------------------------


def alpha_arrays(
    review_proposals: Sequence[Any] | np.ndarray, points: Sequence[int] | np.ndarray,
    complete: Sequence[bool] | np.ndarray | None = None,
) -> float | None:
    """`reviews_alpha` over parallel arrays (as `rank_arrays` takes them): Krippendorff's interval
    alpha of the complete reviews' weighted scores, units = proposals.

    Same formula as `krippendorff_alpha_interval`, on the exact integer sums of hundredths (the
    scale cancels in D_o / D_e); equal to `reviews_alpha` up to float rounding in the last bits.
    """
    pts = np.asarray(points, dtype=np.int64)
    done = np.ones(pts.size, dtype=bool) if complete is None else np.asarray(complete, dtype=bool)
    if not done.any():
        return None
    _, unit = np.unique(np.asarray(review_proposals)[done], return_inverse=True)
    x = pts[done]
    m = np.bincount(unit).astype(np.int64)
    s = np.rint(np.bincount(unit, weights=x.astype(np.float64))).astype(np.int64)
    q = np.rint(np.bincount(unit, weights=(x * x).astype(np.float64))).astype(np.int64)
    pairable = m >= 2  # a lone value cannot be paired
    m, s, q = m[pairable], s[pairable], q[pairable]
    n = int(m.sum())
    if n < 2:
        return None
    observed = float(np.sum((2 * m * q - 2 * s * s) / (m - 1)))
    total, total_sq = int(s.sum()), int(q.sum())  # Python ints: exact whatever the round's size
    expected = 2 * n * total_sq - 2 * total * total
    if expected <= 0:
        return None
    return 1 - (n - 1) * observed / expected


