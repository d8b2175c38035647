"""Disbursements: one tranche paid to a grantee, as a state machine (DESIGN.md section 3).

    requested --approve (another fund manager)--> queued --worker--> processing
    processing --provider accepted--> paid
    processing --manual rail--> awaiting_confirmation --bank reference--> paid
    processing --provider error--> retrying (backoff) ... --> failed (can be re-queued)
    any state before processing --> cancelled

`DISBURSEMENT_TRANSITIONS` below is that diagram as a table; `lifecycle.transition` is the one
way to move a disbursement and checks every move against it. The database is the source of
truth; Redis only carries the job.
"""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import User, enum_column
from facility.core.labels import labelled
from facility.core.models import TimestampMixin, utcnow
from facility.core.states import Transitions
from facility.disbursements.local_currency import (
    RATE_CHARS,
    LocalPayment,
    format_local,
    format_rate,
    rate_text,
    to_major,
)
from facility.extensions import db
from facility.grants.models import Grant, PayoutRail, Tranche


@labelled({
    "requested": _l("Awaiting approval"),
    "queued": _l("Queued for payment"),
    "processing": _l("Being paid"),
    "awaiting_confirmation": _l("Awaiting bank confirmation"),
    "retrying": _l("Retrying"),
    "paid": _l("Paid"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}, tones={"requested": "waiting", "queued": "waiting", "processing": "waiting", "awaiting_confirmation": "waiting",
          "retrying": "waiting", "paid": "good", "failed": "bad", "cancelled": "neutral"})
class DisbursementStatus(str, enum.Enum):
    REQUESTED = "requested"
    QUEUED = "queued"
    PROCESSING = "processing"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    RETRYING = "retrying"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


_S = DisbursementStatus
DISBURSEMENT_TRANSITIONS = Transitions(DisbursementStatus, {
    # Approved by enough fund managers, or cancelled before a worker takes it.
    _S.REQUESTED: {_S.QUEUED, _S.CANCELLED},
    # A worker claims it; a fund manager may still cancel; the sweep gives it a new job (queued -> queued).
    _S.QUEUED: {_S.PROCESSING, _S.CANCELLED, _S.QUEUED},
    # The rail's answer: paid (Stripe), awaiting the bank reference (manual rail), retrying with backoff
    # (queued when no backoff is configured), or failed. A worker presumed dead is taken over by the
    # sweep's job (processing -> processing).
    _S.PROCESSING: {_S.PAID, _S.AWAITING_CONFIRMATION, _S.RETRYING, _S.QUEUED, _S.FAILED, _S.PROCESSING},
    # A worker claims it once its backoff is over; the sweep gives an overdue one a new job.
    _S.RETRYING: {_S.PROCESSING, _S.RETRYING},
    # A fund manager confirms the bank transfer with its reference, or records the bank's refusal.
    _S.AWAITING_CONFIRMATION: {_S.PAID, _S.FAILED},
    # Stripe reversed the transfer: the money is back in the grant's commitment.
    _S.PAID: {_S.FAILED},
    # A fund manager re-queues it (after the grantee fixed their payout account, say).
    _S.FAILED: {_S.QUEUED},
    _S.CANCELLED: set(),
})
"""Every move a disbursement's status may make; `disbursements.lifecycle.transition` is the one way to make it.
A new disbursement starts `requested` (`INITIAL_STATUS`)."""

INITIAL_STATUS = DisbursementStatus.REQUESTED
SHOWS_PROBLEM = frozenset({DisbursementStatus.FAILED, DisbursementStatus.RETRYING})
"""Statuses whose page shows the last problem (the provider's or the bank's reason)."""


@labelled({"manual": _l("Given by the fund manager who confirmed the payment"), "stripe": _l("Reported by Stripe")})
class ExchangeRateSource(str, enum.Enum):
    MANUAL = "manual"  # typed with the bank reference
    STRIPE = "stripe"  # read from the transfer's balance transaction on the connected account


class DecimalText(sa.types.TypeDecorator):
    """An exact Decimal stored as its text ('129.25'): the same on SQLite (which has no exact numeric type)
    and PostgreSQL."""

    impl = sa.String(RATE_CHARS)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else rate_text(Decimal(value))

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class _MinorAsMajor(sa.types.TypeDecorator):
    """Reads 'KES:129250000' (currency and minor units, joined in SQL) as Decimal('1292500.00'): the major
    units need the currency's decimals, which only Babel knows."""

    impl = sa.String()
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        currency, _colon, minor = str(value).partition(":")
        return to_major(int(minor), currency)


class LocalAmount(NamedTuple):
    """A payment's amount in the grantee's currency, as pages and the API show it."""

    currency: str
    amount_minor: int
    formatted: str  # in the viewer's locale


_LOCAL_COLUMNS = ("local_currency", "local_amount_minor", "exchange_rate", "exchange_rate_source")


class Disbursement(TimestampMixin, db.Model):
    __tablename__ = "disbursements"

    id: Mapped[int] = mapped_column(primary_key=True)
    tranche_id: Mapped[int] = mapped_column(sa.ForeignKey("tranches.id", ondelete="RESTRICT"), index=True, nullable=False)
    # Equal to tranche_id while this disbursement is live, NULL once cancelled:
    # the unique constraint allows at most one live disbursement per tranche.
    live_tranche_id: Mapped[int | None] = mapped_column(unique=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="RESTRICT"), index=True, nullable=False)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    rail: Mapped[PayoutRail] = mapped_column(enum_column(PayoutRail), nullable=False)
    payout_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payout_accounts.id", ondelete="RESTRICT"))
    status: Mapped[DisbursementStatus] = mapped_column(
        enum_column(DisbursementStatus), default=DisbursementStatus.REQUESTED, nullable=False, index=True)
    # The approval tier's count (`accounts.authority.tier_for`), kept up to date at each approval.
    required_approvals: Mapped[int] = mapped_column(default=1, nullable=False)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    attempts: Mapped[int] = mapped_column(default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    processing_started_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(sa.String(255))  # Stripe transfer id
    bank_reference: Mapped[str | None] = mapped_column(sa.String(120))      # manual rail
    payment_instruction: Mapped[dict | None] = mapped_column(sa.JSON)      # manual rail, for the finance team
    job_id: Mapped[str | None] = mapped_column(sa.String(100))
    paid_at: Mapped[datetime | None] = mapped_column()
    ledger_transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), unique=True)
    # Paid in the grantee's currency (`disbursements.local_currency`): information beside the USD amount, which
    # alone is booked. All four are set together, or none (a payment in US dollars).
    local_currency: Mapped[str | None] = mapped_column(sa.String(3))  # ISO 4217
    local_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)  # in the currency's minor units
    exchange_rate: Mapped[Decimal | None] = mapped_column(DecimalText())  # local units per US dollar
    exchange_rate_source: Mapped[ExchangeRateSource | None] = mapped_column(enum_column(ExchangeRateSource))

    tranche: Mapped[Tranche] = relationship()
    grant: Mapped[Grant] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    approvals: Mapped[list[DisbursementApproval]] = relationship(
        back_populates="disbursement", order_by="DisbursementApproval.id", cascade="all, delete-orphan")
    events: Mapped[list[DisbursementEvent]] = relationship(
        back_populates="disbursement", order_by="DisbursementEvent.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("required_approvals >= 1", name="approvals_positive"),
        sa.CheckConstraint("local_amount_minor IS NULL OR local_amount_minor > 0", name="local_amount_positive"),
        sa.CheckConstraint(
            "(local_currency IS NULL AND local_amount_minor IS NULL AND exchange_rate IS NULL "
            "AND exchange_rate_source IS NULL) OR (local_currency IS NOT NULL AND local_amount_minor IS NOT NULL "
            "AND exchange_rate IS NOT NULL AND exchange_rate_source IS NOT NULL)", name="local_payment_complete"),
    )

    @property
    def local_amount(self) -> LocalAmount | None:
        """The amount the grantee received in their currency, when it was not US dollars."""
        if self.local_currency is None or self.local_amount_minor is None:
            return None
        return LocalAmount(self.local_currency, self.local_amount_minor,
                           format_local(self.local_amount_minor, self.local_currency))

    @property
    def exchange_rate_shown(self) -> str:
        """'1 USD = 129.25 KES' in the viewer's locale; empty for a payment in US dollars."""
        if self.exchange_rate is None or self.local_currency is None:
            return ""
        return _("1 USD = %(rate)s %(currency)s", rate=format_rate(self.exchange_rate), currency=self.local_currency)

    def record_local_payment(self, payment: LocalPayment | None) -> None:
        """Store a `local_currency.LocalPayment` (None: paid in US dollars, nothing stored)."""
        if payment is None:
            for name in _LOCAL_COLUMNS:
                setattr(self, name, None)
            return
        self.local_currency, self.local_amount_minor = payment.currency, payment.amount_minor
        self.exchange_rate, self.exchange_rate_source = payment.rate, ExchangeRateSource(payment.source)

    @property
    def problem(self) -> str:
        """The last problem, while it matters (failed or retrying); empty otherwise."""
        return self.last_error if self.status in SHOWS_PROBLEM else ""

    @property
    def next_try(self) -> datetime | None:
        """When a retrying disbursement is tried again."""
        return self.next_attempt_at if self.status is DisbursementStatus.RETRYING else None


def local_amount_major_sql() -> Any:
    """A select column: the local amount in major units (Decimal, with the currency's decimals), NULL for USD."""
    joined = Disbursement.local_currency + ":" + sa.cast(Disbursement.local_amount_minor, sa.String)
    return sa.type_coerce(joined, _MinorAsMajor())


class DisbursementApproval(db.Model):
    __tablename__ = "disbursement_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    disbursement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("disbursements.id", ondelete="CASCADE"), index=True, nullable=False)
    approver_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    # The approver's personal limit when they approved (`accounts.authority.approver_for`): the approval's
    # history stays as it was when their limit changes later.
    limit_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    disbursement: Mapped[Disbursement] = relationship(back_populates="approvals")
    approver: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("disbursement_id", "approver_id", name="uq_disbursement_approvals_pair"),)


class DisbursementEvent(db.Model):
    """The timeline a grantee sees: every transition, who caused it and why."""

    __tablename__ = "disbursement_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    disbursement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("disbursements.id", ondelete="CASCADE"), index=True, nullable=False)
    from_status: Mapped[str | None] = mapped_column(sa.String(40))
    to_status: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    disbursement: Mapped[Disbursement] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def changed(self) -> bool:
        """False for notes that leave the status as it was (an approval of several, a payout failure)."""
        return self.from_status != self.to_status

    @property
    def new_status(self) -> DisbursementStatus:
        return DisbursementStatus(self.to_status)


class StripeEvent(db.Model):
    """Each Stripe webhook event is handled once: its id is the primary key."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    payload: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
