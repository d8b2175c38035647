"""The ranking of a scored round: statistics from the stored review totals, and its CSV export.

The statistics themselves (reviewer normalisation, ties, Krippendorff's alpha) are the pure
functions of `review.statistics`.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import User
from facility.challenges.models import Criterion
from facility.core.errors import Conflict as ConflictError
from facility.core.exports import Column, csv_lines
from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import facts
from facility.review.models import Assignment, Decision, Review, ReviewRound
from facility.review.queries import criteria_of, round_proposal_ids, round_proposals
from facility.review.statistics import (
    WEIGHT_TOTAL,
    ProposalStats,
    Ranking,
    ReviewerStats,
    alpha_arrays,
    rank_arrays,
)


@dataclass
class RankingRow:
    proposal: Proposal
    stats: ProposalStats
    decision: Decision | None


@dataclass
class RankingReport:
    round: ReviewRound
    criteria: list[Criterion]
    ranked: list[RankingRow]
    unranked: list[RankingRow]
    reviewers: list[tuple[User, ReviewerStats]]
    alpha: float | None
    outstanding: int  # assignments neither submitted nor waived, across the challenge's rounds
    pending_decisions: int
    # Submitted proposals awaiting a decision with no reviewer at all (they hold the release back).
    without_reviewers: int = 0
    without_reviewers_named: list[Proposal] = field(default_factory=list)
    # The whole round's counts (`ranked`/`unranked` may be a window of it: `ranking(rows=...)`).
    ranked_total: int = 0
    unranked_total: int = 0


RANKING_WORK_MEM = "64MB"


def ranking_memory(connection: Any) -> None:
    """On PostgreSQL, give this transaction's ranking query the memory for its hash tables and
    sorts of a whole round (300,000 reviews: the 4 MB default spills them to disk). SET LOCAL:
    it ends with the transaction (the request)."""
    dialect = connection.dialect if isinstance(connection, sa.Connection) else connection.get_bind().dialect
    if dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.set_config("work_mem", RANKING_WORK_MEM, True)))


def round_points_query(round_: ReviewRound) -> sa.Select[int, str]:
    """The round's stored review totals, packed into one row: (number of entries, text
    "proposal,reviewer,points,proposal,reviewer,points,..."), one entry per proposal the round
    reviews and per non-waived assignment of it in the round; reviewer -1 for a proposal without
    any assignment, points -1 while the review is missing (no review, a draft) - otherwise the
    review's `weighted_points` in hundredths. Never reads the score rows.

    One text value instead of one result row per review: with 300,000 reviews, building the
    result rows costs more than the query (string_agg on PostgreSQL, group_concat on SQLite).
    """
    entry = (sa.cast(Proposal.id, sa.String) + ","
             + sa.cast(sa.func.coalesce(Assignment.reviewer_id, -1), sa.String) + ","
             + sa.cast(sa.func.coalesce(Review.weighted_points, -1), sa.String))
    return (
        sa.select(sa.func.count(), sa.func.aggregate_strings(entry, ","))
        .select_from(Proposal)
        .outerjoin(Assignment, sa.and_(Assignment.proposal_id == Proposal.id, Assignment.round_id == round_.id,
                                       Assignment.waived_at.is_(None)))
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(Proposal.challenge_id == round_.challenge_id, Proposal.status.in_(facts.round_statuses(round_)))
    )


def round_statistics(round_: ReviewRound, *, connection: Any = None) -> tuple[Ranking, float | None]:
    """The round's ranking and Krippendorff's alpha from the stored review totals: one query
    (`round_points_query`), then `statistics.rank_arrays` and `alpha_arrays` (numpy). Gives
    exactly what the row-by-row oracle gives over the score rows. `connection` (a SQLAlchemy
    connection or session) defaults to the app's session."""
    connection = connection if connection is not None else db.session
    ranking_memory(connection)
    count, packed = connection.execute(round_points_query(round_)).one()
    if not count:
        return Ranking((), (), ()), None
    values = np.fromstring(packed, dtype=np.int64, sep=",")
    if values.size != 3 * count:
        raise RuntimeError("unexpected packed review totals")
    pids, reviewer_ids, points = values[0::3], values[1::3], values[2::3]
    assigned = reviewer_ids != -1
    pids, reviewer_ids, points, unassigned = pids[assigned], reviewer_ids[assigned], points[assigned], pids[~assigned]
    complete = points >= 0
    ranking = rank_arrays(pids, reviewer_ids, np.where(complete, points, 0), complete,
                          proposal_ids=np.unique(unassigned).tolist())
    return ranking, alpha_arrays(pids, points, complete)


def _unrankable(proposal_ids: Sequence[int]) -> tuple[ProposalStats, ...]:
    return tuple(ProposalStats(pid, None, None, None, None, None, None, 0, 0, False, False) for pid in proposal_ids)


def ranking(round_: ReviewRound, *, rows: slice | None = None) -> RankingReport:
    """The round's ranking (see `review.statistics`): weighted raw scores, per-reviewer z-scores,
    mean, spread, disagreement, ties, unranked proposals with the reviews they still lack, and
    Krippendorff's alpha. A fixed number of queries, whatever the number of rows; the scores
    come from each review's stored weighted total (`round_statistics`). Pages and the API call
    it after `queries.get_ranking_round` (which asks `policy.can_see_ranking`).

    `rows`: the window of the ranking to return (ranked rows first, then the unranked), e.g. one page;
    the whole round is still ranked, so ranks are the round's, and `ranked_total`/`unranked_total` count
    it all, but only the window's proposals are loaded."""
    if not round_.is_scored:
        raise ConflictError(_("Only scoring rounds are ranked."))
    challenge = round_.challenge
    criteria = criteria_of(challenge)
    if sum(c.weight for c in criteria) == WEIGHT_TOTAL:
        result, alpha = round_statistics(round_)
        ranked_stats, unranked_stats, reviewer_stats = result.ranked, result.unranked, result.reviewers
    else:  # a rubric that does not add up cannot be ranked; everything is listed unranked
        ranked_stats, reviewer_stats, alpha = (), (), None
        unranked_stats = _unrankable(round_proposal_ids(round_))
    ranked_total, unranked_total = len(ranked_stats), len(unranked_stats)
    if rows is not None:
        start, stop, _step = rows.indices(ranked_total + unranked_total)
        ranked_stats = ranked_stats[start:stop]
        unranked_stats = unranked_stats[max(0, start - ranked_total):max(0, stop - ranked_total)]
    proposals = {p.id: p for p in round_proposals(
        round_, ids=None if rows is None else [s.proposal_id for s in (*ranked_stats, *unranked_stats)])}
    reviewer_users = {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_([s.reviewer_id for s in reviewer_stats]))).scalars()} \
        if reviewer_stats else {}
    unreviewed, named = facts.proposals_without_reviewers(challenge)
    decisions = {d.proposal_id: d for d in db.session.execute(
        sa.select(Decision).where(Decision.challenge_id == challenge.id).order_by(Decision.id)).scalars()}
    return RankingReport(
        round=round_, criteria=criteria,
        # The statistics come from their own statement: under READ COMMITTED a proposal (or a
        # reviewer's account) changed in between is left out rather than failing the page.
        ranked=[RankingRow(proposals[s.proposal_id], s, decisions.get(s.proposal_id))
                for s in ranked_stats if s.proposal_id in proposals],
        unranked=[RankingRow(proposals[s.proposal_id], s, decisions.get(s.proposal_id))
                  for s in unranked_stats if s.proposal_id in proposals],
        reviewers=[(reviewer_users[s.reviewer_id], s) for s in reviewer_stats if s.reviewer_id in reviewer_users],
        alpha=alpha, outstanding=facts.outstanding_assignments(challenge),
        pending_decisions=sum(1 for d in decisions.values() if not d.is_released),
        without_reviewers=unreviewed, without_reviewers_named=named,
        ranked_total=ranked_total, unranked_total=unranked_total,
    )


def ranking_items(report: RankingReport) -> list[dict[str, Any]]:
    """The report's rows (ranked, then unranked) as plain values, for the API."""
    return [{
        "proposal_id": r.proposal.id, "title": r.proposal.title, "status": r.proposal.status.value,
        "rank": r.stats.rank, "tied": r.stats.tied, "normalised": r.stats.normalised, "raw_mean": r.stats.raw_mean,
        "sd": r.stats.sd, "min_score": r.stats.min_score, "max_score": r.stats.max_score,
        "reviews": r.stats.reviews, "missing": r.stats.missing, "disagreement": r.stats.disagreement,
        "decision": r.decision.kind.value if r.decision else None,
        "decision_released": bool(r.decision and r.decision.is_released),
    } for r in report.ranked + report.unranked]


# Through `core.exports`: numbers are numbers (a normalised score of -0.5 is written -0.500, not the
# text '-0.500), and only text cells (the title) are guarded against spreadsheet formulas.
CSV_COLUMNS = [Column("rank", "int"), Column("tied"), Column("proposal_id", "int"), Column("title"),
               Column("normalised_score", "number"), Column("raw_mean", "number"), Column("sd", "number"),
               Column("min", "number"), Column("max", "number"), Column("reviews", "int"),
               Column("missing_reviews", "int"), Column("disagreement"), Column("decision")]
CSV_HEADER = [c.header for c in CSV_COLUMNS]


def _decimal(value: float | None, spec: str) -> Decimal | None:
    """A statistic rounded as the page shows it, kept a number (`Decimal` writes exactly those digits)."""
    return None if value is None else Decimal(format(value, spec))


def ranking_rows(report: RankingReport) -> Iterator[tuple[Any, ...]]:
    """The ranking's rows (ranked, then unranked) in `CSV_COLUMNS` order; the decision is its kind's code."""
    for row in report.ranked + report.unranked:
        s = row.stats
        yield (s.rank, "yes" if s.tied else "", row.proposal.id, row.proposal.title,
               _decimal(s.normalised, ".3f"), _decimal(s.raw_mean, ".2f"), _decimal(s.sd, ".2f"),
               _decimal(s.min_score, ".2f"), _decimal(s.max_score, ".2f"), s.reviews, s.missing,
               "yes" if s.disagreement else "", row.decision.kind.value if row.decision else "")


def ranking_csv(report: RankingReport) -> str:
    """The ranking as CSV text (machine-readable values: the decision kind's code, not its label)."""
    return "".join(csv_lines(CSV_COLUMNS, ranking_rows(report)))
