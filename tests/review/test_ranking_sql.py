"""The ranking computed in the database over the real review tables agrees with the service's."""
from __future__ import annotations

from facility.review import services
from tests.review.conftest import assign, submit


def test_sql_ranking_agrees_with_the_service(make_world):
    world = make_world(n_proposals=5, n_reviewers=3)
    scores = [[8, 6], [5, 5], [2, 4], [9, 9], [10, 5], [5, 5], [3, 7], [6, 2], [7, 7], [4, 4]]
    n = 0
    for p in world.proposals[:4]:
        for reviewer in world.reviewers[:2] if p.id % 2 else world.reviewers[1:]:
            submit(world, assign(world, reviewer, p), scores[n % len(scores)])
            n += 1
    assign(world, world.reviewers[0], world.proposals[4])  # outstanding: unranked with one missing
    report = services.ranking(world.scoring)
    ranked, unranked = services.ranking_in_sql(world.scoring)
    assert [r.stats for r in report.ranked] == list(ranked)
    assert [r.stats for r in report.unranked] == list(unranked)
    assert unranked[0].missing == 1 and len(ranked) == 4
