"""Proposals to challenges: milestones, attachments and the snapshots reviewers see."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Organization, User, enum_column
from facility.challenges.models import Challenge, render_markdown
from facility.core.labels import labelled
from facility.core.models import TimestampMixin, utcnow
from facility.core.states import Transitions
from facility.extensions import db


@labelled({"draft": _l("Draft"), "submitted": _l("Submitted"), "withdrawn": _l("Withdrawn"),
           "shortlisted": _l("Shortlisted"), "declined": _l("Declined"), "awarded": _l("Awarded")},
          tones={"draft": "waiting", "submitted": "neutral", "withdrawn": "neutral", "shortlisted": "good",
                 "declined": "bad", "awarded": "good"})
class ProposalStatus(str, enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    # Set by the review and award work.
    SHORTLISTED = "shortlisted"
    DECLINED = "declined"
    AWARDED = "awarded"


PROPOSAL_TRANSITIONS = Transitions(ProposalStatus, {
    ProposalStatus.DRAFT: {ProposalStatus.SUBMITTED, ProposalStatus.WITHDRAWN},
    ProposalStatus.SUBMITTED: {ProposalStatus.WITHDRAWN, ProposalStatus.SHORTLISTED, ProposalStatus.DECLINED,
                               ProposalStatus.AWARDED},
    # A later round's released decision may change a shortlisted or declined proposal's standing.
    ProposalStatus.SHORTLISTED: {ProposalStatus.DECLINED, ProposalStatus.AWARDED},
    # An upheld appeal sets a released decline aside: the proposal is submitted again, for a new review.
    ProposalStatus.DECLINED: {ProposalStatus.SHORTLISTED, ProposalStatus.SUBMITTED},
    ProposalStatus.WITHDRAWN: set(),
    ProposalStatus.AWARDED: set(),
})
"""Every move a proposal's status may make; `proposals.lifecycle.set_proposal_status` is the one way to make it."""


# Submitted and beyond: in the competition (what a city sees after close, what panels score).
COMPETING_STATUSES = (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED,
                      ProposalStatus.DECLINED, ProposalStatus.AWARDED)


@labelled({"urban_poor": _l("The urban poor"), "women": _l("Women"), "youth": _l("Youth"),
           "children": _l("Children"), "older_people": _l("Older people"),
           "persons_with_disabilities": _l("Persons with disabilities"), "migrants": _l("Migrants")})
class BeneficiaryGroup(str, enum.Enum):
    URBAN_POOR = "urban_poor"
    WOMEN = "women"
    YOUTH = "youth"
    CHILDREN = "children"
    OLDER_PEOPLE = "older_people"
    PERSONS_WITH_DISABILITIES = "persons_with_disabilities"
    MIGRANTS = "migrants"


@labelled({"personnel": _l("Personnel"), "equipment": _l("Equipment"), "services": _l("Services"),
           "travel": _l("Travel"), "other": _l("Other costs")})
class BudgetCategory(str, enum.Enum):
    """What money is spent on: a proposal's budget and a milestone report's spending use the same five."""

    PERSONNEL = "personnel"
    EQUIPMENT = "equipment"
    SERVICES = "services"
    TRAVEL = "travel"
    OTHER = "other"


BUDGET_CATEGORIES = tuple(BudgetCategory)


def budget_key(category: BudgetCategory) -> str:
    """The field name of a category in forms and the API (`personnel_cents`, ...)."""
    return f"{category.value}_cents"


class Proposal(TimestampMixin, db.Model):
    """One organisation's proposal to one challenge.

    Rule: at most one proposal per organisation per challenge that is not withdrawn.
    A partial unique index would say it in the schema, but not portably across SQLite
    and PostgreSQL with the enum stored as text, so `services.create_proposal` enforces it.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        sa.CheckConstraint("requested_cents >= 0", name="requested_not_negative"),
        sa.Index("ix_proposals_challenge_id_organization_id", "challenge_id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("challenges.id", ondelete="RESTRICT"), nullable=False
    )
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True, nullable=False
    )
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    summary: Mapped[str] = mapped_column(sa.String(1000), default="", nullable=False)
    approach: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)  # Markdown source
    team: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    requested_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0, nullable=False)
    beneficiary_groups: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)
    privacy_impact: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    status: Mapped[ProposalStatus] = mapped_column(
        enum_column(ProposalStatus), default=ProposalStatus.DRAFT, index=True, nullable=False
    )
    submitted_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()

    challenge: Mapped[Challenge] = relationship()
    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship()
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="proposal", order_by="Milestone.position", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="proposal", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    snapshots: Mapped[list[ProposalSnapshot]] = relationship(
        back_populates="proposal", order_by="ProposalSnapshot.version", cascade="all, delete-orphan"
    )
    budget_lines: Mapped[list[ProposalBudgetLine]] = relationship(
        back_populates="proposal", order_by="ProposalBudgetLine.id", cascade="all, delete-orphan"
    )

    @property
    def approach_html(self) -> str:
        return render_markdown(self.approach)

    @property
    def milestones_total_cents(self) -> int:
        return sum(m.amount_cents or 0 for m in self.milestones)

    @property
    def budget(self) -> dict[BudgetCategory, int]:
        """The amount per category, in the categories' order; a category without a line is absent."""
        given = {line.category: line.amount_cents for line in self.budget_lines}
        return {category: given[category] for category in BUDGET_CATEGORIES if category in given}

    @property
    def budget_by_key(self) -> dict[str, int | None]:
        """The budget as the API and the snapshot show it: `<category>_cents` for every category,
        None for a category not given."""
        given = self.budget
        return {budget_key(category): given.get(category) for category in BUDGET_CATEGORIES}

    @property
    def budget_total_cents(self) -> int:
        return sum(line.amount_cents for line in self.budget_lines)

    @property
    def latest_snapshot(self) -> ProposalSnapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    @property
    def beneficiaries(self) -> list[BeneficiaryGroup]:
        """The groups that benefit, as enum members (for their labels)."""
        return [BeneficiaryGroup(value) for value in self.beneficiary_groups]


class Milestone(db.Model):
    """A deliverable with its due date and the tranche paid for it."""

    __tablename__ = "proposal_milestones"
    __table_args__ = (
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.UniqueConstraint("proposal_id", "position", name="uq_proposal_milestones_position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), default="", nullable=False)
    due_date: Mapped[date | None] = mapped_column(sa.Date)  # empty allowed in a draft
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0, nullable=False)
    deliverable: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)

    proposal: Mapped[Proposal] = relationship(back_populates="milestones")


class ProposalBudgetLine(db.Model):
    """What a proposal plans to spend in one category; at submission the lines add up to the request."""

    __tablename__ = "proposal_budget_lines"
    __table_args__ = (
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.UniqueConstraint("proposal_id", "category", name="uq_proposal_budget_lines_category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False
    )
    category: Mapped[BudgetCategory] = mapped_column(enum_column(BudgetCategory), nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    proposal: Mapped[Proposal] = relationship(back_populates="budget_lines")


class Attachment(db.Model):
    """A file stored outside the web root under a random key (never the uploader's name)."""

    __tablename__ = "proposal_attachments"
    __table_args__ = (sa.CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), index=True, nullable=False
    )
    original_filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(100), nullable=False)  # sniffed, not declared
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    proposal: Mapped[Proposal] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()


class ProposalSnapshot(db.Model):
    """What was submitted, frozen: reviewers see exactly this, never the live rows."""

    __tablename__ = "proposal_snapshots"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "version", name="uq_proposal_snapshots_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        sa.ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(nullable=False)
    data: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    proposal: Mapped[Proposal] = relationship(back_populates="snapshots")
