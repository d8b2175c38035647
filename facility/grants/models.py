"""Money in and committed: contributions, grants, tranches, payout accounts, milestone evidence.

Amounts are integer US cents. Balances live in the ledger (`facility.ledger`);
these rows record what people asked for and decided, and link to the ledger
transaction that moved the money.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Organization, User, enum_column
from facility.challenges.funding import EarmarkKind, earmark_json, earmark_text
from facility.challenges.models import Challenge
from facility.core.labels import labelled
from facility.core.models import TimestampMixin, utcnow
from facility.core.states import Transitions
from facility.extensions import db
from facility.proposals.models import BUDGET_CATEGORIES, BudgetCategory, Proposal


@labelled({"stripe": _l("Card"), "wire": _l("Wire")})
class ContributionMethod(str, enum.Enum):
    STRIPE = "stripe"
    WIRE = "wire"


@labelled({"pledged": _l("Pledged, waiting for the transfer"), "checkout_open": _l("Waiting for card payment"),
           "received": _l("Received"), "cancelled": _l("Cancelled"), "failed": _l("Failed")},
          tones={"pledged": "waiting", "checkout_open": "waiting", "received": "good", "failed": "bad"})
class ContributionStatus(str, enum.Enum):
    PLEDGED = "pledged"            # wire: instructions shown, waiting for the money
    CHECKOUT_OPEN = "checkout_open"  # card: a Stripe Checkout Session is open
    RECEIVED = "received"          # money booked in the ledger
    CANCELLED = "cancelled"
    FAILED = "failed"


CONTRIBUTION_TRANSITIONS = Transitions(ContributionStatus, {
    ContributionStatus.PLEDGED: {ContributionStatus.RECEIVED, ContributionStatus.CANCELLED},  # a wire confirmed
    ContributionStatus.CHECKOUT_OPEN: {ContributionStatus.RECEIVED, ContributionStatus.CANCELLED,
                                       ContributionStatus.FAILED},  # a card paid (webhook), or not
    # Card money that arrives is booked even if the pledge was marked cancelled or failed meanwhile.
    ContributionStatus.CANCELLED: {ContributionStatus.RECEIVED},
    ContributionStatus.FAILED: {ContributionStatus.RECEIVED},
    ContributionStatus.RECEIVED: set(),
})
"""A contribution is born pledged (wire) or checkout_open (card); money is booked once, on the move to received."""


class Contribution(TimestampMixin, db.Model):
    """A donor's pledge and, once the money arrives, its receipt (booked in the ledger once)."""

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    pledged_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True, nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    method: Mapped[ContributionMethod] = mapped_column(enum_column(ContributionMethod), nullable=False)
    status: Mapped[ContributionStatus] = mapped_column(
        enum_column(ContributionStatus), default=ContributionStatus.PLEDGED, nullable=False, index=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True, nullable=False)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    received_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    received_on: Mapped[date | None] = mapped_column(sa.Date)
    bank_reference: Mapped[str | None] = mapped_column(sa.String(120))
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None] = mapped_column()
    ledger_transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"))
    # Chosen at pledge time: the public ledger then names an "anonymous donor" (staff still see who).
    anonymous: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false(), nullable=False)
    # Earmarked (`challenges.funding`): what the money may pay for, chosen at pledge time; the ledger
    # fund that keeps it apart is created when the money is received (a pledge holds no money).
    earmark_kind: Mapped[EarmarkKind | None] = mapped_column(enum_column(EarmarkKind, length=30))
    earmark_value: Mapped[str | None] = mapped_column(sa.String(60))
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_funds.id", ondelete="RESTRICT"), index=True)

    donor_organization: Mapped[Organization | None] = relationship(foreign_keys=[donor_organization_id])
    pledged_by: Mapped[User] = relationship(foreign_keys=[pledged_by_id])

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("received_cents IS NULL OR received_cents > 0", name="received_positive"),
        sa.CheckConstraint("(earmark_kind IS NULL) = (earmark_value IS NULL)", name="earmark_whole"),
        sa.CheckConstraint("fund_id IS NULL OR earmark_kind IS NOT NULL", name="fund_earmarked"),
        # The public ledger names each contribution's donor by its transaction (migration 0027).
        sa.Index("ix_contributions_ledger_transaction_id", "ledger_transaction_id"),
    )

    @property
    def earmark(self) -> dict | None:
        """The earmark as the API states it (`{"focus_area": ...}`, `{"challenge_id": 3}`), None for none."""
        return earmark_json(self.earmark_kind, self.earmark_value)

    @property
    def earmark_text(self) -> str:
        return earmark_text(self.earmark_kind, self.earmark_value)


@labelled({"pending_approval": _l("Awarded, awaiting approval"), "offered": _l("Offered: agreement to accept"),
           "active": _l("Active"), "completed": _l("Completed"), "cancelled": _l("Cancelled")},
          tones={"pending_approval": "waiting", "offered": "waiting", "active": "good", "completed": "good",
                 "cancelled": "bad"})
class GrantStatus(str, enum.Enum):
    PENDING_APPROVAL = "pending_approval"  # awarded above the approval threshold; approvers have not all agreed
    OFFERED = "offered"      # awarded; the grantee has not yet accepted the agreement
    ACTIVE = "active"        # agreement accepted; tranches can be disbursed
    COMPLETED = "completed"  # every tranche paid
    CANCELLED = "cancelled"  # its undisbursed commitment went back to the pool; nothing more is paid


GRANT_TRANSITIONS = Transitions(GrantStatus, {
    GrantStatus.PENDING_APPROVAL: {GrantStatus.OFFERED, GrantStatus.CANCELLED},  # approved, or refused
    GrantStatus.OFFERED: {GrantStatus.ACTIVE, GrantStatus.CANCELLED},
    # Completed when every tranche is paid; an amendment that adds a tranche makes it active again.
    GrantStatus.ACTIVE: {GrantStatus.COMPLETED, GrantStatus.CANCELLED},
    GrantStatus.COMPLETED: {GrantStatus.ACTIVE},  # a paid tranche's transfer was reversed, or a tranche added
    GrantStatus.CANCELLED: set(),
})


class Grant(TimestampMixin, db.Model):
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(sa.ForeignKey("proposals.id", ondelete="RESTRICT"), unique=True, nullable=False)
    challenge_id: Mapped[int] = mapped_column(sa.ForeignKey("challenges.id", ondelete="RESTRICT"), index=True, nullable=False)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True, nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    status: Mapped[GrantStatus] = mapped_column(enum_column(GrantStatus), default=GrantStatus.OFFERED, nullable=False)
    awarded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None] = mapped_column()
    agreement_text: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    ledger_transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"))
    # --- award governance (award follows the panel): set when a fund manager awarded against the panel's
    # released decision, with the written reason (audited `grant.award_override`; shown on every view).
    award_override_reason: Mapped[str | None] = mapped_column(sa.Text)
    award_override_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


    # Cancellation (grants.cancellation): who cancelled it, when and why.
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancelled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)

    organization: Mapped[Organization] = relationship()
    challenge: Mapped[Challenge] = relationship()
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    refunds: Mapped[list[GrantRefund]] = relationship(back_populates="grant", order_by="GrantRefund.id")
    proposal: Mapped[Proposal] = relationship()
    tranches: Mapped[list[Tranche]] = relationship(
        back_populates="grant", order_by="Tranche.position", cascade="all, delete-orphan")
    payout_accounts: Mapped[list[PayoutAccount]] = relationship(
        back_populates="grant", order_by="PayoutAccount.id", cascade="all, delete-orphan")
    award_approvals: Mapped[list[GrantApproval]] = relationship(
        back_populates="grant", order_by="GrantApproval.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        # The register's order, newest award first: its first page without sorting every grant (migration 0027).
        sa.Index("ix_grants_awarded_at_id", "awarded_at", "id"),
    )

    @property
    def payout_account(self) -> PayoutAccount | None:
        """The account in force: the newest one not superseded."""
        current = [account for account in self.payout_accounts if account.superseded_at is None]
        return current[-1] if current else None


@labelled({"pending": _l("Milestone to report"), "evidence_submitted": _l("Report under review"),
           "accepted": _l("Accepted, to be paid"), "disbursing": _l("Being paid"), "paid": _l("Paid"),
           "cancelled": _l("Cancelled")},
          tones={"evidence_submitted": "waiting", "accepted": "waiting", "disbursing": "waiting", "paid": "good",
                 "cancelled": "neutral"})
class TrancheStatus(str, enum.Enum):
    PENDING = "pending"                        # milestone not yet reported
    EVIDENCE_SUBMITTED = "evidence_submitted"  # the grantee reported; a fund manager reviews
    ACCEPTED = "accepted"                      # evidence accepted: may be disbursed
    DISBURSING = "disbursing"                  # a disbursement is under way
    PAID = "paid"
    CANCELLED = "cancelled"                    # removed by an amendment or with its grant: never paid


UNPAID_TRANCHE_STATUSES = frozenset({TrancheStatus.PENDING, TrancheStatus.EVIDENCE_SUBMITTED, TrancheStatus.ACCEPTED})
"""Tranches not paid and not being paid: an amendment may change them, a cancellation cancels them."""

TRANCHE_TRANSITIONS = Transitions(TrancheStatus, {
    TrancheStatus.PENDING: {TrancheStatus.EVIDENCE_SUBMITTED, TrancheStatus.CANCELLED},
    # accepted, or returned; or cancelled
    TrancheStatus.EVIDENCE_SUBMITTED: {TrancheStatus.ACCEPTED, TrancheStatus.PENDING, TrancheStatus.CANCELLED},
    TrancheStatus.ACCEPTED: {TrancheStatus.DISBURSING, TrancheStatus.CANCELLED},
    TrancheStatus.CANCELLED: set(),
    TrancheStatus.DISBURSING: {TrancheStatus.PAID, TrancheStatus.ACCEPTED},  # paid, or its payment cancelled
    TrancheStatus.PAID: {TrancheStatus.DISBURSING},  # the transfer was reversed; it is paid again
})
"""Only `grants` moves a tranche; disbursements call `grants.tranches`."""


class Tranche(db.Model):
    """One milestone payment of a grant."""

    __tablename__ = "tranches"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"), index=True, nullable=False)
    milestone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("proposal_milestones.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    deliverable: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    status: Mapped[TrancheStatus] = mapped_column(enum_column(TrancheStatus), default=TrancheStatus.PENDING, nullable=False)

    grant: Mapped[Grant] = relationship(back_populates="tranches")
    reports: Mapped[list[MilestoneReport]] = relationship(
        back_populates="tranche", order_by="MilestoneReport.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.UniqueConstraint("grant_id", "position", name="uq_tranches_grant_position"),
    )


@labelled({"stripe": _l("Stripe (a connected Stripe account)"), "manual": _l("Bank or mobile-money transfer")})
class PayoutRail(str, enum.Enum):
    STRIPE = "stripe"
    MANUAL = "manual"


class PayoutAccount(db.Model):
    """Where a grant is paid. Never edited in place: a change writes a new row and supersedes the old.

    Bank details are encrypted at rest (Fernet, key from configuration); only
    masked values are ever shown.
    """

    __tablename__ = "payout_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"), index=True, nullable=False)
    rail: Mapped[PayoutRail] = mapped_column(enum_column(PayoutRail), nullable=False)
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(255))
    account_holder: Mapped[str | None] = mapped_column(sa.String(200))
    bank_name: Mapped[str | None] = mapped_column(sa.String(200))
    encrypted_details: Mapped[str | None] = mapped_column(sa.Text)  # Fernet token of {account_number/iban, swift}
    masked_account: Mapped[str | None] = mapped_column(sa.String(40))  # e.g. "•••• 6789"
    swift_masked: Mapped[str | None] = mapped_column(sa.String(20))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    superseded_at: Mapped[datetime | None] = mapped_column()

    grant: Mapped[Grant] = relationship(back_populates="payout_accounts")


@labelled({"submitted": _l("Under review"), "accepted": _l("Accepted"), "returned": _l("Sent back")},
          tones={"submitted": "waiting", "accepted": "good", "returned": "bad"})
class ReportStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"  # sent back to the grantee with a comment


REPORT_TRANSITIONS = Transitions(ReportStatus, {
    ReportStatus.SUBMITTED: {ReportStatus.ACCEPTED, ReportStatus.RETURNED},
    ReportStatus.ACCEPTED: set(),
    ReportStatus.RETURNED: set(),  # the grantee sends a new report instead
})
"""A report is born submitted; a fund manager accepts it or sends it back, once."""


class MilestoneReport(db.Model):
    """A grantee's milestone report with evidence; a fund manager accepts it or sends it back."""

    __tablename__ = "milestone_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    tranche_id: Mapped[int] = mapped_column(sa.ForeignKey("tranches.id", ondelete="CASCADE"), index=True, nullable=False)
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    kpi_values: Mapped[dict] = mapped_column(sa.JSON, default=dict, nullable=False)
    status: Mapped[ReportStatus] = mapped_column(enum_column(ReportStatus), default=ReportStatus.SUBMITTED, nullable=False)
    reviewer_comment: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    # Public, unlike `text`: the grantee's short account of an accepted milestone (grants.summaries).
    public_summary: Mapped[str] = mapped_column(sa.Text, default="", server_default="", nullable=False)
    public_summary_at: Mapped[datetime | None] = mapped_column()

    tranche: Mapped[Tranche] = relationship(back_populates="reports")
    files: Mapped[list[EvidenceFile]] = relationship(
        back_populates="report", order_by="EvidenceFile.id", cascade="all, delete-orphan")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    spending_lines: Mapped[list[ReportSpendingLine]] = relationship(
        back_populates="report", order_by="ReportSpendingLine.id", cascade="all, delete-orphan")

    @property
    def spending(self) -> dict[BudgetCategory, int]:
        """What the report says was spent in its period, per category (every category once stated)."""
        given = {line.category: line.amount_cents for line in self.spending_lines}
        return {category: given[category] for category in BUDGET_CATEGORIES if category in given}


class ReportSpendingLine(db.Model):
    """What a milestone report states was spent in one budget category during its reporting period."""

    __tablename__ = "report_spending_lines"
    __table_args__ = (
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        sa.UniqueConstraint("report_id", "category", name="uq_report_spending_lines_category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("milestone_reports.id", ondelete="CASCADE"), nullable=False)
    category: Mapped[BudgetCategory] = mapped_column(enum_column(BudgetCategory), nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    report: Mapped[MilestoneReport] = relationship(back_populates="spending_lines")


class EvidenceFile(db.Model):
    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("milestone_reports.id", ondelete="CASCADE"), index=True, nullable=False)
    original_filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(sa.String(100), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    report: Mapped[MilestoneReport] = relationship(back_populates="files")


class GrantApproval(db.Model):
    """A fund manager's approval of an award above the approval threshold (`grants.award_approvals`), with
    the approval limit they held at the time (`accounts.authority` decides whether it counts)."""

    __tablename__ = "grant_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"), index=True, nullable=False)
    approver_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    limit_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    grant: Mapped[Grant] = relationship(back_populates="award_approvals")
    approver: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("grant_id", "approver_id", name="uq_grant_approvals_pair"),)


@labelled({"pool": _l("The challenge's prize pool"), "unallocated": _l("The facility's unallocated funds")})
class RefundDestination(str, enum.Enum):
    POOL = "pool"                # back to the grant's challenge pool: it may be awarded again
    UNALLOCATED = "unallocated"  # back to the facility's unallocated funds


class GrantRefund(db.Model):
    """Money a grantee paid back (a refund, or a clawback the facility asked for), booked once in the ledger:
    Dr the destination (pool or unallocated) / Cr facility:disbursed, split by fund as the grant was paid."""

    __tablename__ = "grant_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="RESTRICT"), index=True, nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    bank_reference: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    received_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    destination: Mapped[RefundDestination] = mapped_column(enum_column(RefundDestination), nullable=False)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ledger_transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), unique=True, nullable=False)
    note: Mapped[str] = mapped_column(sa.Text, default="", server_default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    grant: Mapped[Grant] = relationship(back_populates="refunds")
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)
