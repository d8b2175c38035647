"""How far the review work has got, for the dashboards: panels short of reviewers, rounds closing,
rankings ready, decisions to release, a reviewer's rounds, a city's challenges and an applicant's
standing. Each figure is one query (an aggregate or a bounded list), whatever the number of rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from facility.accounts.models import User
from facility.challenges.models import Challenge, ChallengeStatus, Phase
from facility.core.dashboard import Waiting, waiting
from facility.core.models import utcnow
from facility.extensions import db
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus
from facility.review.models import (
    SCORED_KINDS,
    Assignment,
    Decision,
    DecisionKind,
    PanelMember,
    PanelRole,
    Review,
    ReviewRound,
    ReviewStatus,
    RoundKind,
)
from facility.review.queries import seated_reviewer

ENOUGH_REVIEWERS = 3
"""A panel with fewer reviewers than this cannot give each proposal the default three reviews."""
CLOSING_SOON = timedelta(days=7)


def _reviewers_on(challenge_id: Any) -> Any:
    return (sa.select(sa.func.count(PanelMember.id))
            .where(PanelMember.challenge_id == challenge_id, PanelMember.role == PanelRole.REVIEWER).scalar_subquery())


def _round_closed(now: datetime) -> Any:
    return sa.or_(ReviewRound.closed_at.is_not(None), ReviewRound.closes_at <= now)


def panels_short_of_reviewers() -> Waiting:
    """Published challenges whose panel has fewer than `ENOUGH_REVIEWERS` reviewers, the first to close first."""
    return waiting(Challenge.id, Challenge.closes_at, Challenge.status == ChallengeStatus.PUBLISHED,
                   _reviewers_on(Challenge.id) < ENOUGH_REVIEWERS)


def rounds_closing_soon() -> Waiting:
    """Open review rounds of published challenges closing within `CLOSING_SOON` (first_id: the challenge)."""
    now = utcnow()
    return waiting(ReviewRound.challenge_id, ReviewRound.closes_at, ReviewRound.closed_at.is_(None),
                   ReviewRound.closes_at > now, ReviewRound.closes_at <= now + CLOSING_SOON,
                   Challenge.status == ChallengeStatus.PUBLISHED,
                   joins=((Challenge, Challenge.id == ReviewRound.challenge_id),))


def rankings_ready() -> Waiting:
    """Published challenges with a closed scored round and no decision prepared yet: the ranking awaits."""
    no_decision = ~sa.exists().where(Decision.challenge_id == ReviewRound.challenge_id)
    return waiting(ReviewRound.challenge_id, ReviewRound.closes_at, ReviewRound.kind.in_(SCORED_KINDS),
                   _round_closed(utcnow()), no_decision, Challenge.status == ChallengeStatus.PUBLISHED,
                   joins=((Challenge, Challenge.id == ReviewRound.challenge_id),))


def decisions_to_release() -> Waiting:
    """Prepared decisions not yet released (first_id: the challenge whose oldest one waits longest)."""
    return waiting(Decision.challenge_id, Decision.created_at, Decision.released_at.is_(None))


@dataclass(frozen=True)
class RoundProgress:
    """A reviewer's work in one round: n of m submitted, and the round's deadline."""

    challenge_id: int
    challenge_title: str
    round_kind: RoundKind
    closes_at: datetime
    done: int
    total: int


def reviewer_rounds(user: User, *, limit: int = 10) -> list[RoundProgress]:
    """The reviewer's rounds with assignments, the nearest deadline first (one grouped query)."""
    submitted = sa.func.count(Review.id).filter(Review.status == ReviewStatus.SUBMITTED)
    rows = db.session.execute(
        sa.select(Challenge.id, Challenge.title, ReviewRound.kind, ReviewRound.closes_at,
                  submitted, sa.func.count(Assignment.id))
        .select_from(Assignment).join(ReviewRound, ReviewRound.id == Assignment.round_id)
        .join(PanelMember, seated_reviewer()).join(Challenge, Challenge.id == ReviewRound.challenge_id)
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(Assignment.reviewer_id == user.id, Assignment.waived_at.is_(None))
        .group_by(Challenge.id, Challenge.title, ReviewRound.id, ReviewRound.kind, ReviewRound.closes_at)
        .order_by(ReviewRound.closes_at, ReviewRound.id).limit(limit)).all()
    return [RoundProgress(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]


def assignments_not_started(user: User) -> Waiting:
    """Assignments in open rounds with no review begun: read them, review or declare a conflict first."""
    now = utcnow()
    return waiting(Assignment.id, ReviewRound.closes_at, Assignment.reviewer_id == user.id,
                   Assignment.waived_at.is_(None), ReviewRound.closed_at.is_(None), ReviewRound.closes_at > now,
                   ~sa.exists().where(Review.assignment_id == Assignment.id),
                   joins=((ReviewRound, ReviewRound.id == Assignment.round_id), (PanelMember, seated_reviewer())))


@dataclass(frozen=True)
class ChallengeProgress:
    """One of a city's challenges on its officials' dashboard: stage, proposals, review progress."""

    challenge: Challenge
    proposals: int
    reviews_done: int
    reviews_total: int
    has_rounds: bool
    decisions_released: bool

    @property
    def stage(self) -> str:
        """draft, pending_approval, open (or upcoming), closed, in_review or finished."""
        status, phase = self.challenge.status, self.challenge.phase
        if status != ChallengeStatus.PUBLISHED:
            return str(status.value)
        if phase != Phase.CLOSED:
            return str(phase.value) if phase else "open"
        return "in_review" if self.has_rounds and not self.decisions_released else "closed"


def city_challenges(city_id: int, *, limit: int = 20) -> list[ChallengeProgress]:
    """The city's challenges, newest first, with proposals submitted and reviews in (one query)."""
    proposals = (sa.select(sa.func.count(Proposal.id))
                 .where(Proposal.challenge_id == Challenge.id, Proposal.status.in_(COMPETING_STATUSES))
                 .scalar_subquery())
    live = sa.and_(ReviewRound.challenge_id == Challenge.id, Assignment.waived_at.is_(None))
    total = (sa.select(sa.func.count(Assignment.id)).join(ReviewRound, ReviewRound.id == Assignment.round_id)
             .where(live).scalar_subquery())
    done = (sa.select(sa.func.count(Assignment.id)).join(ReviewRound, ReviewRound.id == Assignment.round_id)
            .join(Review, Review.assignment_id == Assignment.id)
            .where(live, Review.status == ReviewStatus.SUBMITTED).scalar_subquery())
    rounds = sa.exists().where(ReviewRound.challenge_id == Challenge.id)
    released = sa.exists().where(Decision.challenge_id == Challenge.id, Decision.released_at.is_not(None))
    rows = db.session.execute(
        sa.select(Challenge, proposals, done, total, rounds, released)
        .where(Challenge.city_id == city_id).order_by(Challenge.id.desc()).limit(limit)).all()
    return [ChallengeProgress(r[0], int(r[1]), int(r[2]), int(r[3]), bool(r[4]), bool(r[5])) for r in rows]


@dataclass(frozen=True)
class ProposalStanding:
    """An applicant's proposal and its real state: the latest released decision, if any."""

    proposal: Proposal
    decision: DecisionKind | None


def organization_standings(organization_id: int, *, limit: int = 20) -> list[ProposalStanding]:
    """The organisation's proposals past draft, the latest changed first, each with its latest released
    decision (a correlated subquery: one query however many rows)."""
    latest = (sa.select(Decision.kind).where(Decision.proposal_id == Proposal.id, Decision.released_at.is_not(None))
              .order_by(Decision.released_at.desc(), Decision.id.desc()).limit(1).scalar_subquery())
    rows = db.session.execute(
        sa.select(Proposal, latest).where(Proposal.organization_id == organization_id,
                                          Proposal.status != ProposalStatus.DRAFT)
        .options(joinedload(Proposal.challenge)).order_by(Proposal.updated_at.desc(), Proposal.id.desc())
        .limit(limit)).all()
    return [ProposalStanding(r[0], DecisionKind(r[1]) if r[1] is not None else None) for r in rows]
