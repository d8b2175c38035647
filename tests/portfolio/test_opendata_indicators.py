"""IATI results: each milestone measured with indicators is a `result` whose indicators carry baseline, target
and the latest verified value as the actual (never a value not yet verified); the file stays valid."""
from __future__ import annotations

from lxml import etree

from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.indicator_models import IndicatorReading, ReadingStatus, TrancheIndicator
from facility.proposals.indicator_models import Direction
from tests.portfolio.test_opendata import add_grant, fetch, get_all, needs_validator, validate


def _measure(grant, *, verified=None, pending=None):
    tranche = grant.tranches[0]
    item = TrancheIndicator(code="EC: I: WS: 1C", unit="%", baseline_scaled=40_0000, target_scaled=80_0000,
                            direction=Direction.INCREASE, method="Survey", is_condition=True)
    tranche.indicators.append(item)
    tranche.indicators.append(TrancheIndicator(code="11.6.2", unit="µg/m³", baseline_scaled=35_0000,
                                               target_scaled=25_0000, direction=Direction.DECREASE, method=""))
    for value, status in ((verified, ReadingStatus.VERIFIED), (pending, ReadingStatus.SUBMITTED)):
        if value is not None:
            item.readings.append(IndicatorReading(value_scaled=value * 10_000, status=status, note="",
                                                  reported_at=utcnow(), comment="",
                                                  verified_at=utcnow() if status is ReadingStatus.VERIFIED else None))
    db.session.commit()


@needs_validator
def test_indicators_are_iati_results_with_verified_actuals_only(client, clock, tmp_path):
    grant = add_grant(paid=1)
    _measure(grant, verified=72, pending=95)
    files = get_all(client)
    assert validate(tmp_path, files) == []
    activity = etree.fromstring(files["/opendata/iati-activities.xml"]).find("iati-activity")
    result = activity.find("result")
    assert result.get("type") == "2" and result.findtext("title/narrative") == "Milestone 1 of Solar kiosks"
    water, air = result.findall("indicator")
    assert water.get("ascending") == "1" and air.get("ascending") == "0"
    assert water.find("reference").get("code") == "EC: I: WS: 1C"
    assert "Basic Water Supply" in water.findtext("title/narrative")
    assert water.find("baseline").get("value") == "40"
    assert water.find("period/target").get("value") == "80"
    assert water.find("period/actual").get("value") == "72"  # the verified one, not the pending 95
    assert air.find("period/actual") is None
    assert b"95" not in etree.tostring(result)


def test_a_verification_changes_the_etag(client, clock):
    grant = add_grant()
    _measure(grant)
    before = fetch(client, "/opendata/iati-activities.xml").headers["ETag"]
    clock.shift(60)
    grant.tranches[0].indicators[0].readings.append(IndicatorReading(
        value_scaled=1, status=ReadingStatus.VERIFIED, note="", comment="", reported_at=utcnow(),
        verified_at=utcnow()))
    db.session.commit()
    assert fetch(client, "/opendata/iati-activities.xml").headers["ETag"] != before
