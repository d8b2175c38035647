"""The ranking computed in the database over the real review tables agrees with the service's."""
from __future__ import annotations

import sqlalchemy as sa

from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import assignments, ranking
from facility.review.models import Assignment
from tests.review import oracles
from tests.review.conftest import assign, submit
from tests.review.oracles import ReviewScores, rank_proposals_baseline


def test_sql_ranking_agrees_with_the_service(make_world):
    world = make_world(n_proposals=5, n_reviewers=3)
    scores = [[8, 6], [5, 5], [2, 4], [9, 9], [10, 5], [5, 5], [3, 7], [6, 2], [7, 7], [4, 4]]
    n = 0
    for p in world.proposals[:4]:
        for reviewer in world.reviewers[:2] if p.id % 2 else world.reviewers[1:]:
            submit(world, assign(world, reviewer, p), scores[n % len(scores)])
            n += 1
    assign(world, world.reviewers[0], world.proposals[4])  # outstanding: unranked with one missing
    report = ranking.ranking(world.scoring)
    ranked, unranked = oracles.ranking_in_sql(world.scoring)
    assert [r.stats for r in report.ranked] == list(ranked)
    assert [r.stats for r in report.unranked] == list(unranked)
    assert unranked[0].missing == 1 and len(ranked) == 4


def test_sql_ranking_from_stored_totals_agrees_with_the_python_ranking_of_score_rows(make_world):
    """Both product paths read `reviews.weighted_points`; the row-by-row oracle recomputes every
    total from the score rows. Drafts, waived assignments and withdrawn proposals included."""
    world = make_world(n_proposals=7, n_reviewers=4, weights=(35, 25, 40))
    grid = [[8, 6, 1], [5, 5, 5], [2, 4, 9], [9, 9, 7], [10, 5, 0], [3, 7, 7], [6, 2, 2], [7, 7, 7], [4, 4, 9]]
    n = 0
    for p in world.proposals[:5]:
        for reviewer in world.reviewers[p.id % 2: p.id % 2 + 3]:
            submit(world, assign(world, reviewer, p), grid[n % len(grid)])
            n += 1
    submit(world, assign(world, world.reviewers[3], world.proposals[5]), [1, 2, 3], submit=False)  # a draft
    waived = assign(world, world.reviewers[0], world.proposals[5])
    assignments.waive_assignment(actor=world.manager, assignment=waived, reason="Travelling")
    submit(world, assign(world, world.reviewers[2], world.proposals[6]), [10, 10, 10])
    world.proposals[6].status = ProposalStatus.WITHDRAWN
    db.session.commit()
    weights = {c.id: c.weight for c in world.criteria}
    rows = []
    for a in db.session.execute(sa.select(Assignment).where(
            Assignment.round_id == world.scoring.id, Assignment.waived_at.is_(None))).scalars():
        if a.proposal.status != ProposalStatus.WITHDRAWN:
            rows.append(ReviewScores(a.proposal_id, a.reviewer_id,
                                     a.review.score_map if a.review and a.review.is_submitted else None))
    oracle = rank_proposals_baseline(rows, weights)
    ranked, unranked = oracles.ranking_in_sql(world.scoring)
    assert (ranked, unranked) == (oracle.ranked, oracle.unranked)
    report = ranking.ranking(world.scoring)
    assert tuple(r.stats for r in report.ranked) == oracle.ranked
    assert tuple(r.stats for r in report.unranked) == oracle.unranked
    assert [s.missing for s in unranked] == [1]
