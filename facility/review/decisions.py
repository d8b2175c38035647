"""The panel's decisions: prepared one by one, released together; the applicant's feedback."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges.models import Challenge
from facility.core.errors import ValidationFailed
from facility.core.inputs import REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import Proposal, ProposalStatus
from facility.review import facts, policy
from facility.review.models import Assignment, Decision, DecisionKind, Review, ReviewRound, ReviewStatus


def prepare_decision(*, actor: User, proposal: Proposal, kind: DecisionKind | str, note: str = "") -> Decision:
    """Rule: a fund manager prepares one pending decision per competing proposal (a new one replaces
    the pending one), with an internal note of at most `REASON_CHARS` characters; nothing is
    visible to applicants until the release."""
    refusal = policy.can_prepare_decision(actor, proposal)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # the role, then what was sent, then the proposal's state (as always)
    try:
        kind = DecisionKind(kind)
    except ValueError:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"kind": [_("Choose shortlist, award recommendation or decline.")]}) from None
    require(refusal)
    note = clean_text(note, "note", limit=REASON_CHARS, multiline=True)
    pending = db.session.execute(sa.select(Decision).where(
        Decision.proposal_id == proposal.id, Decision.released_at.is_(None))).scalar_one_or_none()
    if pending is None:
        pending = Decision(challenge_id=proposal.challenge_id, proposal=proposal, kind=kind)
        db.session.add(pending)
    pending.kind = kind
    pending.note = note
    pending.created_by_id = actor.id
    db.session.flush()
    record("review.decision_prepared", actor=actor, obj=proposal, details={"kind": kind.value})
    return pending


_STATUS_AFTER = {DecisionKind.SHORTLIST: ProposalStatus.SHORTLISTED, DecisionKind.DECLINE: ProposalStatus.DECLINED}


def applicant_members(org_ids: set[int]) -> dict[int, list[User]]:
    """The active members of each applicant organisation (who are told of the decision)."""
    members: dict[int, list[User]] = {}
    for user in db.session.execute(sa.select(User).where(User.organization_id.in_(org_ids), User.active)
                                   .order_by(User.id)).scalars():
        if user.organization_id is not None:
            members.setdefault(user.organization_id, []).append(user)
    return members


def release_decisions(*, actor: User, challenge: Challenge) -> list[Decision]:
    """Rule: a fund manager releases all pending decisions of a challenge together, and only once
    every assigned review is in or explicitly waived. Proposal statuses follow (shortlisted /
    declined; an award recommendation leaves the status for the award), and each applicant is
    e-mailed after commit and can read the reviewers' comments (never their names)."""
    require(policy.can_release_decisions(actor, challenge))
    pending = facts.unreleased_decisions(challenge)
    now = utcnow()
    applicants = applicant_members({d.proposal.organization_id for d in pending})
    for decision in pending:
        decision.released_at = now
        decision.released_by_id = actor.id
        proposal = decision.proposal
        if decision.kind in _STATUS_AFTER:
            set_proposal_status(proposal=proposal, to=_STATUS_AFTER[decision.kind], actor=actor)
        notify(applicants.get(proposal.organization_id, []), "review/decision_released",
               proposal=proposal, decision=decision)
        record("review.decision_released", actor=actor, obj=proposal,
               details={"kind": decision.kind.value, "status": proposal.status.value})
    db.session.flush()
    return pending


@dataclass
class Feedback:
    decision: Decision
    comments: list[tuple[str, str]]  # (anonymous label, comment)


def feedback(proposal: Proposal, user: Any) -> Feedback:
    """The applicant's view once a decision is released (`policy.can_see_feedback`): the latest
    released decision and the reviewers' submitted comments labelled "Reviewer 1, 2..." (never
    names). 404 for everyone else and before the release."""
    require(policy.can_see_feedback(user, proposal))
    decision = facts.latest_released_decision(proposal)
    assert decision is not None  # the policy checked it
    reviews = db.session.execute(
        sa.select(Review).join(Assignment, Assignment.id == Review.assignment_id)
        .join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .where(Assignment.proposal_id == proposal.id, Assignment.waived_at.is_(None),
               Review.status == ReviewStatus.SUBMITTED)
        .order_by(ReviewRound.id, Review.id)).scalars()
    comments = [(_("Reviewer %(n)d", n=i), r.comment) for i, r in enumerate(reviews, start=1) if r.comment]
    return Feedback(decision=decision, comments=comments)
