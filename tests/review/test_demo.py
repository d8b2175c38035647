"""seed-demo's review part: panels and a living ranking where proposals exist, nothing otherwise."""
from __future__ import annotations

import sqlalchemy as sa

from facility.extensions import db
from facility.review import demo, ranking
from facility.review.models import Assignment, PanelMember, Review, ReviewStatus


def test_seed_builds_panels_with_finished_and_unfinished_reviews(make_world, make_user):
    world = make_world(n_proposals=4, panel=False)
    users = {email: make_user("reviewer", email=email) for email in demo.DEMO_REVIEWERS}
    users[demo.MANAGER] = world.manager
    demo.seed({"users": users})
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(PanelMember.id))) == 3
    assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) == 8
    statuses = db.session.execute(sa.select(Review.status)).scalars().all()
    assert ReviewStatus.SUBMITTED in statuses and ReviewStatus.DRAFT in statuses and len(statuses) < 8
    report = ranking.ranking(world.scoring)
    assert report.ranked and report.unranked and report.outstanding > 0


def test_seed_without_challenges_or_users_does_nothing(app):
    demo.seed({})
    demo.seed({"users": {}})
    assert db.session.scalar(sa.select(sa.func.count(PanelMember.id))) == 0
