"""Evaluation panels: members, invitations, conflicts, rounds, assignments, reviews, decisions.

Each enum carries its labels (`core.labels`); the review status has its transition table
beside it (`REVIEW_TRANSITIONS`). Who may do what lives in `review.policy`.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Organization, User, enum_column
from facility.challenges.models import Challenge, Criterion
from facility.core.labels import labelled
from facility.core.models import TimestampMixin, utcnow
from facility.core.states import Transitions
from facility.extensions import db
from facility.proposals.models import Proposal


@labelled({"reviewer": _l("Reviewer"), "observer": _l("Observer")})
class PanelRole(str, enum.Enum):
    REVIEWER = "reviewer"
    OBSERVER = "observer"  # one of the city's officials: follows progress, never scores


class PanelMember(db.Model):
    """A person sitting on a challenge's evaluation panel."""

    __tablename__ = "review_panel_members"
    __table_args__ = (sa.UniqueConstraint("challenge_id", "user_id", name="uq_review_panel_members_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    role: Mapped[PanelRole] = mapped_column(enum_column(PanelRole), default=PanelRole.REVIEWER, nullable=False)
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    challenge: Mapped[Challenge] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class PanelInvitation(db.Model):
    """An e-mailed invitation to join a panel for someone without an account (signed, single-use link)."""

    __tablename__ = "review_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    email: Mapped[str] = mapped_column(sa.String(320), index=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), default="", nullable=False)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    challenge: Mapped[Challenge] = relationship()


@labelled({"declared": _l("declared a conflict of interest"), "abstained": _l("abstained")})
class ConflictKind(str, enum.Enum):
    DECLARED = "declared"  # the reviewer declared a conflict of interest
    ABSTAINED = "abstained"  # the reviewer abstains without a conflict


@labelled({
    "declared": _l("declared a conflict of interest"),
    "abstained": _l("abstained"),
    "member": _l("belongs to the applicant organisation"),
    "domain": _l("same e-mail domain as the applicant's members"),
    "previous": _l("declared a conflict with this organisation before"),
    "affiliation": _l("declared working with the applicant organisation in the last three years"),
    "website": _l("declared or belongs to an organisation with the applicant's website domain"),
})
class ConflictReason(str, enum.Enum):
    """Why a reviewer and a proposal are conflicted: declared, or found automatically."""

    DECLARED = "declared"
    ABSTAINED = "abstained"
    MEMBER = "member"  # the reviewer belongs to the applicant organisation
    DOMAIN = "domain"  # same (non-webmail) e-mail domain as one of the applicant's members
    PREVIOUS = "previous"  # declared a conflict with the same organisation before
    AFFILIATION = "affiliation"  # a recent declared affiliation names the applicant organisation (link or name)
    WEBSITE = "website"  # a recent affiliation's domain, or the reviewer's organisation's, is the applicant's


class Conflict(db.Model):
    """A reviewer's declared conflict (or abstention) on one proposal.

    `organization_id` keeps the applicant organisation so a later proposal of the
    same organisation is detected as conflicted too.
    """

    __tablename__ = "review_conflicts"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "reviewer_id", name="uq_review_conflicts_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), index=True, nullable=False
    )
    reviewer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[ConflictKind] = mapped_column(enum_column(ConflictKind), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    proposal: Mapped[Proposal] = relationship()
    reviewer: Mapped[User] = relationship()
    organization: Mapped[Organization | None] = relationship()


AFFILIATION_YEARS = 3
"""An affiliation counts for conflicts while current or for this many years after it ended."""


class ReviewerAffiliation(db.Model):
    """An organisation a reviewer declares having worked with (`review.affiliations`); recent ones
    (current, or ended within AFFILIATION_YEARS) make its proposals conflicted (`facts.detect_conflicts`)."""

    __tablename__ = "review_affiliations"
    __table_args__ = (
        sa.CheckConstraint("from_year IS NULL OR to_year IS NULL OR from_year <= to_year", name="years_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    organization_name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    website_domain: Mapped[str | None] = mapped_column(sa.String(253))  # lower case, no scheme or "www."
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    from_year: Mapped[int | None] = mapped_column()
    to_year: Mapped[int | None] = mapped_column()  # None: current
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    reviewer: Mapped[User] = relationship()
    organization: Mapped[Organization | None] = relationship()

    @classmethod
    def counting_in(cls, year: int) -> sa.ColumnElement[bool]:
        """The affiliations that count in `year`: current, or ended within AFFILIATION_YEARS before it."""
        return sa.or_(cls.to_year.is_(None), cls.to_year >= year - AFFILIATION_YEARS)


@labelled({"eligibility": _l("Eligibility screening"), "scoring": _l("Scoring"), "shortlist": _l("Shortlist")})
class RoundKind(str, enum.Enum):
    ELIGIBILITY = "eligibility"  # pass/fail with a reason
    SCORING = "scoring"  # rubric scores and a comment
    SHORTLIST = "shortlist"  # a second scoring round on the shortlisted proposals


SCORED_KINDS = (RoundKind.SCORING, RoundKind.SHORTLIST)


class ReviewRound(db.Model):
    """One round of a challenge's review, with its own dates and permissions."""

    __tablename__ = "review_rounds"
    __table_args__ = (
        sa.UniqueConstraint("challenge_id", "kind", name="uq_review_rounds_kind"),
        sa.CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    kind: Mapped[RoundKind] = mapped_column(enum_column(RoundKind), nullable=False)
    opens_at: Mapped[datetime] = mapped_column(nullable=False)
    closes_at: Mapped[datetime] = mapped_column(nullable=False)
    can_review: Mapped[bool] = mapped_column(default=True, nullable=False)
    can_see_others: Mapped[bool] = mapped_column(default=False, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column()  # closed early by a fund manager

    challenge: Mapped[Challenge] = relationship()

    @property
    def is_scored(self) -> bool:
        return self.kind in SCORED_KINDS

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None or utcnow() >= self.closes_at

    @property
    def is_open(self) -> bool:
        """Reviews may be written: allowed, between the dates, not closed early."""
        return self.can_review and self.opens_at <= utcnow() and not self.is_closed


class Assignment(db.Model):
    """A reviewer assigned one proposal in one round; a fund manager may waive it (with a reason)."""

    __tablename__ = "review_assignments"
    __table_args__ = (
        sa.UniqueConstraint("round_id", "proposal_id", "reviewer_id", name="uq_review_assignments_triple"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("review_rounds.id", ondelete="CASCADE"), nullable=False)
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), index=True, nullable=False
    )
    reviewer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    waived_at: Mapped[datetime | None] = mapped_column()
    waived_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    waive_reason: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)

    round: Mapped[ReviewRound] = relationship()
    proposal: Mapped[Proposal] = relationship()
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    review: Mapped[Review | None] = relationship(
        back_populates="assignment", uselist=False, cascade="all, delete-orphan"
    )

    @property
    def is_waived(self) -> bool:
        return self.waived_at is not None

    @property
    def is_done(self) -> bool:
        """In (submitted) or explicitly waived: no longer holds up the decisions."""
        return self.is_waived or (self.review is not None and self.review.is_submitted)


@labelled({"draft": _l("Draft"), "submitted": _l("Submitted")}, tones={"draft": "waiting", "submitted": "good"})
class ReviewStatus(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


# A review is written as a draft (saved as often as the reviewer likes, while its round is open)
# and submitted once; a submitted review is final.
REVIEW_TRANSITIONS = Transitions(ReviewStatus, {
    ReviewStatus.DRAFT: {ReviewStatus.SUBMITTED},
    ReviewStatus.SUBMITTED: set(),
})


class Review(TimestampMixin, db.Model):
    """A reviewer's work on one assignment: rubric scores (or eligibility) and a comment.

    `weighted_points` keeps the review's weighted total in hundredths of a point
    (``sum(score * weight)``, 0..1000, see `review.statistics.weighted_hundredths`), set by
    `reviews.save_review` in the same transaction as the scores when a scored review is
    submitted; NULL for drafts, eligibility reviews and anything incomplete. The ranking reads
    it instead of the score rows (the rubric is fixed once a challenge leaves draft).
    """

    __tablename__ = "reviews"
    __table_args__ = (
        sa.CheckConstraint(
            "weighted_points IS NULL OR (status = 'submitted' AND weighted_points >= 0)",
            name="weighted_points_when_submitted",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("review_assignments.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    status: Mapped[ReviewStatus] = mapped_column(
        enum_column(ReviewStatus), default=ReviewStatus.DRAFT, index=True, nullable=False
    )
    eligible: Mapped[bool | None] = mapped_column()  # eligibility rounds: pass (True) / fail (False)
    comment: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column()
    weighted_points: Mapped[int | None] = mapped_column()  # hundredths of a point; NULL unless submitted and complete

    assignment: Mapped[Assignment] = relationship(back_populates="review")
    scores: Mapped[list[Score]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="Score.criterion_id"
    )

    @property
    def is_submitted(self) -> bool:
        return self.status == ReviewStatus.SUBMITTED

    @property
    def score_map(self) -> dict[int, int]:
        return {s.criterion_id: s.score for s in self.scores}


class Score(db.Model):
    """One rubric criterion scored 0..10."""

    __tablename__ = "review_scores"
    __table_args__ = (sa.CheckConstraint("score >= 0 AND score <= 10", name="score_range"),)

    review_id: Mapped[int] = mapped_column(sa.ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True)
    criterion_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenge_criteria.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column(nullable=False)

    review: Mapped[Review] = relationship(back_populates="scores")
    criterion: Mapped[Criterion] = relationship()


# The texts read in sentences ("Your proposal was shortlisted on ...") and in the e-mail.
@labelled({"shortlist": _l("shortlisted"), "award_recommendation": _l("recommended for an award"),
           "decline": _l("declined")},
          tones={"shortlist": "good", "award_recommendation": "good", "decline": "bad"})
class DecisionKind(str, enum.Enum):
    SHORTLIST = "shortlist"
    AWARD_RECOMMENDATION = "award_recommendation"
    DECLINE = "decline"


class Decision(db.Model):
    """The panel's outcome for one proposal: prepared as pending, released with all the others.

    At most one pending decision per proposal (the service replaces it); released ones stay as history.
    """

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), index=True, nullable=False
    )
    kind: Mapped[DecisionKind] = mapped_column(enum_column(DecisionKind), nullable=False)
    note: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    released_at: Mapped[datetime | None] = mapped_column()
    released_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    set_aside_at: Mapped[datetime | None] = mapped_column()  # an upheld appeal set it aside (`review.appeals`)

    proposal: Mapped[Proposal] = relationship()

    @property
    def is_released(self) -> bool:
        return self.released_at is not None

    @property
    def is_set_aside(self) -> bool:
        return self.set_aside_at is not None


@labelled({"procedural_error": _l("Procedural error"),
           "undeclared_conflict": _l("Undeclared conflict of interest"),
           "factual_error": _l("Factual error")})
class AppealGrounds(str, enum.Enum):
    """What an applicant may ask reconsideration on."""

    PROCEDURAL_ERROR = "procedural_error"
    UNDECLARED_CONFLICT = "undeclared_conflict"
    FACTUAL_ERROR = "factual_error"


@labelled({"submitted": _l("Awaiting a decision"), "upheld": _l("Upheld"), "dismissed": _l("Dismissed"),
           "withdrawn": _l("Withdrawn by the applicant")},
          tones={"submitted": "waiting", "upheld": "good", "dismissed": "bad", "withdrawn": "neutral"})
class AppealStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    UPHELD = "upheld"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"


# An appeal is submitted by the applicant, then decided once by a fund manager who took no part in the
# decision: upheld (the decision is set aside and the proposal reviewed again) or dismissed; or the applicant
# withdraws it before then. All three are final (a decision is appealed at most once, so a withdrawn appeal
# is not made again).
APPEAL_TRANSITIONS = Transitions(AppealStatus, {
    AppealStatus.SUBMITTED: {AppealStatus.UPHELD, AppealStatus.DISMISSED, AppealStatus.WITHDRAWN},
    AppealStatus.UPHELD: set(),
    AppealStatus.DISMISSED: set(),
    AppealStatus.WITHDRAWN: set(),
})

OPEN_APPEAL_STATUSES = (AppealStatus.SUBMITTED,)


class Appeal(db.Model):
    """An applicant's request for reconsideration of a released decision (at most one per decision)."""

    __tablename__ = "review_appeals"
    __table_args__ = (sa.UniqueConstraint("decision_id", name="uq_review_appeals_decision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        sa.ForeignKey("review_decisions.id", ondelete="CASCADE"), nullable=False
    )
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), index=True, nullable=False
    )
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    applicant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    grounds: Mapped[AppealGrounds] = mapped_column(enum_column(AppealGrounds), nullable=False)
    statement: Mapped[str] = mapped_column(sa.Text, nullable=False)
    status: Mapped[AppealStatus] = mapped_column(
        enum_column(AppealStatus), default=AppealStatus.SUBMITTED, index=True, nullable=False
    )
    handler_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    outcome_reasons: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()  # the applicant withdrew it (`review.appeals`)

    decision: Mapped[Decision] = relationship()
    proposal: Mapped[Proposal] = relationship()
    organization: Mapped[Organization] = relationship()
    applicant: Mapped[User | None] = relationship(foreign_keys=[applicant_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_APPEAL_STATUSES
