"""Grants that change after signature: amendments (the whole proposed schedule, its approvals) and the
agreement's versions (version 1 at the award, one more for each amendment in force)."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import User, enum_column
from facility.core.labels import labelled
from facility.core.models import TimestampMixin, utcnow
from facility.core.states import Transitions
from facility.extensions import db
from facility.grants.models import Grant


@labelled({"pending": _l("Awaiting approval"), "approved": _l("Approved, awaiting the grantee"),
           "accepted": _l("Accepted: in force"), "rejected": _l("Rejected")},
          tones={"pending": "waiting", "approved": "waiting", "accepted": "good", "rejected": "bad"})
class AmendmentStatus(str, enum.Enum):
    PENDING = "pending"    # needs approval by fund managers other than its author
    APPROVED = "approved"  # approved (or needing none); the grantee accepts or rejects it
    ACCEPTED = "accepted"  # the grantee accepted: it took effect (schedule, total, ledger, agreement version)
    REJECTED = "rejected"  # rejected by an approver or the grantee, with a reason


AMENDMENT_TRANSITIONS = Transitions(AmendmentStatus, {
    AmendmentStatus.PENDING: {AmendmentStatus.APPROVED, AmendmentStatus.REJECTED},
    AmendmentStatus.APPROVED: {AmendmentStatus.ACCEPTED, AmendmentStatus.REJECTED},
    AmendmentStatus.ACCEPTED: set(),
    AmendmentStatus.REJECTED: set(),
})
"""An amendment is born pending when it needs approval, approved when it needs none (a pending amendment
that needs no approval is treated as approved); the grantee's acceptance takes it into force."""

OPEN_AMENDMENT_STATUSES = frozenset({AmendmentStatus.PENDING, AmendmentStatus.APPROVED})


class GrantAmendment(TimestampMixin, db.Model):
    """A proposed change to a grant's tranche schedule and total, with its reason; the whole new schedule
    is in `tranches` (`AmendmentTranche`). `open_grant_id` is the grant's id while the amendment is open
    (unique: one open amendment per grant, also under races)."""

    __tablename__ = "grant_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"), index=True, nullable=False)
    number: Mapped[int] = mapped_column(nullable=False)  # 1, 2, ... per grant
    open_grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    status: Mapped[AmendmentStatus] = mapped_column(enum_column(AmendmentStatus), default=AmendmentStatus.PENDING,
                                                    nullable=False, index=True)
    needs_approval: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    old_total_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    new_total_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    change_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)  # new total - old total
    old_schedule: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)  # the schedule it replaces
    proposed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column()
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None] = mapped_column()
    rejected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    rejected_at: Mapped[datetime | None] = mapped_column()
    rejection_reason: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    ledger_transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id",
                                                                            ondelete="RESTRICT"))

    grant: Mapped[Grant] = relationship(foreign_keys=[grant_id])
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
    tranches: Mapped[list[AmendmentTranche]] = relationship(
        back_populates="amendment", order_by="AmendmentTranche.position", cascade="all, delete-orphan")
    approvals: Mapped[list[AmendmentApproval]] = relationship(
        back_populates="amendment", order_by="AmendmentApproval.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.UniqueConstraint("grant_id", "number", name="uq_grant_amendments_grant_number"),
        sa.CheckConstraint("new_total_cents > 0", name="new_total_positive"),
        sa.CheckConstraint("change_cents = new_total_cents - old_total_cents", name="change_is_difference"),
    )


class AmendmentTranche(db.Model):
    """One row of an amendment's proposed schedule: an existing tranche (`tranche_id`) or a new one (none)."""

    __tablename__ = "amendment_tranches"

    id: Mapped[int] = mapped_column(primary_key=True)
    amendment_id: Mapped[int] = mapped_column(sa.ForeignKey("grant_amendments.id", ondelete="CASCADE"), index=True,
                                              nullable=False)
    tranche_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tranches.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(nullable=False)  # its place in the proposed schedule, from 1
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    due_date: Mapped[date | None] = mapped_column(sa.Date)

    amendment: Mapped[GrantAmendment] = relationship(back_populates="tranches")

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)


class AmendmentApproval(db.Model):
    """A fund manager's approval of an amendment, with their approval limit when they gave it."""

    __tablename__ = "amendment_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    amendment_id: Mapped[int] = mapped_column(sa.ForeignKey("grant_amendments.id", ondelete="CASCADE"), index=True,
                                              nullable=False)
    approver_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    limit_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    amendment: Mapped[GrantAmendment] = relationship(back_populates="approvals")
    approver: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("amendment_id", "approver_id", name="uq_amendment_approvals_approver"),)


class GrantAgreementVersion(db.Model):
    """One version of a grant's agreement: version 1 at the award, one more for each amendment in force.
    Never changed afterwards."""

    __tablename__ = "grant_agreement_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"), index=True, nullable=False)
    version: Mapped[int] = mapped_column(nullable=False)
    agreement_text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    schedule: Mapped[list] = mapped_column(sa.JSON, default=list, nullable=False)  # the tranches in force then
    total_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    amendment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grant_amendments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    amendment: Mapped[GrantAmendment | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("grant_id", "version", name="uq_grant_agreement_versions_version"),)
