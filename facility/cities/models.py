"""City profiles and how the facility ranks them."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.accounts.models import Organization, User, enum_column
from facility.cities import countries
from facility.core.labels import labelled
from facility.core.models import TimestampMixin
from facility.extensions import db


@labelled({"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")},
          tones={"low": "good", "high": "bad"})
class ClimateRisk(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@labelled({"small": _l("Small city (under 500,000)"), "medium": _l("Medium-sized city (500,000 to 1 million)"),
           "large": _l("Large city (1 to 5 million)"), "very_large": _l("Very large city (5 to 10 million)"),
           "megacity": _l("Megacity (10 million or more)")})
class SizeClass(str, enum.Enum):
    """UN World Urbanization Prospects size classes."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    VERY_LARGE = "very_large"
    MEGACITY = "megacity"


def size_class_for(population: int) -> SizeClass:
    """small < 500,000 <= medium < 1M <= large < 5M <= very_large < 10M <= megacity."""
    if population < 500_000:
        return SizeClass.SMALL
    if population < 1_000_000:
        return SizeClass.MEDIUM
    if population < 5_000_000:
        return SizeClass.LARGE
    if population < 10_000_000:
        return SizeClass.VERY_LARGE
    return SizeClass.MEGACITY


# The priority score (0..100) puts the facility's policy in numbers. Each component is
# (points, maximum); the score is their sum, capped at 100:
#   city size            small 25, medium 20, large 10, very_large 5, megacity 0
#   marginalised people  informal-settlement share % x 20 / 100, rounded half up (0..20)
#   climate risk         low 0, medium 8, high 15
#   Global South         15
#   UN country groups    LDC 10, LLDC 5, SIDS 10 (at most 20: no country is LLDC and SIDS)
SIZE_POINTS = {SizeClass.SMALL: 25, SizeClass.MEDIUM: 20, SizeClass.LARGE: 10,
               SizeClass.VERY_LARGE: 5, SizeClass.MEGACITY: 0}
INFORMAL_MAX = 20
CLIMATE_POINTS = {ClimateRisk.LOW: 0, ClimateRisk.MEDIUM: 8, ClimateRisk.HIGH: 15}
GLOBAL_SOUTH_POINTS = 15
GROUP_POINTS = {"LDC": 10, "LLDC": 5, "SIDS": 10}
GROUP_MAX = 20


@dataclass(frozen=True)
class ScoreComponent:
    key: str
    points: int
    maximum: int
    reason: str  # untranslated fact, e.g. "small", "37%", "LDC, LLDC" (the API's)
    fact: Any = None  # what a page shows instead, when the fact is an enum member or a yes/no


class City(TimestampMixin, db.Model):
    __tablename__ = "cities"
    __table_args__ = (
        sa.CheckConstraint("population > 0", name="population_positive"),
        sa.CheckConstraint(
            "informal_settlement_share_pct >= 0 AND informal_settlement_share_pct <= 100",
            name="informal_share_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), unique=True, nullable=False
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    country: Mapped[str] = mapped_column(sa.String(3), index=True, nullable=False)  # ISO 3166-1 alpha-3
    population: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    informal_settlement_share_pct: Mapped[int] = mapped_column(nullable=False)
    climate_risk: Mapped[ClimateRisk] = mapped_column(enum_column(ClimateRisk), nullable=False)
    verified_at: Mapped[datetime | None] = mapped_column()
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship(lazy="joined")
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    # --- derived facts -------------------------------------------------------------
    @property
    def size_class(self) -> SizeClass:
        return size_class_for(self.population)

    @property
    def country_groups(self) -> list[str]:
        return countries.country_groups(self.country)

    @property
    def global_south(self) -> bool:
        return countries.is_global_south(self.country)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    def priority_components(self) -> list[ScoreComponent]:
        """Each part of the priority score with its points, maximum and the fact behind it."""
        size = self.size_class
        share = self.informal_settlement_share_pct
        groups = self.country_groups
        return [
            ScoreComponent("size", SIZE_POINTS[size], max(SIZE_POINTS.values()), size.value, size),
            ScoreComponent("informal_settlements", (share * INFORMAL_MAX + 50) // 100, INFORMAL_MAX, f"{share}%"),
            ScoreComponent("climate_risk", CLIMATE_POINTS[self.climate_risk], max(CLIMATE_POINTS.values()),
                           self.climate_risk.value, self.climate_risk),
            ScoreComponent("global_south", GLOBAL_SOUTH_POINTS if self.global_south else 0, GLOBAL_SOUTH_POINTS,
                           "yes" if self.global_south else "no", self.global_south),
            ScoreComponent("country_groups", min(GROUP_MAX, sum(GROUP_POINTS[g] for g in groups)), GROUP_MAX,
                           ", ".join(groups) or "-"),
        ]

    @property
    def priority_score(self) -> int:
        """0..100: the sum of `priority_components()`, capped at 100."""
        return min(100, sum(c.points for c in self.priority_components()))
