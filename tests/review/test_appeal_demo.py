"""seed-demo shows an appeal: a released decline, appealed by its applicant, awaiting an impartial fund manager."""
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import User
from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import policy
from facility.review.models import Appeal, AppealStatus, DecisionKind


def test_the_demo_has_an_open_appeal_on_a_released_decline(app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    db.session.commit()
    (appeal,) = db.session.execute(sa.select(Appeal)).scalars().all()
    assert appeal.status == AppealStatus.SUBMITTED and appeal.decision.kind == DecisionKind.DECLINE
    assert appeal.decision.is_released and appeal.proposal.status == ProposalStatus.DECLINED
    second = db.session.execute(sa.select(User).where(User.email == "fund.manager2@demo.facility")).scalar_one()
    assert policy.can_handle_appeal(second, appeal) is None  # took no part: may decide it
