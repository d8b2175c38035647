"""Assignment: which panel reviewer reviews which proposal in a round; waiving an assignment.

The balancing itself (min-cost flow) is the pure algorithm in `review.matching`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.errors import Conflict as ConflictError
from facility.core.errors import ValidationFailed
from facility.core.inputs import REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.models import Proposal
from facility.review import facts, policy
from facility.review.conflicts import drop_assignments
from facility.review.matching import REASON_CONFLICTS, AssignmentResult, assign_reviewers
from facility.review.models import Assignment, ReviewRound
from facility.review.queries import round_proposals

MAX_PER_PROPOSAL = 20


@dataclass
class AssignmentOutcome:
    round: ReviewRound
    per_proposal: int
    added: int
    loads: dict[int, int]  # reviewer id -> proposals in this round
    shortfalls: dict[int, int]  # proposal id -> reviewers missing
    message: str  # honest, translated summary
    details: list[str] = field(default_factory=list)


def _existing(round_: ReviewRound, conflicts: set[tuple[int, int]]) -> dict[int, set[int]]:
    """The round's current assignments by proposal; waived pairs join `conflicts` (never assigned again)."""
    existing: dict[int, set[int]] = {}
    for row in db.session.execute(sa.select(Assignment).where(Assignment.round_id == round_.id)).scalars():
        if row.is_waived:
            conflicts.add((row.proposal_id, row.reviewer_id))
        else:
            existing.setdefault(row.proposal_id, set()).add(row.reviewer_id)
    return existing


def _explain(result: AssignmentResult, proposals: list[Proposal], per_proposal: int) -> tuple[str, list[str]]:
    """The honest summary and, per proposal that cannot reach N, why."""
    titles = {p.id: p.title for p in proposals}
    details = []
    for proposal_id, shortfall in result.reasons.items():
        if shortfall.reason == REASON_CONFLICTS:
            details.append(ngettext("“%(title)s” (no. %(id)d): only %(n)d non-conflicted reviewer for %(places)d places.",
                                    "“%(title)s” (no. %(id)d): only %(n)d non-conflicted reviewers for %(places)d places.",
                                    shortfall.eligible, title=titles[proposal_id], id=proposal_id, n=shortfall.eligible,
                                    places=per_proposal))
        else:
            details.append(_("“%(title)s” (no. %(id)d): its non-conflicted reviewers have no capacity left.",
                             title=titles[proposal_id], id=proposal_id))
    if not proposals:
        message = _("There are no proposals to assign in this round.")
    elif result.reasons:
        message = ngettext("%(n)d of %(total)d proposal cannot reach %(per)d reviewers.",
                           "%(n)d of %(total)d proposals cannot reach %(per)d reviewers.",
                           len(proposals), n=len(result.reasons), total=len(proposals), per=per_proposal)
    else:
        message = ngettext("All %(total)d proposals have %(per)d reviewer.",
                           "All %(total)d proposals have %(per)d reviewers.", per_proposal,
                           total=len(proposals), per=per_proposal)
    return message, details


def auto_assign(*, actor: User, round_: ReviewRound, per_proposal: int) -> AssignmentOutcome:
    """Rule: every proposal of the round gets `per_proposal` panel reviewers, never a conflicted
    pair, loads as even as possible (min-cost flow in `review.matching`); existing assignments
    stay (conflicted ones are removed) and an honest message says where N cannot be met."""
    require(policy.can_assign(actor, round_))
    if isinstance(per_proposal, bool) or not isinstance(per_proposal, int) or not 1 <= per_proposal <= MAX_PER_PROPOSAL:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"reviewers_per_proposal": [_("Give a whole number from 1 to 20.")]})
    require(policy.can_assign_automatically(actor, round_))
    proposals = round_proposals(round_)
    reviewers = facts.panel_reviewers(round_.challenge)
    if not reviewers:
        raise ConflictError(_("The panel has no reviewers yet."))
    conflicts = set(facts.detect_conflicts(proposals, reviewers))
    existing = _existing(round_, conflicts)
    result = assign_reviewers([p.id for p in proposals], [r.id for r in reviewers], per_proposal,
                              conflicts=conflicts, existing=existing)
    added = 0
    for proposal_id, reviewer_ids in result.added.items():
        for reviewer_id in reviewer_ids:
            db.session.add(Assignment(round_id=round_.id, proposal_id=proposal_id, reviewer_id=reviewer_id,
                                      created_by_id=actor.id))
            added += 1
    for proposal_id, reviewer_id in result.dropped:
        drop_assignments(proposal_id=proposal_id, reviewer_id=reviewer_id, round_id=round_.id)
    db.session.flush()
    message, details = _explain(result, proposals, per_proposal)
    new = Counter(reviewer_id for reviewer_ids in result.added.values() for reviewer_id in reviewer_ids)
    notify([r for r in reviewers if r.id in new], "review/assigned", round=round_, counts=new)  # each their own
    record("review.assigned", actor=actor, obj=round_,
           details={"per_proposal": per_proposal, "added": added, "shortfalls": result.shortfalls,
                    "dropped": [list(pair) for pair in result.dropped]})
    return AssignmentOutcome(round=round_, per_proposal=per_proposal, added=added, loads=result.loads,
                             shortfalls=result.shortfalls, message=message, details=details)


def add_assignment(*, actor: User, round_: ReviewRound, proposal: Proposal, reviewer: User) -> Assignment:
    """Rule: a fund manager assigns one panel reviewer to one proposal of the round by hand,
    never a conflicted reviewer and never twice."""
    require(policy.can_assign(actor, round_))
    challenge = round_.challenge
    if proposal.challenge_id != challenge.id or proposal not in round_proposals(round_):
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"proposal_id": [_("That proposal is not reviewed in this round.")]})
    if not facts.is_panel_reviewer(challenge, reviewer):
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"reviewer_id": [_("That person is not a reviewer on this panel.")]})
    if facts.is_conflicted(proposal, reviewer):
        raise ConflictError(_("That reviewer has a conflict of interest with this proposal."))
    duplicate = db.session.execute(sa.select(Assignment.id).where(
        Assignment.round_id == round_.id, Assignment.proposal_id == proposal.id,
        Assignment.reviewer_id == reviewer.id)).first()
    if duplicate is not None:
        raise ConflictError(_("That reviewer is already assigned this proposal in this round."))
    assignment = Assignment(round_id=round_.id, proposal_id=proposal.id, reviewer_id=reviewer.id,
                            created_by_id=actor.id)
    db.session.add(assignment)
    db.session.flush()
    record("review.assignment_added", actor=actor, obj=assignment,
           details={"round_id": round_.id, "proposal_id": proposal.id, "reviewer_id": reviewer.id})
    notify([reviewer], "review/assigned", round=round_, counts={reviewer.id: 1})
    return assignment


def remove_assignment(*, actor: User, assignment: Assignment) -> None:
    """Rule: a fund manager removes an assignment whose review is not submitted."""
    require(policy.can_remove_assignment(actor, assignment))
    record("review.assignment_removed", actor=actor, obj=assignment,
           details={"proposal_id": assignment.proposal_id, "reviewer_id": assignment.reviewer_id})
    db.session.delete(assignment)
    db.session.flush()


def waive_assignment(*, actor: User, assignment: Assignment, reason: str) -> Assignment:
    """Rule: a fund manager waives an outstanding assignment with a reason (audited), so that it
    no longer holds up the release of decisions."""
    refusal = policy.can_waive(actor, assignment)
    if refusal is not None and not refusal.is_state:
        refusal.raise_()  # the role first, then a missing reason, then the assignment's state
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True, multiline=True)
    require(refusal)
    assignment.waived_at = utcnow()
    assignment.waived_by_id = actor.id
    assignment.waive_reason = reason
    db.session.flush()
    record("review.assignment_waived", actor=actor, obj=assignment, details={"reason": assignment.waive_reason})
    return assignment

