"""Challenges, their rubric, clarification questions and deadline extensions."""
from __future__ import annotations

import enum
from datetime import datetime

import nh3
import sqlalchemy as sa
from markdown_it import MarkdownIt
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Role, User, enum_column
from facility.cities.models import City
from facility.core.models import TimestampMixin, utcnow
from facility.extensions import db


class FocusArea(str, enum.Enum):
    INCLUSIVE_INNOVATION = "inclusive_innovation"
    PUBLIC_INTEREST_TECH = "public_interest_tech"


class ChallengeStatus(str, enum.Enum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FINISHED = "finished"


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


def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def _has_role(user, *roles: Role) -> bool:
    return _authenticated(user) and user.has_role(*roles)


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
    @property
    def phase(self) -> Phase | None:
        """By the clock, for published challenges only (None otherwise)."""
        if self.status != ChallengeStatus.PUBLISHED:
            return None
        now = utcnow()
        if now < self.opens_at:
            return Phase.UPCOMING
        if now >= self.closes_at:
            return Phase.CLOSED
        return Phase.OPEN

    @property
    def is_open(self) -> bool:
        """Published and between opens_at (inclusive) and closes_at (exclusive)."""
        return self.phase == Phase.OPEN

    @property
    def description_html(self) -> str:
        return render_markdown(self.description)

    # --- permissions ---------------------------------------------------------------
    def is_city_official(self, user) -> bool:
        return self.city.is_official(user)

    def can_view(self, user) -> bool:
        """Published and finished: anyone. Others (draft, pending, cancelled): the city's
        officials, fund managers and admins."""
        if self.status in PUBLIC_STATUSES:
            return True
        return self.is_city_official(user) or _has_role(user, Role.FUND_MANAGER, Role.ADMIN)

    def can_edit(self, user) -> bool:
        """The city's officials edit a draft; after submission the rubric and deadline are fixed."""
        return self.status == ChallengeStatus.DRAFT and self.is_city_official(user)

    def can_submit(self, user) -> bool:
        return self.can_edit(user)

    def can_approve(self, user) -> bool:
        """Fund managers approve challenges."""
        return _has_role(user, Role.FUND_MANAGER)

    def can_extend_deadline(self, user) -> bool:
        """Fund managers and the city's officials may extend a published challenge's deadline."""
        return self.is_city_official(user) or _has_role(user, Role.FUND_MANAGER)

    def can_answer(self, user) -> bool:
        """The city's officials answer clarification questions."""
        return self.is_city_official(user)

    def can_see_unanswered(self, user) -> bool:
        """Unanswered questions: the city's officials and fund managers (askers see their own)."""
        return self.is_city_official(user) or _has_role(user, Role.FUND_MANAGER, Role.ADMIN)


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

    challenge: Mapped[Challenge] = relationship(back_populates="criteria")


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

    def can_view(self, user) -> bool:
        """Answered: whoever sees the challenge. Unanswered: the asker, the city, fund managers."""
        if not self.challenge.can_view(user):
            return False
        if self.is_answered:
            return True
        if _authenticated(user) and user.id == self.asked_by_id:
            return True
        return self.challenge.can_see_unanswered(user)

    def can_answer(self, user) -> bool:
        return self.challenge.can_answer(user)


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
