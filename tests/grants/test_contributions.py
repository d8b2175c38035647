"""Contributions: wire pledges confirmed by fund managers, card payments booked once by the webhook."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import contributions
from facility.grants.models import Contribution, ContributionStatus
from facility.ledger.balances import balance, facility_totals
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import UNALLOCATED
from facility.ledger.verify import verify_ledger


def _actions():
    return [row.action for row in db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def test_wire_pledge_gets_reference_and_books_nothing(app, donor):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=500_000, method="wire")
    db.session.commit()
    assert contribution.status == ContributionStatus.PLEDGED
    assert contribution.reference == f"UIF-C-{contribution.id:06d}"
    assert contribution.donor_organization_id == donor.organization_id
    assert facility_totals()["raised"] == 0
    info = contributions.wire_instructions(contribution)
    assert info["reference"] == contribution.reference and info["bank"] and info["iban"]
    assert "contribution.pledged" in _actions()


def test_confirming_a_wire_books_it_once(app, donor, make_user):
    manager = make_user("fund_manager")
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=500_000, method="wire")
    db.session.commit()
    contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=499_000,
                                       received_on=utcnow().date(), bank_reference="FT-123")
    db.session.commit()
    assert contribution.status == ContributionStatus.RECEIVED
    assert contribution.received_cents == 499_000 and contribution.confirmed_by_id == manager.id
    assert balance(UNALLOCATED) == 499_000
    assert balance(f"donor:{donor.organization_id}:contributions") == -499_000
    totals = facility_totals()
    assert totals["raised"] == 499_000 and totals["unallocated"] == 499_000
    tx = db.session.get(LedgerTransaction, contribution.ledger_transaction_id)
    assert tx.key == f"contribution:{contribution.id}"
    assert "contribution.confirmed" in _actions()

    with pytest.raises(Conflict):
        contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=499_000,
                                           received_on=utcnow().date(), bank_reference="FT-123")
    db.session.rollback()
    assert balance(UNALLOCATED) == 499_000
    assert verify_ledger() == []


def test_only_fund_managers_confirm(app, donor):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=500_000, method="wire")
    db.session.commit()
    with pytest.raises(PermissionDenied):
        contributions.confirm_wire_contribution(contribution=contribution, actor=donor, received_cents=1,
                                           received_on=utcnow().date(), bank_reference="x")


def test_confirmation_fields_are_checked(app, donor, make_user):
    manager = make_user("fund_manager")
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=500_000, method="wire")
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=0,
                                           received_on=utcnow().date() + timedelta(days=2), bank_reference=" ")
    assert set(caught.value.errors) == {"amount_cents", "received_on", "bank_reference"}
    db.session.rollback()
    assert balance(UNALLOCATED) == 0


def test_pledge_rules(app, donor, make_user):
    with pytest.raises(PermissionDenied):
        contributions.pledge_contribution(actor=make_user("innovator"), amount_cents=500_000, method="wire")
    with pytest.raises(ValidationFailed) as caught:
        contributions.pledge_contribution(actor=donor, amount_cents=50, method="wire")
    assert "amount_cents" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        contributions.pledge_contribution(actor=donor, amount_cents=500, method="cheque")
    assert "method" in caught.value.errors


def test_card_webhook_books_once(app, donor, stripe_on):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=2_500, method="stripe")
    db.session.commit()
    assert contribution.status == ContributionStatus.CHECKOUT_OPEN
    contributions.record_card_contribution(checkout_session_id="cs_test_1", contribution_id=contribution.id,
                                      amount_cents=2_500)
    db.session.commit()
    again = contributions.record_card_contribution(checkout_session_id="cs_test_1", contribution_id=contribution.id,
                                              amount_cents=2_500)
    db.session.commit()
    assert again.id == contribution.id and again.status == ContributionStatus.RECEIVED
    assert balance(UNALLOCATED) == 2_500
    assert db.session.execute(sa.select(sa.func.count(LedgerTransaction.id))).scalar_one() == 1
    assert _actions().count("contribution.card_received") == 1
    with pytest.raises(Conflict):
        contributions.record_card_contribution(checkout_session_id="cs_test_other", contribution_id=contribution.id,
                                          amount_cents=2_500)


def test_card_webhook_refuses_wire_and_reused_sessions(app, donor, stripe_on):
    wire = contributions.pledge_contribution(actor=donor, amount_cents=2_500, method="wire")
    card1 = contributions.pledge_contribution(actor=donor, amount_cents=2_500, method="stripe")
    card2 = contributions.pledge_contribution(actor=donor, amount_cents=2_500, method="stripe")
    db.session.commit()
    with pytest.raises(Conflict):
        contributions.record_card_contribution(checkout_session_id="cs_1", contribution_id=wire.id, amount_cents=2_500)
    contributions.record_card_contribution(checkout_session_id="cs_1", contribution_id=card1.id, amount_cents=2_500)
    db.session.commit()
    with pytest.raises(Conflict):
        contributions.record_card_contribution(checkout_session_id="cs_1", contribution_id=card2.id, amount_cents=2_500)
    db.session.rollback()
    assert db.session.get(Contribution, card2.id).status == ContributionStatus.CHECKOUT_OPEN
    assert balance(UNALLOCATED) == 2_500


# --- API -------------------------------------------------------------------------


