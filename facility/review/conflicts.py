"""Conflicts of interest: a reviewer declares one (or abstains) and is never assigned the proposal.

The conflicts found automatically (same organisation, same e-mail domain, a conflict declared
with the organisation before) are computed in `review.facts.detect_conflicts`.
"""
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.inputs import REASON_CHARS, clean_text
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import policy
from facility.review.models import Assignment, Conflict, ConflictKind


def declare_conflict(*, actor: User, proposal: Proposal, reason: str, abstain: bool = False) -> Conflict:
    """Rule: a reviewer on the proposal's panel declares a conflict (with a reason) or abstains on a
    competing proposal; from then on they are never assigned it, their assignments on it are
    removed (with any review), and they cannot open it. Declaring twice is refused."""
    require(policy.can_declare_conflict(actor, proposal))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True, multiline=True)
    conflict = Conflict(proposal=proposal, reviewer_id=actor.id, organization_id=proposal.organization_id,
                        kind=ConflictKind.ABSTAINED if abstain else ConflictKind.DECLARED, reason=reason)
    db.session.add(conflict)
    removed = drop_assignments(proposal_id=proposal.id, reviewer_id=actor.id)
    db.session.flush()
    record("review.conflict_declared", actor=actor, obj=proposal,
           details={"kind": conflict.kind.value, "removed_assignments": removed})
    return conflict


def drop_assignments(*, proposal_id: int, reviewer_id: int, round_id: int | None = None) -> list[int]:
    """Delete the reviewer's assignments on the proposal (in one round, when given), with their
    reviews; returns the ids removed (for the audit trail)."""
    query = sa.select(Assignment).where(Assignment.proposal_id == proposal_id, Assignment.reviewer_id == reviewer_id)
    if round_id is not None:
        query = query.where(Assignment.round_id == round_id)
    removed = []
    for assignment in db.session.execute(query).scalars():
        removed.append(assignment.id)
        db.session.delete(assignment)
    return removed
