"""The results framework's indicators: per catalogue code, how many grants measure it and how many of its
indicators' latest verified values reached their target (facility-wide, like the capital raised; values not yet
verified never count). One statement, whatever the number of grants."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from facility.challenges.indicators import CATALOGUE, Framework
from facility.extensions import db
from facility.grants.indicator_models import IndicatorReading, ReadingStatus, TrancheIndicator
from facility.grants.models import Grant, GrantStatus, Tranche
from facility.proposals.indicator_models import Direction

_ORDER = {item.code: position for position, item in enumerate(CATALOGUE)}


@dataclass(frozen=True)
class IndicatorResult:
    code: str
    framework: Framework | None
    grants: int
    verified: int
    reached: int


def indicator_results() -> list[IndicatorResult]:
    """Per code measured by a grant not cancelled: grants measuring it, indicators with a verified value, and
    those whose latest verified value is at target (at or above it to increase, at or below it to decrease), in
    catalogue order. A value verified again replaces the earlier one; it is not counted twice."""
    reached = sa.or_(
        sa.and_(TrancheIndicator.direction == Direction.INCREASE,
                IndicatorReading.value_scaled >= TrancheIndicator.target_scaled),
        sa.and_(TrancheIndicator.direction == Direction.DECREASE,
                IndicatorReading.value_scaled <= TrancheIndicator.target_scaled))
    # Each indicator counts once, by its latest verified value (as the payment condition and the grant page read it).
    latest = (sa.select(IndicatorReading.indicator_id, sa.func.max(IndicatorReading.id).label("reading_id"))
              .where(IndicatorReading.status == ReadingStatus.VERIFIED)
              .group_by(IndicatorReading.indicator_id).subquery())
    rows = db.session.execute(
        sa.select(TrancheIndicator.code, sa.func.count(sa.distinct(Tranche.grant_id)),
                  sa.func.count(IndicatorReading.id),
                  sa.func.coalesce(sa.func.sum(sa.case((sa.and_(IndicatorReading.id.is_not(None), reached), 1),
                                                       else_=0)), 0))
        .join(Tranche, Tranche.id == TrancheIndicator.tranche_id)
        .join(Grant, Grant.id == Tranche.grant_id)
        .outerjoin(latest, latest.c.indicator_id == TrancheIndicator.id)
        .outerjoin(IndicatorReading, IndicatorReading.id == latest.c.reading_id)
        .where(Grant.status != GrantStatus.CANCELLED)
        .group_by(TrancheIndicator.code)
    ).all()
    frameworks = {item.code: item.framework for item in CATALOGUE}
    results = [IndicatorResult(code, frameworks.get(code), int(grants), int(verified), int(hit))
               for code, grants, verified, hit in rows]
    return sorted(results, key=lambda r: _ORDER.get(r.code, len(_ORDER)))
