"""seed-demo shows a disbursement in every state, on both rails, with a sound ledger."""
import sqlalchemy as sa

from facility.demo import seed
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import Grant, GrantRefund, GrantStatus, TrancheStatus
from facility.grants.paid import net_paid_cents
from facility.ledger.balances import balance, facility_totals
from facility.ledger.services import commitment_code
from facility.ledger.verify import verify_ledger


def test_demo_has_a_disbursement_in_every_state(app, stripe_on):
    seed(echo=lambda _msg: None)
    rows = db.session.execute(sa.select(Disbursement.status, Disbursement.rail)).all()
    assert {status for status, _rail in rows} == set(DisbursementStatus)
    assert {rail.value for _status, rail in rows} == {"manual", "stripe"}
    assert facility_totals()["disbursed"] > 0
    assert verify_ledger() == []
    # One payment was made in the grantee's currency (Kenyan shillings), its USD amount alone booked.
    [local] = db.session.execute(sa.select(Disbursement).where(Disbursement.local_currency.is_not(None))).scalars()
    assert (local.status, local.local_currency, local.exchange_rate_source.value) == (
        DisbursementStatus.PAID, "KES", "manual")
    assert local.local_amount_minor == local.amount_cents * 12925 // 100


def test_demo_has_a_refunded_and_a_cancelled_grant(app):
    seed(echo=lambda _msg: None)
    refund = db.session.execute(sa.select(GrantRefund)).scalar_one()
    assert refund.bank_reference == "DEMO-RET-20261120" and refund.amount_cents > 0
    paid = sum(t.amount_cents for t in refund.grant.tranches if t.status is TrancheStatus.PAID)
    assert net_paid_cents(refund.grant_id) == paid - refund.amount_cents
    cancelled = db.session.execute(sa.select(Grant).where(Grant.status == GrantStatus.CANCELLED)).scalar_one()
    assert cancelled.cancel_reason and cancelled.cancelled_at is not None
    assert {t.status for t in cancelled.tranches} == {TrancheStatus.CANCELLED}
    assert balance(commitment_code(cancelled.id)) == 0
    assert verify_ledger() == []
