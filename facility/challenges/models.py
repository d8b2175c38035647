"""Challenges, their rubric, clarification questions and deadline extensions."""
from __future__ import annotations

import enum
from datetime import datetime

import nh3
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Organization, OrgType, User, enum_column
from facility.cities.models import City
from facility.core.labels import labelled
from facility.core.models import TimestampMixin, utcnow
from facility.core.states import Transitions
from facility.extensions import db


@labelled({"inclusive_innovation": _l("Inclusive innovation"),
           "public_interest_tech": _l("Public-interest technology")})
class FocusArea(str, enum.Enum):
    INCLUSIVE_INNOVATION = "inclusive_innovation"
    PUBLIC_INTEREST_TECH = "public_interest_tech"


@labelled({"draft": _l("Draft"), "pending_approval": _l("Waiting for the facility's approval"),
           "published": _l("Published"), "cancelled": _l("Cancelled"), "finished": _l("Finished")},
          tones={"pending_approval": "waiting", "published": "good", "cancelled": "bad"})
class ChallengeStatus(str, enum.Enum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FINISHED = "finished"


CHALLENGE_TRANSITIONS = Transitions(ChallengeStatus, {
    ChallengeStatus.DRAFT: {ChallengeStatus.PENDING_APPROVAL},
    # Approved (funded and published), or sent back to the city with a reason.
    ChallengeStatus.PENDING_APPROVAL: {ChallengeStatus.PUBLISHED, ChallengeStatus.DRAFT},
    ChallengeStatus.PUBLISHED: {ChallengeStatus.FINISHED},
    ChallengeStatus.FINISHED: set(),
    # Kept for the records it may hold; nothing moves a challenge here today.
    ChallengeStatus.CANCELLED: set(),
})
"""Every move a challenge's status may make; the services in `challenges.services` make them with `.move`."""


@labelled({"upcoming": _l("Opens soon"), "open": _l("Open for proposals"), "closed": _l("Closed")},
          tones={"upcoming": "waiting", "open": "good", "closed": "neutral"})
class Phase(str, enum.Enum):
    """Where a published challenge is by the clock."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


# Statuses everyone may see; drafts and pending ones stay with the city and the facility.
PUBLIC_STATUSES = (ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED)

# Markdown without raw HTML, then nh3 as a second line of defence (links get rel=noopener etc.).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
                 "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"}


def render_markdown(source: str) -> str:
    """Markdown to sanitised HTML: no scripts, no event attributes, only http(s)/mailto links."""
    html = _markdown.render(source or "")
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="nofollow noopener noreferrer")


class Challenge(TimestampMixin, db.Model):
    __tablename__ = "challenges"
    __table_args__ = (
        sa.CheckConstraint("prize_pool_cents > 0", name="prize_pool_positive"),
        sa.CheckConstraint("max_award_cents > 0 AND max_award_cents <= prize_pool_cents", name="max_award_range"),
        sa.CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(sa.ForeignKey("cities.id", ondelete="RESTRICT"), index=True, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    summary: Mapped[str] = mapped_column(sa.String(1000), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False)  # Markdown source
    focus_area: Mapped[FocusArea] = mapped_column(enum_column(FocusArea), nullable=False)
    sdg_targets: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)
    prize_pool_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    max_award_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    opens_at: Mapped[datetime] = mapped_column(nullable=False)
    closes_at: Mapped[datetime] = mapped_column(index=True, nullable=False)
    eligible_org_types: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)  # empty = all
    eligible_countries: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)  # empty = all
    status: Mapped[ChallengeStatus] = mapped_column(
        enum_column(ChallengeStatus), default=ChallengeStatus.DRAFT, index=True, nullable=False
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Staged prizes (`challenges.stages`): the stage before this one, this stage's short name ("Pilot",
    # "Scale"; empty for a one-stage challenge) and whether only organisations invited from the previous
    # stage may apply (`ChallengeInvitation`).
    previous_stage_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("challenges.id"), index=True)
    stage_name: Mapped[str] = mapped_column(sa.String(80), default="", server_default="", nullable=False)
    invitation_only: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), nullable=False)

    city: Mapped[City] = relationship(lazy="joined", innerjoin=True)
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="challenge", order_by="Criterion.position", cascade="all, delete-orphan"
    )
    clarifications: Mapped[list[Clarification]] = relationship(
        back_populates="challenge", order_by="Clarification.id", cascade="all, delete-orphan"
    )
    extensions: Mapped[list[DeadlineExtension]] = relationship(
        back_populates="challenge", order_by="DeadlineExtension.id", cascade="all, delete-orphan"
    )
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    # --- clock and content ---------------------------------------------------------
    def phase_at(self, now: datetime) -> Phase | None:
        """Where a published challenge is at `now` (None for other statuses)."""
        if self.status != ChallengeStatus.PUBLISHED:
            return None
        if now < self.opens_at:
            return Phase.UPCOMING
        if now >= self.closes_at:
            return Phase.CLOSED
        return Phase.OPEN

    @property
    def phase(self) -> Phase | None:
        """By the clock now, for published challenges only (None otherwise)."""
        return self.phase_at(utcnow())

    @property
    def is_open(self) -> bool:
        """Published and between opens_at (inclusive) and closes_at (exclusive): proposals are taken."""
        return self.phase == Phase.OPEN

    @property
    def submissions_closed(self) -> bool:
        """The submission window is over: a published challenge past closes_at, or a finished one."""
        return self.status == ChallengeStatus.FINISHED or self.phase == Phase.CLOSED

    @property
    def eligible_types(self) -> list[OrgType]:
        """The organisation types that may apply (empty: every type), as enum members for their labels."""
        return [OrgType(value) for value in self.eligible_org_types]

    @property
    def description_html(self) -> str:
        return render_markdown(self.description)

    # --- kept for other packages (review, grants) until they ask challenges.policy -------------

SCORE_MIN, SCORE_MAX = 0, 10
"""A reviewer scores each criterion with a whole number from SCORE_MIN to SCORE_MAX."""
SCORE_BANDS: tuple[tuple[int, int], ...] = ((0, 3), (4, 6), (7, 10))
"""The low, middle and high bands of the scale that a criterion's descriptors describe."""
DESCRIPTOR_CHARS = 500
"""The longest descriptor of a score band."""


class Criterion(db.Model):
    """One line of the scoring rubric; a challenge's weights sum to 100."""

    __tablename__ = "challenge_criteria"
    __table_args__ = (
        sa.CheckConstraint("weight > 0 AND weight <= 100", name="weight_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    weight: Mapped[int] = mapped_column(nullable=False)
    position: Mapped[int] = mapped_column(nullable=False)
    # What the low, middle and high scores mean (plain text, empty when not given): `score_bands`.
    descriptor_low: Mapped[str] = mapped_column(sa.String(500), default="", server_default="", nullable=False)
    descriptor_mid: Mapped[str] = mapped_column(sa.String(500), default="", server_default="", nullable=False)
    descriptor_high: Mapped[str] = mapped_column(sa.String(500), default="", server_default="", nullable=False)

    challenge: Mapped[Challenge] = relationship(back_populates="criteria")

    @property
    def score_bands(self) -> list[tuple[int, int, str]]:
        """The described score bands, (lowest, highest, meaning), low to high; empty without descriptors."""
        texts = (self.descriptor_low, self.descriptor_mid, self.descriptor_high)
        return [(low, high, text) for (low, high), text in zip(SCORE_BANDS, texts, strict=True) if text]


class Clarification(db.Model):
    """A question about a challenge; answered ones are public."""

    __tablename__ = "clarifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    asked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    question: Mapped[str] = mapped_column(sa.Text, nullable=False)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    challenge: Mapped[Challenge] = relationship(back_populates="clarifications")
    asked_by: Mapped[User | None] = relationship(foreign_keys=[asked_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None


class DeadlineExtension(db.Model):
    """An explicit, audited move of a published challenge's closes_at (only ever later)."""

    __tablename__ = "deadline_extensions"
    __table_args__ = (sa.CheckConstraint("new_closes_at > old_closes_at", name="later_only"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False
    )
    old_closes_at: Mapped[datetime] = mapped_column(nullable=False)
    new_closes_at: Mapped[datetime] = mapped_column(nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    challenge: Mapped[Challenge] = relationship(back_populates="extensions")
    actor: Mapped[User | None] = relationship()


class ChallengeInvitation(db.Model):
    """An organisation invited to an invitation-only stage from the previous one, with the public reason
    why it advanced; at most one per stage and organisation. Made by `grants.stages.invite_to_next_stage`
    from the grant the organisation holds in the previous stage (`source_grant_id`: grants sit above
    challenges, so the key names the table, not the model)."""

    __tablename__ = "challenge_invitations"
    __table_args__ = (sa.UniqueConstraint("challenge_id", "organization_id", name="uq_challenge_invitations_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="CASCADE"), index=True, nullable=False)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False)
    source_grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grants.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    challenge: Mapped[Challenge] = relationship()
    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    invited_by: Mapped[User | None] = relationship()
