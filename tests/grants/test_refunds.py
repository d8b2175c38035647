"""Refunds and clawbacks (grants.refunds): money a grantee returns goes back through the ledger to the pool or
unallocated funds, split by fund as the grant was paid; at most what was paid less earlier refunds; on the grant
pages, in the public ledger (kind "refund"), and in every "disbursed" figure."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the disbursements conftest
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.disbursements import payments, requests
from facility.disbursements.rails import PaymentStatus, RailResult
from facility.extensions import db
from facility.grants import cancellation, paid, refunds
from facility.grants.models import Grant, GrantRefund, GrantStatus, RefundDestination
from facility.ledger import balances as ledger_balances
from facility.ledger import movements
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from facility.ledger.models import LedgerTransaction
from facility.portfolio import public_ledger, register, results
from facility.portfolio.filters import PortfolioFilter
from facility.portfolio.pipeline import money_by_step
from tests import factories
from tests.conftest import csrf_token_from
from tests.disbursements.conftest import fake_stripe, fake_stripe_server, payable, paying_app  # noqa: F401

TODAY = utcnow().date()  # a past-or-present date even when the run crosses midnight; "the future" is computed at its use


def _pay(grant, requester, approver, position=1):
    """Tranche `position` paid through the real services (request, approval, the worker's claim and result)."""
    d = requests.request_disbursement(tranche=grant.tranches[position - 1], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    payments.claim_disbursement(disbursement_id=d.id)
    payments.record_payment_result(disbursement_id=d.id, enqueue=lambda *a, **k: None,
                                   result=RailResult(PaymentStatus.PAID, provider_reference=f"tr_refund_{d.id}"))
    db.session.commit()
    return d


def _refund(grant, manager, amount, **kwargs):
    values = {"bank_reference": "FT-RET-1", "received_on": TODAY, **kwargs}
    refund = refunds.record_refund(grant=grant, actor=manager, amount_cents=amount, **values)
    db.session.commit()
    return refund


def test_a_partial_refund_returns_to_the_pool_and_a_second_may_not_exceed_what_is_left(payable):
    grant, requester, approver, _ = payable()
    _pay(grant, requester, approver)
    pool, disbursed = ledger_balances.balance(ledger.pool_code(grant.challenge_id)), ledger_balances.balance(ledger.DISBURSED)
    assert refunds.refundable_cents(grant.id) == 1_000_000

    refund = _refund(grant, approver, 400_000, note="Unspent equipment budget")
    assert refund.destination is RefundDestination.POOL and refund.ledger_transaction_id
    assert ledger_balances.balance(ledger.pool_code(grant.challenge_id)) == pool + 400_000
    assert ledger_balances.balance(ledger.DISBURSED) == disbursed - 400_000
    posting = db.session.get(LedgerTransaction, refund.ledger_transaction_id)
    assert posting.kind == "refund" and posting.meta["grant_id"] == grant.id
    assert sorted(entry.amount_cents for entry in posting.entries) == [-400_000, 400_000]
    assert refunds.refundable_cents(grant.id) == 600_000 and paid.net_paid_cents(grant.id) == 600_000
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "grant.refunded")).scalar_one()
    assert event.details["bank_reference"] == "FT-RET-1" and event.details["amount_cents"] == 400_000

    with pytest.raises(ValidationFailed) as error:
        refunds.record_refund(grant=grant, actor=approver, amount_cents=600_001, bank_reference="FT-RET-2",
                              received_on=TODAY)
    assert "amount_cents" in error.value.errors
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(GrantRefund.id))).scalar_one() == 1

    _refund(grant, approver, 600_000, bank_reference="FT-RET-2", destination="unallocated")
    assert refunds.refundable_cents(grant.id) == 0
    with pytest.raises(Conflict, match="Nothing paid"):  # everything came back: the policy refuses
        refunds.record_refund(grant=grant, actor=approver, amount_cents=1, bank_reference="X", received_on=TODAY)
    db.session.rollback()
    assert ledger_verify.verify_ledger() == []


def test_bad_input_is_refused_field_by_field_and_changes_nothing(payable):
    grant, requester, approver, grantee = payable()
    with pytest.raises(Conflict, match="Nothing paid"):  # nothing paid yet
        refunds.record_refund(grant=grant, actor=approver, amount_cents=100, bank_reference="X", received_on=TODAY)
    db.session.rollback()
    _pay(grant, requester, approver)
    with pytest.raises(ValidationFailed) as error:
        refunds.record_refund(grant=grant, actor=approver, amount_cents=0, bank_reference="  ",
                              received_on=utcnow().date() + timedelta(days=1), destination="elsewhere")
    assert set(error.value.errors) == {"amount_cents", "bank_reference", "received_on", "destination"}
    db.session.rollback()
    for person in (grantee, AnonymousUserMixin()):
        with pytest.raises(PermissionDenied):
            refunds.record_refund(grant=grant, actor=person, amount_cents=100, bank_reference="X", received_on=TODAY)
        db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(GrantRefund.id))).scalar_one() == 0


def test_a_refund_is_split_by_fund_as_the_grant_was_paid_general_money_first(
        paying_app, make_challenge, make_proposal, make_user, fake_stripe):
    challenge = make_challenge(max_award_cents=10_000_000)
    proposal = make_proposal(challenge, amounts=(1_000_000, 2_000_000))
    manager, approver = make_user("fund_manager"), make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    earmarked = ledger.create_fund(name="Youth fund", earmark_kind="challenge", earmark_value=str(challenge.id),
                                   actor=None)
    unallocated = ledger.unallocated_account()
    ledger.post_transaction(key="test-earmarked", kind="contribution", actor=None, entries=[
        (ledger.fund_share(unallocated, earmarked), 500_000), (ledger.contributions_account(None), -500_000)])
    ledger.post_transaction(key="test-general", kind="contribution", actor=None, entries=[
        (unallocated, 2_500_000), (ledger.contributions_code(None), -2_500_000)])
    ledger.transfer(key="test-approve", source=ledger.UNALLOCATED, target=ledger.pool_account(challenge.id),
                    amount_cents=3_000_000, actor=None, kind="allocation")
    db.session.commit()
    grant = factories.grants.make_grant(proposal, manager, grantee, rail="stripe", accepted_reports=(1,))
    _pay(grant, manager, approver)  # earmarked first: 500,000 earmarked + 500,000 general
    assert refunds.disbursed_by_fund(grant.id) == {earmarked.id: 500_000, None: 500_000}

    refund = _refund(grant, approver, 700_000)
    posting = db.session.get(LedgerTransaction, refund.ledger_transaction_id)
    assert posting.meta["funds"] == [[None, 500_000], [earmarked.id, 200_000]]
    assert ledger_balances.fund_balances(ledger.pool_code(challenge.id)) == {None: 500_000, earmarked.id: 200_000}
    assert refunds.disbursed_by_fund(grant.id) == {earmarked.id: 300_000}
    assert ledger_balances.fund_balances(ledger.DISBURSED) == {None: 0, earmarked.id: 300_000}
    assert ledger_verify.verify_ledger() == []


def test_refunds_appear_in_the_public_ledger_as_refunds_linked_to_the_grant(app, payable):
    grant, requester, approver, _ = payable()
    _pay(grant, requester, approver)
    refund = _refund(grant, approver, 250_000, destination="unallocated")
    with app.test_request_context():
        _check_public_ledger(grant, refund)


def _check_public_ledger(grant, refund):
    page = public_ledger.ledger_page(public_ledger.LedgerFilter(grant=grant.id), page=1, per_page=20)
    [row] = [m for m in page.items if m.id == refund.ledger_transaction_id]
    assert row.kind == movements.REFUND and row.amount_cents == 250_000
    assert row.kind_label == "Refund from a grantee" and f"/grants/{grant.id}" in (row.link or "")
    assert row.balances["disbursed"] == ledger_balances.balance(ledger.DISBURSED)
    only = public_ledger.ledger_page(public_ledger.LedgerFilter(kind=movements.REFUND), page=1, per_page=20)
    assert [m.id for m in only.items] == [refund.ledger_transaction_id]
    by_challenge = public_ledger.ledger_page(public_ledger.LedgerFilter(challenge=grant.challenge_id), page=1,
                                             per_page=50)
    assert refund.ledger_transaction_id in [m.id for m in by_challenge.items]
    assert movements.movements_match_totals() == []


def test_a_cancelled_grant_returns_its_commitment_as_a_grant_return_in_the_public_ledger(app, payable):
    grant, _, approver, _ = payable()
    cancellation.cancel_grant(grant=grant, actor=approver, reason="Stopped.")
    db.session.commit()
    with app.test_request_context():
        page = public_ledger.ledger_page(public_ledger.LedgerFilter(grant=grant.id), page=1, per_page=20)
        newest = page.items[0]
    assert newest.kind == movements.GRANT_RETURN and newest.amount_cents == 3_000_000


def test_disbursed_figures_are_what_was_paid_net_of_refunds_also_for_a_cancelled_grant(payable):
    grant, requester, approver, _ = payable()
    _pay(grant, requester, approver)
    _refund(grant, approver, 300_000)
    cancellation.cancel_grant(grant=db.session.get(Grant, grant.id), actor=approver, reason="Stopped early.")
    db.session.commit()
    assert paid.net_paid_cents(grant.id) == 700_000
    # The set-based sum for all grants agrees with the one-grant sum, grant by grant.
    net = paid.net_paid_by_grant()
    by_grant = dict(db.session.execute(sa.select(net.c.grant_id, net.c.net_paid_cents)).all())
    assert by_grant[grant.id] == 700_000
    assert all(by_grant.get(gid, 0) == paid.net_paid_cents(gid) for gid in db.session.scalars(sa.select(Grant.id)))
    whole, _ = results.money_by_policy()
    assert whole.awarded_cents == 3_000_000
    assert whole.disbursed_cents == 700_000 == ledger_balances.facility_totals()["disbursed"]
    # The filtered money figures (the pipeline) net the refund too.
    scoped = money_by_step(PortfolioFilter(country="UGA"))
    assert scoped.disbursed == 700_000
    # The public page says what was actually paid.
    assert register.public_grant(grant.id).disbursed_cents == 700_000


# --- pages --------------------------------------------------------------------------------------

def test_the_refund_page_records_a_refund_and_the_grant_pages_show_it(client, login, payable, make_user):
    grant, requester, approver, grantee = payable()
    login(client, approver)
    assert client.get(f"/grants/{grant.id}/refunds/new").status_code == 409  # nothing paid yet
    _pay(grant, requester, approver)
    form = client.get(f"/grants/{grant.id}/refunds/new")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="bank_reference"' in html and 'name="destination"' in html
    token = csrf_token_from(html)
    too_much = client.post(f"/grants/{grant.id}/refunds/new", data={
        "csrf_token": token, "amount": "10,000.01", "bank_reference": "FT-1", "received_on": TODAY.isoformat(),
        "destination": "pool"})
    assert too_much.status_code == 422 and "At most" in too_much.get_data(as_text=True)
    done = client.post(f"/grants/{grant.id}/refunds/new", data={
        "csrf_token": token, "amount": "2,500.00", "bank_reference": "FT-RET-77", "received_on": TODAY.isoformat(),
        "destination": "pool"})
    assert done.status_code == 302
    staff = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "FT-RET-77" in staff and "USD 2,500.00" in staff

    html = client.application.test_client().get(f"/grants/{grant.id}").get_data(as_text=True)
    assert 'id="refunds-heading"' in html and "USD 2,500.00" in html and "FT-RET-77" not in html
    assert "USD 7,500.00 disbursed" in html


def test_the_refund_page_refuses_others(client, login, payable):
    grant, _, _, grantee = payable()
    assert client.get(f"/grants/{grant.id}/refunds/new").status_code == 302
    login(client, grantee)
    assert client.get(f"/grants/{grant.id}/refunds/new").status_code == 403


def test_ledger_verify_finds_a_grant_refunded_beyond_what_it_was_paid_or_cancelled_with_money_left(grant_setup):
    grant, manager, _ = grant_setup
    assert refunds.check_refunds_within_payments() == refunds.check_cancelled_commitments_empty() == []
    # Booked around the services: a "refund" of money never paid, and a cancellation that kept its commitment.
    posting = ledger.post_transaction(key="test-bad-refund", kind="refund", actor=None, entries=[
        (ledger.pool_account(grant.challenge_id), 5_000), (ledger.disbursed_account(), -5_000)])
    db.session.add(GrantRefund(grant_id=grant.id, amount_cents=5_000, bank_reference="X", received_on=TODAY,
                               destination=RefundDestination.POOL, ledger_transaction_id=posting.id))
    grant.status = GrantStatus.CANCELLED
    db.session.commit()
    problems = refunds.check_refunds_within_payments() + refunds.check_cancelled_commitments_empty()
    assert problems == [f"grant {grant.id}: refunds exceed what it was paid by 5000 cents",
                        f"cancelled grant {grant.id} still holds 3000000 cents of commitment"]
    assert set(problems) <= set(ledger_verify.verify_ledger())
