"""Each review's weighted total is stored on the review row when it is submitted (hundredths of a
point, NULL while a draft) and is what the ranking reads; the migration fills it for old reviews."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import assignments, queries, ranking, reviews
from facility.review.models import Assignment, Review
from facility.review.statistics import weighted_hundredths
from tests.review.conftest import assign, submit
from tests.review.oracles import ReviewScores, rank_proposals_baseline, reviews_alpha

MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0007_review_weighted_points.py"


def _weights(world) -> dict[int, int]:
    return {c.id: c.weight for c in world.criteria}


def _recomputed(world, review: Review) -> int | None:
    """The weighted total recomputed from the review's score rows (None unless submitted)."""
    db.session.expire(review)
    return weighted_hundredths(review.score_map, _weights(world)) if review.is_submitted else None


def test_submit_stores_the_weighted_total(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    review = submit(world, a, [7, 4])  # 0.6 * 7 + 0.4 * 4 = 5.8 points
    assert review.weighted_points == 580 == _recomputed(world, review)
    stored = db.session.execute(sa.select(Review.weighted_points).where(Review.id == review.id)).scalar_one()
    assert stored == 580


def test_a_draft_has_no_total_and_the_edit_before_submitting_counts(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    draft = submit(world, a, [9, 9], submit=False)
    assert draft.weighted_points is None
    partial = reviews.save_review(actor=a.reviewer, assignment=a, scores={world.criteria[0].id: 3}, comment="x")
    db.session.commit()
    assert partial.weighted_points is None
    review = submit(world, a, [2, 10])  # edited, then submitted: 0.6 * 2 + 0.4 * 10 = 5.2
    assert review.weighted_points == 520 == _recomputed(world, review)


def test_eligibility_reviews_have_no_total(world):
    a = assign(world, world.reviewers[0], world.proposals[0], round_=world.eligibility)
    review = reviews.save_review(actor=a.reviewer, assignment=a, comment="Fine", eligible=True, submit=True)
    db.session.commit()
    assert review.is_submitted and review.weighted_points is None


def test_the_database_refuses_a_total_on_a_draft(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    draft = submit(world, a, [5, 5], submit=False)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(Review).where(Review.id == draft.id).values(weighted_points=500))
        db.session.flush()
    db.session.rollback()


def test_migration_backfill_matches_the_service(make_world):
    world = make_world(n_proposals=3, n_reviewers=2)
    reviews = [submit(world, assign(world, r, p), [(p.id + 3 * i) % 11, (2 * p.id + i) % 11])
               for i, r in enumerate(world.reviewers) for p in world.proposals[:2]]
    draft = submit(world, assign(world, world.reviewers[0], world.proposals[2]), [1, 2], submit=False)
    expected = {r.id: r.weighted_points for r in reviews + [draft]}
    assert all(v is not None for k, v in expected.items() if k != draft.id)
    db.session.execute(sa.update(Review).values(weighted_points=None))
    spec = importlib.util.spec_from_file_location("migration_0007", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    db.session.execute(sa.text(module.BACKFILL))
    db.session.commit()
    assert dict(db.session.execute(sa.select(Review.id, Review.weighted_points)).all()) == expected


def _score_rows(world, round_) -> list[ReviewScores]:
    """The round's raw score rows as the row-by-row oracle takes them (submitted reviews only)."""
    rows = []
    for p in queries.round_proposals(round_):
        for a in db.session.execute(sa.select(Assignment).where(
                Assignment.round_id == round_.id, Assignment.proposal_id == p.id,
                Assignment.waived_at.is_(None))).scalars():
            rows.append(ReviewScores(a.proposal_id, a.reviewer_id,
                                     a.review.score_map if a.review is not None and a.review.is_submitted else None))
    return rows


def test_ranking_from_stored_totals_equals_the_baseline_over_score_rows(make_world):
    world = make_world(n_proposals=8, n_reviewers=4)  # the 7th gets no assignment, the 8th is withdrawn
    grid = [[8, 6], [5, 5], [2, 4], [9, 9], [10, 5], [5, 5], [3, 7], [6, 2], [7, 7], [4, 4], [0, 10], [6, 6]]
    n = 0
    for p in world.proposals[:5]:
        for r in world.reviewers[p.id % 2: p.id % 2 + 3]:
            submit(world, assign(world, r, p), grid[n % len(grid)])
            n += 1
    assign(world, world.reviewers[3], world.proposals[5])  # outstanding
    waived = assign(world, world.reviewers[0], world.proposals[5])
    assignments.waive_assignment(actor=world.manager, assignment=waived, reason="Away")
    submit(world, assign(world, world.reviewers[1], world.proposals[7]), [10, 10])
    world.proposals[7].status = ProposalStatus.WITHDRAWN  # no longer reviewed: its scores take no part
    db.session.commit()
    rows = _score_rows(world, world.scoring)
    oracle = rank_proposals_baseline(rows, _weights(world),
                                     proposal_ids=[p.id for p in queries.round_proposals(world.scoring)])
    result, alpha = ranking.round_statistics(world.scoring)
    assert result == oracle
    assert world.proposals[6].id in [s.proposal_id for s in result.unranked]
    assert world.proposals[7].id not in [s.proposal_id for s in result.ranked + result.unranked]
    assert alpha == pytest.approx(reviews_alpha(rows, _weights(world)), rel=1e-12, abs=1e-12)
    report = ranking.ranking(world.scoring)
    assert tuple(r.stats for r in report.ranked) == oracle.ranked
    assert tuple(r.stats for r in report.unranked) == oracle.unranked
    assert tuple(s for _, s in report.reviewers) == oracle.reviewers
