"""Demo panels: reviewer1..3@demo.facility on challenges that have submitted proposals, some reviews
finished, some drafts, some not started, so the ranking is alive. Does nothing when there are none."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from facility.accounts.models import User
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus
from facility.review import affiliations, appeals, assignments, decisions, facts, panels, queries, reviews
from facility.review.models import AppealGrounds, Assignment, DecisionKind, ReviewerAffiliation, RoundKind

DEMO_REVIEWERS = ["reviewer1@demo.facility", "reviewer2@demo.facility", "reviewer3@demo.facility"]
MANAGER = "fund.manager@demo.facility"
# A past employer of reviewer1 that applies to nothing in the demo (so no demo assignment changes): its
# proposals, if it had any, would not be assigned to them.
AFFILIATION = {"organization_name": "Makerere University", "website_domain": "mak.ac.ug", "from_year": 2019}
COMMENTS = [
    "Clear problem statement and a realistic pilot; the budget for maintenance is thin.",
    "Strong community involvement. The data-protection plan needs more detail.",
    "Promising, but the milestones are too close together to be credible.",
]


def _user(state: dict[str, Any], email: str) -> User | None:
    user = (state.get("users") or {}).get(email)
    if user is None:
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    return user


def seed(state: dict[str, Any]) -> None:
    manager = _user(state, MANAGER)
    reviewers = [u for u in (_user(state, e) for e in DEMO_REVIEWERS) if u is not None]
    if manager is None or not reviewers:
        return
    db.session.flush()
    challenges = list(db.session.execute(
        sa.select(Challenge).where(Challenge.id.in_(
            sa.select(Proposal.challenge_id).where(Proposal.status.in_(COMPETING_STATUSES))))
        .order_by(Challenge.id).limit(3)).scalars())
    now = utcnow()
    for index, challenge in enumerate(challenges):
        for reviewer in reviewers:
            if facts.panel_membership(challenge, reviewer) is None:
                panels.add_panel_member(actor=manager, challenge=challenge, user=reviewer)
        scoring = queries.round_of(challenge, RoundKind.SCORING)
        if scoring is None:  # every panel has one once a member joins (panels.ensure_rounds)
            continue
        # Demo only: the scoring round is running now, whatever the challenge's dates, so reviews show.
        scoring.opens_at = min(scoring.opens_at, now - timedelta(days=1))
        scoring.closes_at = max(scoring.closes_at, now + timedelta(days=30))
        scoring.can_see_others = True
        outcome = assignments.auto_assign(actor=manager, round_=scoring, per_proposal=min(2, len(reviewers)))
        state.setdefault("review_messages", []).append(outcome.message)
        assigned = db.session.execute(sa.select(Assignment).where(Assignment.round_id == scoring.id)
                                      .order_by(Assignment.id)).scalars().all()
        criteria = list(challenge.criteria)
        for n, assignment in enumerate(assigned):
            if index == 0 and n % 4 == 3:
                continue  # left to do in the first challenge: its ranking shows missing reviews
            scores = {c.id: (3 + (n * 7 + c.position * 3 + assignment.reviewer_id) % 8) for c in criteria}
            reviews.save_review(actor=assignment.reviewer, assignment=assignment, scores=scores,
                                 comment=COMMENTS[n % len(COMMENTS)], submit=not (index == 0 and n % 4 == 2))
    db.session.flush()
    _declare_affiliation(reviewers[0])
    _declined_and_appealed(manager, challenges[1:])


def _declare_affiliation(reviewer: User) -> None:
    declared = db.session.execute(sa.select(ReviewerAffiliation.id).where(
        ReviewerAffiliation.reviewer_id == reviewer.id).limit(1)).scalar_one_or_none()
    if declared is None:
        affiliations.add_affiliation(actor=reviewer, **AFFILIATION, to_year=utcnow().year - 1)
        db.session.flush()


def _declined_and_appealed(manager: User, challenges: list[Challenge]) -> None:
    """One released decline, appealed by the applicant and awaiting an impartial fund manager: on the last
    proposal of the first challenge (after the first, whose reviews are unfinished) whose reviews are all in and
    that keeps other submitted proposals (the grants demo awards the first ones)."""
    for challenge in challenges:
        if facts.outstanding_assignments(challenge) or facts.proposals_without_reviewers(challenge)[0] \
                or facts.pending_decisions(challenge):
            continue
        submitted = list(db.session.execute(sa.select(Proposal).where(
            Proposal.challenge_id == challenge.id, Proposal.status == ProposalStatus.SUBMITTED)
            .order_by(Proposal.id.desc())).scalars())
        proposal = submitted[0] if len(submitted) > 1 else None
        applicant = db.session.execute(sa.select(User).where(
            User.organization_id == proposal.organization_id, User.active).order_by(User.id).limit(1)
        ).scalar_one_or_none() if proposal is not None else None
        if proposal is None or applicant is None:
            continue
        decisions.prepare_decision(actor=manager, proposal=proposal, kind=DecisionKind.DECLINE,
                                   note="Demo: declined, then appealed.")
        decisions.release_decisions(actor=manager, challenge=challenge)
        appeals.submit_appeal(actor=applicant, proposal=proposal, grounds=AppealGrounds.FACTUAL_ERROR,
                              statement="The panel read our maintenance budget as a one-off cost; it is yearly.")
        db.session.flush()
        return
