"""A tranche whose payment depends on an indicator: refused before verification and when the verified value
misses the target, requested and paid once a verified value reaches it (`grants.policy.payment_condition`)."""
from __future__ import annotations

import pytest

from facility.core.errors import Conflict
from facility.disbursements import policy as disbursement_policy
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants import indicators
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import TrancheStatus
from facility.ledger.verify import verify_ledger
from facility.proposals.indicator_models import Direction


def _condition(grant, manager, *, direction=Direction.INCREASE, baseline=40, target=80):
    tranche = grant.tranches[0]
    item = TrancheIndicator(code="EC: I: WS: 1C", unit="%", baseline_scaled=baseline * 10_000,
                            target_scaled=target * 10_000, direction=direction, method="Household survey")
    tranche.indicators.append(item)
    db.session.flush()
    indicators.set_condition(indicator=item, actor=manager, is_condition=True)
    db.session.commit()
    return item


def _verified(item, grantee, verifier, value):
    reading = indicators.report_reading(indicator=item, actor=grantee, value=value, note="Survey of 400 homes")
    db.session.commit()
    indicators.verify_reading(reading=reading, actor=verifier)
    db.session.commit()
    return reading


def test_a_conditional_tranche_is_refused_before_verification_and_paid_after(payable, run_jobs, make_user):
    grant, requester, approver, grantee = payable(rail="manual")
    item = _condition(grant, requester)
    tranche = grant.tranches[0]
    assert tranche.status is TrancheStatus.ACCEPTED

    refusal = disbursement_policy.can_request(requester, tranche)
    assert refusal is not None and refusal.is_state and "no value of it is verified" in refusal.reason
    with pytest.raises(Conflict, match="no value of it is verified"):
        requests.request_disbursement(tranche=tranche, actor=requester)
    db.session.rollback()

    # Reported but not verified: still refused.
    indicators.report_reading(indicator=item, actor=grantee, value="85")
    db.session.commit()
    with pytest.raises(Conflict, match="no value of it is verified"):
        requests.request_disbursement(tranche=tranche, actor=requester)
    db.session.rollback()

    indicators.verify_reading(reading=item.pending_reading, actor=approver, comment="Checked the survey")
    db.session.commit()
    assert disbursement_policy.can_request(requester, tranche) is None
    d = requests.request_disbursement(tranche=tranche, actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    d = db.session.get(Disbursement, d.id)
    requests.confirm_manual_payment(disbursement=d, actor=make_user("fund_manager"), bank_reference="FT1")
    db.session.commit()
    assert d.status is DisbursementStatus.PAID and d.tranche.status is TrancheStatus.PAID
    assert verify_ledger() == []


def test_a_verified_value_that_misses_the_target_is_refused(payable, make_user):
    grant, requester, approver, grantee = payable(rail="manual")
    item = _condition(grant, requester)
    _verified(item, grantee, approver, "79.5")
    with pytest.raises(Conflict, match="latest verified value is 79.5"):
        requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.rollback()
    _verified(item, grantee, approver, "80")  # at the target: reached
    assert disbursement_policy.can_request(requester, grant.tranches[0]) is None


def test_a_decrease_is_reached_at_or_below_the_target(payable):
    grant, requester, approver, grantee = payable(rail="manual")
    item = _condition(grant, requester, direction=Direction.DECREASE, baseline=60, target=35)
    _verified(item, grantee, approver, "36")
    assert disbursement_policy.can_request(requester, grant.tranches[0]) is not None
    _verified(item, grantee, approver, "35")
    assert disbursement_policy.can_request(requester, grant.tranches[0]) is None


def test_a_rejected_value_does_not_count_and_an_indicator_that_is_no_condition_does_not_hold_payment(payable):
    grant, requester, approver, grantee = payable(rail="manual")
    item = _condition(grant, requester)
    reading = indicators.report_reading(indicator=item, actor=grantee, value="90")
    db.session.commit()
    indicators.reject_reading(reading=reading, actor=approver, comment="The survey covers one district only")
    db.session.commit()
    assert disbursement_policy.can_request(requester, grant.tranches[0]) is not None
    indicators.set_condition(indicator=item, actor=requester, is_condition=False)
    db.session.commit()
    assert disbursement_policy.can_request(requester, grant.tranches[0]) is None
