"""The indicators a proposal's milestones are measured with (`facility.challenges.indicators` codes).

Values are exact decimals stored as integers scaled by `VALUE_SCALE` (four decimal places): portable between
SQLite and PostgreSQL without floating point; `Decimal` in and out through the properties.

A milestone indicator belongs to the proposal and names its milestone by position (`milestone_position`), not
by row id: saving a draft replaces its milestone rows (`proposals.services`), and the indicators must survive
that. An indicator whose position no longer exists is ignored at award (`grants.indicators`).
"""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from facility.core.labels import labelled
from facility.core.models import enum_column, utcnow
from facility.extensions import db
from facility.proposals.models import Proposal

VALUE_SCALE = 10_000
"""Stored integer = value x VALUE_SCALE (four decimal places)."""
UNIT_CHARS = 40
METHOD_CHARS = 1000


def scaled(value: Decimal) -> int:
    return int(value * VALUE_SCALE)


def unscaled(stored: int) -> Decimal:
    return (Decimal(stored) / VALUE_SCALE).normalize() + 0  # "+ 0" turns -0 into 0


@labelled({"increase": _l("Increase (target reached at or above)"),
           "decrease": _l("Decrease (target reached at or below)")})
class Direction(str, enum.Enum):
    INCREASE = "increase"  # reached when value >= target
    DECREASE = "decrease"  # reached when value <= target

    def reached(self, value: Decimal, target: Decimal) -> bool:
        """Rule: a value reaches its target at or above it (increase) or at or below it (decrease)."""
        return value >= target if self is Direction.INCREASE else value <= target


class IndicatorTerms:
    """What a milestone and a tranche indicator share: code, unit, baseline, target, direction, method."""

    if TYPE_CHECKING:
        code: str
        unit: str
        baseline_scaled: int
        target_scaled: int
        direction: Direction
        method: str

    @property
    def baseline(self) -> Decimal:
        return unscaled(self.baseline_scaled)

    @property
    def target(self) -> Decimal:
        return unscaled(self.target_scaled)


class MilestoneIndicator(IndicatorTerms, db.Model):
    """An indicator a proposal's milestone (by position) promises to move from a baseline to a target."""

    __tablename__ = "milestone_indicators"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "milestone_position", "code",
                                          name="uq_milestone_indicators_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(sa.ForeignKey("proposals.id", ondelete="CASCADE"), index=True,
                                             nullable=False)
    milestone_position: Mapped[int] = mapped_column(nullable=False)
    code: Mapped[str] = mapped_column(sa.String(30), nullable=False)
    unit: Mapped[str] = mapped_column(sa.String(UNIT_CHARS), default="", nullable=False)
    baseline_scaled: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    target_scaled: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    direction: Mapped[Direction] = mapped_column(enum_column(Direction), nullable=False)
    method: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    proposal: Mapped[Proposal] = relationship(backref=backref(
        "milestone_indicators", order_by="(MilestoneIndicator.milestone_position, MilestoneIndicator.id)",
        cascade="all, delete-orphan"))
