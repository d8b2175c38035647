"""A tranche's indicators (copied from its milestone at award) and the values the grantee reports for them.

A fund manager may make an indicator a payment condition (`is_condition`): the tranche is then paid only
once a verified reading reaches the target (`grants.indicators.condition_refusal`). Values are scaled
integers like the milestone indicators' (`proposals.indicator_models.VALUE_SCALE`).
"""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from facility.accounts.models import User
from facility.core.labels import labelled
from facility.core.models import enum_column, utcnow
from facility.core.states import Transitions
from facility.extensions import db
from facility.grants.models import MilestoneReport, Tranche
from facility.proposals.indicator_models import UNIT_CHARS, Direction, IndicatorTerms, unscaled


class TrancheIndicator(IndicatorTerms, db.Model):
    """An indicator a tranche's milestone is measured with; a payment condition when `is_condition`."""

    __tablename__ = "tranche_indicators"
    __table_args__ = (sa.UniqueConstraint("tranche_id", "code", name="uq_tranche_indicators_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tranche_id: Mapped[int] = mapped_column(sa.ForeignKey("tranches.id", ondelete="CASCADE"), index=True,
                                            nullable=False)
    code: Mapped[str] = mapped_column(sa.String(30), index=True, nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(UNIT_CHARS), default="", nullable=False)
    baseline_scaled: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    target_scaled: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    direction: Mapped[Direction] = mapped_column(enum_column(Direction), nullable=False)
    method: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    is_condition: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false(), nullable=False)

    tranche: Mapped[Tranche] = relationship(backref=backref(
        "indicators", order_by="TrancheIndicator.id", cascade="all, delete-orphan"))
    readings: Mapped[list[IndicatorReading]] = relationship(
        back_populates="indicator", order_by="IndicatorReading.id", cascade="all, delete-orphan")

    @property
    def latest_verified(self) -> IndicatorReading | None:
        """The newest verified reading (what the public, the results and the condition go by)."""
        verified = [r for r in self.readings if r.status is ReadingStatus.VERIFIED]
        return verified[-1] if verified else None

    @property
    def pending_reading(self) -> IndicatorReading | None:
        """The reading awaiting verification, if any (one at a time)."""
        return next((r for r in self.readings if r.status is ReadingStatus.SUBMITTED), None)

    @property
    def reached(self) -> bool:
        """True when the latest verified reading reaches the target (by direction)."""
        latest = self.latest_verified
        return latest is not None and self.direction.reached(latest.value, self.target)


@labelled({"submitted": _l("Awaiting verification"), "verified": _l("Verified"), "rejected": _l("Rejected")},
          tones={"submitted": "waiting", "verified": "good", "rejected": "bad"})
class ReadingStatus(str, enum.Enum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"


READING_TRANSITIONS = Transitions(ReadingStatus, {
    ReadingStatus.SUBMITTED: {ReadingStatus.VERIFIED, ReadingStatus.REJECTED},
    ReadingStatus.VERIFIED: set(),
    ReadingStatus.REJECTED: set(),  # the grantee reports a new reading instead
})
"""A reading is born submitted; a fund manager other than its reporter verifies or rejects it, once."""


class IndicatorReading(db.Model):
    """A value the grantee measured for a tranche indicator, with its evidence: the milestone report whose files
    back it (the tranche's latest when reported) and/or a note; a fund manager verifies or rejects it."""

    __tablename__ = "indicator_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("tranche_indicators.id", ondelete="CASCADE"), index=True,
                                              nullable=False)
    value_scaled: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    note: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("milestone_reports.id", ondelete="SET NULL"))
    status: Mapped[ReadingStatus] = mapped_column(enum_column(ReadingStatus), default=ReadingStatus.SUBMITTED,
                                                  index=True, nullable=False)
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None] = mapped_column()
    comment: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)

    indicator: Mapped[TrancheIndicator] = relationship(back_populates="readings")
    report: Mapped[MilestoneReport | None] = relationship()
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])

    @property
    def value(self) -> Decimal:
        return unscaled(self.value_scaled)
