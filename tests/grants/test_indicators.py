"""Tranche indicators: copied from the milestones at award; the grantee reports values, a fund manager other
than the reporter verifies or rejects them; a fund manager makes one a payment condition while unpaid."""
from __future__ import annotations

import pytest

from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.extensions import db
from facility.grants import indicators
from facility.grants.indicator_models import ReadingStatus
from facility.grants.indicator_policy import can_see_unverified_readings
from facility.grants.models import TrancheStatus
from facility.proposals.indicator_models import Direction, MilestoneIndicator
from tests import factories


@pytest.fixture
def measured(make_challenge, make_proposal, make_user, fund):
    """An active grant of two tranches made from milestones; the first milestone named two indicators."""
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    for code, target in (("EC: I: WS: 1C", 80), ("11.6.1", 60)):
        db.session.add(MilestoneIndicator(proposal_id=proposal.id, milestone_position=1, code=code, unit="%",
                                          baseline_scaled=40_0000, target_scaled=target * 10_000,
                                          direction=Direction.INCREASE, method="Survey"))
    db.session.add(MilestoneIndicator(proposal_id=proposal.id, milestone_position=9, code="11.2.1", unit="%",
                                      baseline_scaled=0, target_scaled=10_000, direction=Direction.INCREASE,
                                      method=""))  # no such milestone: ignored at award
    db.session.commit()
    fund(challenge=challenge, pool=5_000_000)
    manager = make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = factories.grants.make_grant(proposal, manager, grantee)
    return grant, manager, grantee


def test_award_copies_each_milestones_indicators_to_its_tranche(measured):
    grant, _, _ = measured
    first, second = grant.tranches
    assert [(i.code, i.baseline, i.target, i.unit, i.is_condition) for i in first.indicators] == [
        ("EC: I: WS: 1C", 40, 80, "%", False), ("11.6.1", 40, 60, "%", False)]
    assert second.indicators == []


def test_the_grantee_reports_and_another_fund_manager_verifies(measured, make_user):
    grant, manager, grantee = measured
    item = grant.tranches[0].indicators[0]
    reading = indicators.report_reading(indicator=item, actor=grantee, value="62.25", note="Meter readings")
    db.session.commit()
    assert (reading.value, reading.status, reading.report_id) == (62.25, ReadingStatus.SUBMITTED, None)
    with pytest.raises(Conflict, match="already awaits verification"):
        indicators.report_reading(indicator=item, actor=grantee, value="63")
    db.session.rollback()
    indicators.verify_reading(reading=reading, actor=manager)
    db.session.commit()
    assert reading.status is ReadingStatus.VERIFIED and reading.verified_by_id == manager.id
    assert item.latest_verified is reading and not item.reached
    with pytest.raises(Conflict, match="already verified or rejected"):
        indicators.reject_reading(reading=reading, actor=manager, comment="No")
    db.session.rollback()


def test_the_reporter_never_verifies_their_own_value(measured):
    grant, manager, grantee = measured
    reading = indicators.report_reading(indicator=grant.tranches[0].indicators[0], actor=grantee, value="50")
    reading.reported_by_id = manager.id  # as if the fund manager had reported it
    db.session.commit()
    with pytest.raises(PermissionDenied, match="does not verify"):
        indicators.verify_reading(reading=reading, actor=manager)
    db.session.rollback()


def test_reporting_is_refused_to_others_and_after_payment(measured, make_user, make_org):
    grant, manager, grantee = measured
    item = grant.tranches[0].indicators[0]
    outsider = make_user("innovator", organization=make_org(name="Elsewhere"))
    for actor in (manager, outsider, make_user("auditor"), make_user("city_official")):
        with pytest.raises(PermissionDenied):
            indicators.report_reading(indicator=item, actor=actor, value="50")
        db.session.rollback()
    grant.tranches[0].status = TrancheStatus.PAID
    db.session.commit()
    with pytest.raises(Conflict, match="paid or being paid"):
        indicators.report_reading(indicator=item, actor=grantee, value="50")
    db.session.rollback()
    with pytest.raises(Conflict, match="can no longer change"):
        indicators.set_condition(indicator=item, actor=manager, is_condition=True)
    db.session.rollback()


def test_only_fund_managers_verify_and_set_conditions(measured, make_user):
    grant, manager, grantee = measured
    item = grant.tranches[0].indicators[0]
    reading = indicators.report_reading(indicator=item, actor=grantee, value="50")
    db.session.commit()
    for actor in (grantee, make_user("auditor"), make_user("admin"), make_user("city_official")):
        with pytest.raises(PermissionDenied):
            indicators.verify_reading(reading=reading, actor=actor)
        db.session.rollback()
        with pytest.raises(PermissionDenied):
            indicators.set_condition(indicator=item, actor=actor, is_condition=True)
        db.session.rollback()
    indicators.set_condition(indicator=item, actor=manager, is_condition=True)
    db.session.commit()
    assert item.is_condition


def test_a_rejection_needs_a_comment_and_lets_the_grantee_report_again(measured):
    grant, manager, grantee = measured
    item = grant.tranches[0].indicators[0]
    reading = indicators.report_reading(indicator=item, actor=grantee, value="50")
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        indicators.reject_reading(reading=reading, actor=manager, comment="  ")
    assert "comment" in caught.value.errors
    db.session.rollback()
    indicators.reject_reading(reading=reading, actor=manager, comment="Only one district")
    db.session.commit()
    again = indicators.report_reading(indicator=item, actor=grantee, value="51")
    assert again.status is ReadingStatus.SUBMITTED and item.latest_verified is None


@pytest.mark.parametrize("value", ["", None, "abc", "1,5", "NaN", "Infinity", "1e13", "0.00001", True, [], {}])
def test_garbage_values_are_refused_on_the_value_field(measured, value):
    grant, _, grantee = measured
    with pytest.raises(ValidationFailed) as caught:
        indicators.report_reading(indicator=grant.tranches[0].indicators[0], actor=grantee, value=value)
    assert "value" in caught.value.errors
    db.session.rollback()


def test_a_reading_links_the_tranches_latest_report_as_its_evidence(measured):
    grant, manager, grantee = measured
    tranche = grant.tranches[0]
    factories.grants.milestones.submit_milestone_report(tranche=tranche, actor=grantee, text="Done",
                                                        spending=factories.grants.NO_SPENDING)
    db.session.commit()
    reading = indicators.report_reading(indicator=tranche.indicators[0], actor=grantee, value="70")
    assert reading.report_id == tranche.reports[-1].id


def test_who_sees_values_not_yet_verified(measured, make_user, make_org):
    grant, manager, grantee = measured
    official = make_user("city_official", organization=grant.challenge.city.organization)
    assert can_see_unverified_readings(grantee, grant) is None
    assert can_see_unverified_readings(manager, grant) is None
    assert can_see_unverified_readings(official, grant) is None
    assert can_see_unverified_readings(make_user("donor"), grant) is not None
    assert can_see_unverified_readings(make_user("innovator", organization=make_org(name="Other")), grant) is not None
