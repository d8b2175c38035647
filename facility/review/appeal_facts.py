"""The facts the appeal rules are made of: which decision an applicant may appeal, until when, whether
it was appealed already, and who took part in it. Plain reads with no rule of their own (`review.policy`
decides with them)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import facts
from facility.review.models import Appeal, Assignment, Decision


def window_days() -> int:
    """`APPEAL_WINDOW_DAYS` (config.py, 14 unless set): how long after its release a decision may be appealed."""
    return int(current_app.config["APPEAL_WINDOW_DAYS"])


def window_closes(decision: Decision) -> datetime | None:
    """When the window to appeal the released decision closes (None before the release)."""
    if decision.released_at is None:
        return None
    return decision.released_at + timedelta(days=window_days())


def appeal_of(decision: Decision) -> Appeal | None:
    """The decision's appeal, if it was appealed (at most one)."""
    return db.session.execute(sa.select(Appeal).where(Appeal.decision_id == decision.id)).scalar_one_or_none()


def latest_appeal(proposal: Proposal) -> Appeal | None:
    """The proposal's most recent appeal, if any (what its pages show)."""
    return db.session.execute(sa.select(Appeal).where(Appeal.proposal_id == proposal.id)
                              .order_by(Appeal.id.desc()).limit(1)).scalar_one_or_none()


def took_part(user: Any, decision: Decision) -> bool:
    """Whether `user` took part in the decision: prepared or released it, sits on the challenge's panel
    (reviewer or observer), or was assigned the proposal in any round (waived or not)."""
    if user.id in (decision.created_by_id, decision.released_by_id):
        return True
    proposal = decision.proposal
    if facts.panel_membership(proposal.challenge, user) is not None:
        return True
    assigned = db.session.execute(sa.select(Assignment.id).where(
        Assignment.proposal_id == proposal.id, Assignment.reviewer_id == user.id).limit(1)).first()
    return assigned is not None
