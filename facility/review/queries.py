"""Every read the review pages and the API need: one function each, used by both.

Loaders raise `NotFound` (404): `get_visible_challenge` and `get_visible_assignment` apply who
may know the object exists; `get_round`, `get_assignment` and `get_proposal` load what staff
act on, the action's policy then answering 403 to anyone else.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Organization, Role, User
from facility.accounts.policy import is_auditor
from facility.challenges.models import Challenge, Criterion
from facility.core.errors import NotFound, PermissionDenied
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.models import COMPETING_STATUSES, Proposal
from facility.review import facts, policy
from facility.review.blind import blind_titles, blind_view
from facility.review.models import (
    Appeal,
    AppealStatus,
    Assignment,
    Conflict,
    ConflictReason,
    Decision,
    PanelInvitation,
    PanelMember,
    PanelRole,
    Review,
    ReviewerAffiliation,
    ReviewRound,
    ReviewStatus,
    RoundKind,
)

# --- loaders -----------------------------------------------------------------------------------------


def get_visible_challenge(user: Any, challenge_id: int) -> Challenge:
    """The challenge, when the caller may see it (published ones: anyone; others: the city's
    officials, staff, and whoever sits on its panel)."""
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or not policy.may_know_challenge(user, challenge):
        raise NotFound(_("There is no such challenge."))
    return challenge


def get_round(round_id: int) -> ReviewRound:
    round_ = db.session.get(ReviewRound, round_id)
    if round_ is None:
        raise NotFound(_("There is no such review round."))
    return round_


def get_assignment(assignment_id: int) -> Assignment:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(_("No such assignment."))
    return assignment


def get_visible_assignment(user: Any, assignment_id: int) -> Assignment:
    """The reviewer's own assignment, as `policy.can_open_assignment` allows; 404 otherwise."""
    assignment = get_assignment(assignment_id)
    require(policy.can_open_assignment(user, assignment))
    return assignment


def get_proposal(proposal_id: int, *, challenge: Challenge | None = None) -> Proposal:
    """The proposal (of `challenge`, when given)."""
    proposal = db.session.execute(sa.select(Proposal).where(Proposal.id == proposal_id)
                                  .options(selectinload(Proposal.snapshots))).scalar_one_or_none()
    if proposal is None or (challenge is not None and proposal.challenge_id != challenge.id):
        raise NotFound(_("No such proposal."))
    return proposal


def get_appeal(user: Any, appeal_id: int) -> Appeal:
    """The appeal, for whoever may read it (`policy.can_see_appeal`); 404 for everyone else."""
    appeal = db.session.execute(sa.select(Appeal).where(Appeal.id == appeal_id).options(
        joinedload(Appeal.proposal), joinedload(Appeal.decision))).scalar_one_or_none()
    if appeal is None:
        raise NotFound(_("No such appeal."))
    require(policy.can_see_appeal(user, appeal))
    return appeal


def appeals_query() -> sa.Select:
    """Every appeal, those awaiting a decision first, then the newest (with proposal and organisation)."""
    return (sa.select(Appeal)
            .options(joinedload(Appeal.proposal), joinedload(Appeal.organization))
            .order_by(sa.case((Appeal.status == AppealStatus.SUBMITTED, 0), else_=1),
                      Appeal.created_at.desc(), Appeal.id.desc()))


# --- rounds ------------------------------------------------------------------------------------------------


def _round_order(round_: ReviewRound) -> int:
    return list(RoundKind).index(round_.kind)


def rounds_of(challenge: Challenge) -> list[ReviewRound]:
    rows = db.session.execute(sa.select(ReviewRound).where(ReviewRound.challenge_id == challenge.id)).scalars()
    return sorted(rows, key=_round_order)


def round_of(challenge: Challenge, kind: RoundKind) -> ReviewRound | None:
    return db.session.execute(
        sa.select(ReviewRound).where(ReviewRound.challenge_id == challenge.id, ReviewRound.kind == kind)
    ).scalar_one_or_none()


def round_proposals(round_: ReviewRound, ids: Sequence[int] | None = None) -> list[Proposal]:
    """The proposals a round reviews: every competing one; a shortlist round only the shortlisted (of
    `ids` only, when given: a page of the ranking loads its own rows, not the round's thousand)."""
    query = sa.select(Proposal).where(Proposal.challenge_id == round_.challenge_id,
                                      Proposal.status.in_(facts.round_statuses(round_)))
    if ids is not None:
        query = query.where(Proposal.id.in_(list(ids)))
    return list(db.session.execute(query.order_by(Proposal.id)).scalars())


def round_proposal_ids(round_: ReviewRound) -> list[int]:
    """The ids of `round_proposals`, without loading the proposals."""
    return list(db.session.execute(
        sa.select(Proposal.id).where(Proposal.challenge_id == round_.challenge_id,
                                     Proposal.status.in_(facts.round_statuses(round_))).order_by(Proposal.id)
    ).scalars())


def criteria_of(challenge: Challenge) -> list[Criterion]:
    return list(db.session.execute(
        sa.select(Criterion).where(Criterion.challenge_id == challenge.id).order_by(Criterion.position)).scalars())


def get_ranking_round(user: Any, challenge: Challenge, kind: str) -> ReviewRound:
    """The scored round whose ranking the caller asks for: 404 for another kind (and, for fund
    managers, a round not created yet), 403 when `policy.can_see_ranking` refuses."""
    if kind not in (RoundKind.SCORING.value, RoundKind.SHORTLIST.value):
        raise NotFound(_("This challenge has no such round yet."))
    round_ = round_of(challenge, RoundKind(kind))
    if round_ is None:  # those who run the panel learn it does not exist yet; others are refused
        if policy.can_manage_panel(user, challenge) is None or is_auditor(user):
            raise NotFound(_("This challenge has no such round yet."))
        raise PermissionDenied(
            _("The ranking is for fund managers, and for the city's officials after the round closes."))
    require(policy.can_see_ranking(user, round_))
    return round_


def applicant_names(challenge: Challenge) -> dict[int, str]:
    """Proposal id -> applicant organisation name, for the ranking (never shown to reviewers)."""
    return dict(db.session.execute(
        sa.select(Proposal.id, Organization.name).join(Organization, Organization.id == Proposal.organization_id)
        .where(Proposal.challenge_id == challenge.id)).all())


# --- the reviewer's queue -------------------------------------------------------------------------------


def seated_reviewer() -> Any:
    return sa.and_(PanelMember.challenge_id == ReviewRound.challenge_id,
                   PanelMember.user_id == Assignment.reviewer_id, PanelMember.role == PanelRole.REVIEWER)


def queue_query(user: User, round_id: int | None = None) -> sa.Select[Any]:
    """The reviewer's assignments (not waived), rounds and reviews loaded with them (callers ask
    `policy.can_see_queue` first)."""
    query = (sa.select(Assignment)
             .join(ReviewRound, ReviewRound.id == Assignment.round_id)
             .join(PanelMember, seated_reviewer())
             .where(Assignment.reviewer_id == user.id, Assignment.waived_at.is_(None))
             .options(joinedload(Assignment.round).joinedload(ReviewRound.challenge),
                      joinedload(Assignment.proposal), joinedload(Assignment.review))
             .order_by(ReviewRound.challenge_id, Assignment.round_id, Assignment.id))
    if round_id is not None:
        query = query.where(Assignment.round_id == round_id)
    return query


def queue_progress(user: User) -> tuple[int, int]:
    """(submitted, total) over the reviewer's assignments."""
    total, done = db.session.execute(
        sa.select(sa.func.count(Assignment.id),
                  sa.func.count(Review.id).filter(Review.status == ReviewStatus.SUBMITTED))
        .select_from(Assignment).outerjoin(Review, Review.assignment_id == Assignment.id)
        .join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .join(PanelMember, seated_reviewer())
        .where(Assignment.reviewer_id == user.id, Assignment.waived_at.is_(None))
    ).one()
    return int(done or 0), int(total or 0)


def with_blind_titles(assignments: list[Assignment]) -> dict[int, str]:
    """Blind titles of a page of the queue, by proposal id."""
    return blind_titles([a.proposal for a in assignments])


def next_assignment(assignment: Assignment) -> Assignment | None:
    """The reviewer's next unfinished assignment after this one (for "save and next")."""
    candidate: Assignment
    for candidate in db.session.execute(queue_query(assignment.reviewer)).unique().scalars():
        if candidate.id != assignment.id and not (candidate.review and candidate.review.is_submitted) \
                and candidate.round.is_open:
            return candidate
    return None


def challenges_of_reviewer(user: User) -> list[Challenge]:
    """The challenges a reviewer sits on (reviewers see only these)."""
    return list(db.session.execute(
        sa.select(Challenge).join(PanelMember, PanelMember.challenge_id == Challenge.id)
        .where(PanelMember.user_id == user.id, PanelMember.role == PanelRole.REVIEWER)
        .order_by(Challenge.id)
    ).unique().scalars())


def my_assignment_on(user: Any, proposal: Proposal, kind: str | None) -> Assignment:
    """The caller's assignment on the proposal that they may open: in the round asked for, else
    the open one (else the latest)."""
    query = (sa.select(Assignment).join(ReviewRound, ReviewRound.id == Assignment.round_id)
             .where(Assignment.proposal_id == proposal.id, Assignment.reviewer_id == user.id))
    if kind:
        query = query.where(ReviewRound.kind == RoundKind(kind))
    candidates = [a for a in db.session.execute(query.order_by(Assignment.id)).scalars()
                  if policy.can_open_assignment(user, a) is None]
    if not candidates:
        raise NotFound(_("No such proposal among your assignments."))
    open_ones = [a for a in candidates if a.round.is_open]
    return (open_ones or candidates)[-1]


@dataclass
class ReviewerPanel:
    """A panel as one of its reviewers sees it: blind titles and the conflicts found."""

    challenge: Challenge
    proposals: list[Proposal]
    titles: dict[int, str]
    conflicts: dict[tuple[int, int], list[ConflictReason]]


def reviewer_panel(user: Any, challenge: Challenge) -> ReviewerPanel:
    """The competing proposals of a panel the reviewer sits on (`policy.can_see_reviewer_panel`)."""
    require(policy.can_see_reviewer_panel(user, challenge))
    proposals = list(db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id == challenge.id, Proposal.status.in_(COMPETING_STATUSES))
        .order_by(Proposal.id)).scalars())
    return ReviewerPanel(challenge, proposals, blind_titles(proposals), facts.detect_conflicts(proposals, [user]))


# --- one review -------------------------------------------------------------------------------------------


def others_reviews(assignment: Assignment, user: User) -> list[Review] | None:
    """Other reviewers' submitted reviews of the same proposal in the same round, or None while they
    stay hidden: until one's own review is submitted, and only if the round allows it."""
    own = assignment.review
    if not assignment.round.can_see_others or own is None or not own.is_submitted:
        return None
    return list(db.session.execute(
        sa.select(Review).join(Assignment, Assignment.id == Review.assignment_id)
        .where(Assignment.round_id == assignment.round_id, Assignment.proposal_id == assignment.proposal_id,
               Assignment.id != assignment.id, Assignment.waived_at.is_(None),
               Review.status == ReviewStatus.SUBMITTED)
        .options(selectinload(Review.scores)).order_by(Review.id)
    ).scalars())


@dataclass
class ReviewPage:
    """What the reviewer gets on one assignment: the blind proposal, the rubric, their review, the others'."""

    assignment: Assignment
    round: ReviewRound
    proposal: dict[str, Any]
    criteria: list[Criterion]
    review: Review | None
    others: list[Review] | None


def review_page(user: Any, assignment: Assignment) -> ReviewPage:
    round_ = assignment.round
    return ReviewPage(assignment=assignment, round=round_, proposal=blind_view(assignment.proposal),
                      criteria=list(round_.challenge.criteria) if round_.is_scored else [],
                      review=assignment.review, others=others_reviews(assignment, user))


# --- the panel page (fund managers and observers) ------------------------------------------------------------


@dataclass
class PanelPage:
    challenge: Challenge
    manager: bool
    members: list[PanelMember]
    invitations: list[PanelInvitation]
    rounds: list[ReviewRound]
    by_round: dict[int, list[Assignment]]
    proposals: list[Proposal]
    reviewers: list[User]
    conflicts: dict[tuple[int, int], list[ConflictReason]] = field(default_factory=dict)
    declared: dict[tuple[int, int], Conflict] = field(default_factory=dict)
    officials: list[User] = field(default_factory=list)
    outstanding: int = 0
    # Submitted proposals awaiting a decision with no reviewer (they hold the release back; managers only).
    without_reviewers: tuple[int, list[Proposal]] = (0, [])


def _assignments_by_round(challenge: Challenge) -> dict[int, list[Assignment]]:
    assignments = db.session.execute(
        sa.select(Assignment).join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .where(ReviewRound.challenge_id == challenge.id)
        .options(joinedload(Assignment.reviewer), joinedload(Assignment.proposal), joinedload(Assignment.review))
        .order_by(Assignment.round_id, Assignment.proposal_id, Assignment.id)).unique().scalars()
    by_round: dict[int, list[Assignment]] = {}
    for a in assignments:
        by_round.setdefault(a.round_id, []).append(a)
    return by_round


def _addable_officials(challenge: Challenge, members: list[PanelMember]) -> list[User]:
    """The city's officials not yet on the panel (who can be added as observers)."""
    seated = {m.user_id for m in members}
    return [u for u in db.session.execute(
        sa.select(User).where(User.organization_id == challenge.city.organization_id).order_by(User.id)).scalars()
        if u.has_role(Role.CITY_OFFICIAL) and u.id not in seated]


def panel_page(user: Any, challenge: Challenge) -> PanelPage:
    """The panel's members, invitations, rounds and assignments; for fund managers also the
    conflicts and the officials who could observe. Refused as `policy.can_follow_panel` says."""
    require(policy.can_follow_panel(user, challenge))
    manager = policy.can_manage_panel(user, challenge) is None
    members = list(db.session.execute(
        sa.select(PanelMember).where(PanelMember.challenge_id == challenge.id)
        .options(joinedload(PanelMember.user)).order_by(PanelMember.id)).scalars())
    invitations = list(db.session.execute(
        sa.select(PanelInvitation).where(PanelInvitation.challenge_id == challenge.id,
                                         PanelInvitation.accepted_at.is_(None)).order_by(PanelInvitation.id)).scalars())
    proposals = list(db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id == challenge.id, Proposal.status.in_(COMPETING_STATUSES))
        .options(joinedload(Proposal.organization)).order_by(Proposal.id)).scalars())
    reviewers = [m.user for m in members if m.role == PanelRole.REVIEWER]
    page = PanelPage(challenge=challenge, manager=manager, members=members, invitations=invitations,
                     rounds=rounds_of(challenge), by_round=_assignments_by_round(challenge), proposals=proposals,
                     reviewers=reviewers, outstanding=facts.outstanding_assignments(challenge))
    if manager:
        page.without_reviewers = facts.proposals_without_reviewers(challenge)
        page.conflicts = facts.detect_conflicts(proposals, reviewers)
        page.declared = {(c.proposal_id, c.reviewer_id): c for c in db.session.execute(
            sa.select(Conflict).where(Conflict.proposal_id.in_([p.id for p in proposals]))).scalars()}
        page.officials = _addable_officials(challenge, members)
    return page


# --- reminders ---

def pending_reviews_due(now: datetime, *, soon: timedelta, late: timedelta) -> list[tuple[ReviewRound, User, int]]:
    """(round, reviewer, reviews not submitted) for rounds taking reviews whose deadline is at most `soon`
    away or passed at most `late` ago, not closed early; waived assignments and withdrawn proposals do not count."""
    pending = (
        sa.select(Assignment.round_id, Assignment.reviewer_id, sa.func.count(Assignment.id).label("pending"))
        .join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .join(Proposal, Proposal.id == Assignment.proposal_id)
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(Assignment.waived_at.is_(None), ReviewRound.can_review.is_(True), ReviewRound.closed_at.is_(None),
               ReviewRound.opens_at <= now, ReviewRound.closes_at <= now + soon, ReviewRound.closes_at > now - late,
               Proposal.status.in_(COMPETING_STATUSES),
               sa.or_(Review.id.is_(None), Review.status == ReviewStatus.DRAFT))
        .group_by(Assignment.round_id, Assignment.reviewer_id)
        .order_by(Assignment.round_id, Assignment.reviewer_id)
    )
    rows = db.session.execute(pending).all()
    rounds = {r.id: r for r in db.session.execute(
        sa.select(ReviewRound).where(ReviewRound.id.in_({row.round_id for row in rows}))
        .options(joinedload(ReviewRound.challenge))).scalars()}
    people = {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_({row.reviewer_id for row in rows}), User.active.is_(True))).scalars()}
    return [(rounds[row.round_id], people[row.reviewer_id], int(row.pending))
            for row in rows if row.reviewer_id in people]


def pending_decisions(challenge: Challenge) -> list[Decision]:
    """The challenge's decisions prepared and not yet released, with their proposals (the release's confirmation)."""
    return facts.unreleased_decisions(challenge)


# --- declared affiliations -------------------------------------------------------------------------


def affiliations_query(user: User) -> sa.Select[Any]:
    """The reviewer's declared affiliations: current ones first, then by end year, latest first."""
    return (sa.select(ReviewerAffiliation).where(ReviewerAffiliation.reviewer_id == user.id)
            .order_by(ReviewerAffiliation.to_year.is_(None).desc(), ReviewerAffiliation.to_year.desc(),
                      ReviewerAffiliation.id.desc()))


def get_own_affiliation(user: Any, affiliation_id: int) -> ReviewerAffiliation:
    """One of the caller's own affiliations; NotFound for anyone else's (it may not be known to exist)."""
    affiliation = db.session.get(ReviewerAffiliation, affiliation_id)
    if affiliation is None:
        raise NotFound(_("No such affiliation."))
    require(policy.can_remove_affiliation(user, affiliation))
    return affiliation


def get_panel_reviewer(user: Any, challenge_id: int, user_id: int) -> PanelMember:
    """A reviewer's seat on the panel of a challenge the caller may see (NotFound otherwise)."""
    challenge = get_visible_challenge(user, challenge_id)
    member = db.session.execute(sa.select(PanelMember).where(
        PanelMember.challenge_id == challenge.id, PanelMember.user_id == user_id,
        PanelMember.role == PanelRole.REVIEWER)).scalar_one_or_none()
    if member is None:
        raise NotFound(_("No such panel member."))
    return member
