"""Disbursement services and jobs: four eyes, both rails, retries, the sweep, reversals and the ledger check."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.disbursements import jobs, payments, requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import GrantStatus, TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code
from facility.ledger.verify import verify_ledger
from facility.queue import get_queue

S = DisbursementStatus


def _fresh(disbursement) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement.id)


def _approved(grant, requester, approver, position=1):
    d = requests.request_disbursement(tranche=grant.tranches[position - 1], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    return d


def test_stripe_rail_pays_once_after_a_second_fund_manager_approves(payable, run_jobs, fake_stripe):
    grant, requester, approver, grantee = payable()
    commitment_before = balance(commitment_code(grant.id))
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    assert d.status is S.REQUESTED and d.tranche.status is TrancheStatus.DISBURSING
    with pytest.raises(PermissionDenied):
        requests.approve_disbursement(disbursement=d, actor=requester)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        requests.approve_disbursement(disbursement=d, actor=grantee)
    db.session.rollback()
    assert len(get_queue("payments")) == 0

    requests.approve_disbursement(disbursement=d, actor=approver)
    assert len(get_queue("payments")) == 0  # not before the commit
    db.session.commit()
    assert _fresh(d).status is S.QUEUED and len(get_queue("payments")) == 1

    run_jobs()
    d = _fresh(d)
    assert d.status is S.PAID and d.paid_at is not None
    [transfer] = fake_stripe.transfers.values()
    assert (transfer["id"], transfer["amount"], transfer["destination"]) == (d.provider_reference, 1_000_000, "acct_1Grantee01")
    assert transfer["metadata"]["disbursement_id"] == str(d.id)
    assert balance(commitment_code(grant.id)) == commitment_before - 1_000_000
    assert d.tranche.status is TrancheStatus.PAID and grant.status is GrantStatus.ACTIVE
    assert [e.to_status for e in d.events] == ["requested", "queued", "processing", "paid"]
    assert verify_ledger() == []


def test_the_last_tranche_completes_the_grant(payable, run_jobs):
    grant, requester, approver, _ = payable(amounts=(500_000,))
    d = _approved(grant, requester, approver)
    run_jobs()
    assert _fresh(d).status is S.PAID
    assert _fresh(d).grant.status is GrantStatus.COMPLETED
    assert balance(commitment_code(grant.id)) == 0


def test_a_tranche_without_accepted_evidence_cannot_be_requested(payable):
    grant, requester, _, _ = payable(accept=())
    with pytest.raises(Conflict, match="evidence"):
        requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 0


def test_one_live_disbursement_per_tranche(payable):
    grant, requester, _, _ = payable()
    requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    with pytest.raises(Conflict):
        requests.request_disbursement(tranche=grant.tranches[0], actor=requester)


def test_large_amounts_need_two_approvals_and_one_person_approves_once(payable, make_user, two_approvals_above_usd_5000):
    grant, requester, approver, _ = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    assert d.required_approvals == 2
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    assert _fresh(d).status is S.REQUESTED
    with pytest.raises(Conflict, match="already approved"):
        requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.rollback()
    requests.approve_disbursement(disbursement=d, actor=make_user("fund_manager"))
    db.session.commit()
    assert _fresh(d).status is S.QUEUED


def test_manual_rail_waits_for_the_bank_reference(payable, run_jobs, fake_stripe, make_user):
    grant, requester, approver, _ = payable(rail="manual")
    finance = make_user("fund_manager")  # neither requester nor approver (tests/disbursements/test_duties.py)
    d = _approved(grant, requester, approver)
    run_jobs()
    d = _fresh(d)
    assert d.status is S.AWAITING_CONFIRMATION
    assert d.payment_instruction["account"] == "•••• 5432"
    assert d.payment_instruction["amount_cents"] == 1_000_000
    assert "GB82WEST12345698765432" not in str(d.payment_instruction)
    assert fake_stripe.transfers == {}
    with pytest.raises(ValidationFailed):
        requests.confirm_manual_payment(disbursement=d, actor=finance, bank_reference="  ")
    db.session.rollback()
    requests.confirm_manual_payment(disbursement=d, actor=finance, bank_reference="FT2611230042")
    db.session.commit()
    d = _fresh(d)
    assert (d.status, d.bank_reference) == (S.PAID, "FT2611230042")
    with pytest.raises(Conflict):
        requests.confirm_manual_payment(disbursement=d, actor=finance, bank_reference="again")
    db.session.rollback()
    assert verify_ledger() == []


def test_manual_payment_refused_by_the_bank_can_be_requeued(payable, run_jobs):
    grant, requester, approver, _ = payable(rail="manual")
    d = _approved(grant, requester, approver)
    run_jobs()
    requests.fail_manual_payment(disbursement=_fresh(d), actor=approver, reason="Account closed")
    db.session.commit()
    assert _fresh(d).status is S.FAILED and _fresh(d).last_error == "Account closed"
    requests.requeue_disbursement(disbursement=_fresh(d), actor=approver)
    db.session.commit()
    run_jobs()
    assert _fresh(d).status is S.AWAITING_CONFIRMATION


def test_cancel_before_processing_frees_the_tranche_and_later_is_refused(payable, run_jobs):
    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    with pytest.raises(ValidationFailed):
        requests.cancel_disbursement(disbursement=d, actor=requester, reason="")
    db.session.rollback()
    requests.cancel_disbursement(disbursement=d, actor=requester, reason="Wrong account")
    db.session.commit()
    d = _fresh(d)
    assert d.status is S.CANCELLED and d.live_tranche_id is None and d.tranche.status is TrancheStatus.ACCEPTED
    run_jobs()  # the queued job finds nothing to do
    assert _fresh(d).status is S.CANCELLED
    again = _approved(grant, requester, approver)
    run_jobs()
    assert _fresh(again).status is S.PAID
    with pytest.raises(Conflict):
        requests.cancel_disbursement(disbursement=again, actor=requester, reason="Too late")


def test_a_decline_fails_with_stripes_reason_and_a_requeue_pays(payable, run_jobs, fake_stripe, make_user):
    from facility.grants import payouts
    from tests.conftest import PASSWORD

    grant, requester, approver, grantee = payable(stripe_account="acct_1Declined00")
    d = _approved(grant, requester, approver)
    run_jobs()
    d = _fresh(d)
    assert d.status is S.FAILED and "capabilities" in d.last_error
    assert fake_stripe.transfers == {}
    payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id="acct_1Grantee02",
                              confirm_password=PASSWORD)
    db.session.commit()
    requests.requeue_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    d = _fresh(d)
    assert d.status is S.PAID
    [transfer] = fake_stripe.transfers.values()
    assert transfer["destination"] == "acct_1Grantee02"


def test_server_errors_retry_with_backoff_and_the_sweep_runs_overdue_retries(payable, run_jobs, fake_stripe):
    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    fake_stripe.add_fault("500", count=1, path="/v1/transfers", method="POST")
    run_jobs()
    d = _fresh(d)
    assert d.status is S.RETRYING and d.attempts == 1 and d.next_attempt_at > utcnow()
    assert fake_stripe.transfers == {}
    assert payments.claim_disbursement(disbursement_id=d.id) is None  # a retry waits for its backoff
    db.session.rollback()
    with time_machine.travel(utcnow() + timedelta(hours=2)):
        assert jobs.sweep()["requeued"] == 1  # no scheduler runs in tests: the overdue retry is queued now
        run_jobs()
    assert _fresh(d).status is S.PAID
    assert len(fake_stripe.transfers) == 1


def test_a_lost_answer_is_found_by_the_look_up_not_paid_twice(payable, run_jobs, fake_stripe):
    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    fake_stripe.add_fault("lose_answer", count=1, path="/v1/transfers", method="POST")
    run_jobs()
    assert _fresh(d).status is S.RETRYING
    assert len(fake_stripe.transfers) == 1  # Stripe made it; we did not hear
    with time_machine.travel(utcnow() + timedelta(hours=2)):
        jobs.sweep()
        run_jobs()
    d = _fresh(d)
    assert d.status is S.PAID and len(fake_stripe.transfers) == 1
    assert "earlier attempt" in d.events[-1].note


def test_retries_give_up_after_the_policy_limit(payable, run_jobs, fake_stripe):
    from facility.disbursements.rails import RETRY_POLICY

    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    fake_stripe.add_fault("500", count=100, path="/v1/transfers", method="POST")
    now = utcnow()
    for step in range(RETRY_POLICY.max_tries):
        with time_machine.travel(now + timedelta(hours=2 * step)):
            if step:
                jobs.sweep()
            run_jobs()
    d = _fresh(d)
    assert d.status is S.FAILED and d.attempts == RETRY_POLICY.max_tries
    assert fake_stripe.transfers == {}


def test_sweep_requeues_a_queued_disbursement_whose_job_redis_lost(payable, run_jobs, fake_stripe):
    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    get_queue("payments").empty()  # Redis lost the job
    assert jobs.sweep()["requeued"] == 0  # within the grace period the job may still be on its way
    with time_machine.travel(utcnow() + timedelta(minutes=5)):
        assert jobs.sweep() == {"checked": 1, "requeued": 1}
        assert jobs.sweep()["requeued"] == 0  # it has a job now
    run_jobs()
    assert _fresh(d).status is S.PAID and len(fake_stripe.transfers) == 1


def test_sweep_takes_over_a_processing_disbursement_whose_worker_died(payable, run_jobs, fake_stripe):
    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    # A worker claimed it, paid at Stripe, and died before recording anything.
    assert payments.claim_disbursement(disbursement_id=d.id) is not None
    db.session.commit()
    get_queue("payments").empty()
    from facility.disbursements.stripe_gateway import transfer_for_disbursement

    assert transfer_for_disbursement(disbursement_id=d.id, amount_cents=1_000_000, destination="acct_1Grantee01",
                                     grant_reference="x").paid
    assert payments.claim_disbursement(disbursement_id=d.id) is None  # not stale yet: nobody else takes it
    db.session.rollback()
    with time_machine.travel(utcnow() + timedelta(minutes=10)):
        assert jobs.sweep()["requeued"] == 1
        run_jobs()
    d = _fresh(d)
    assert d.status is S.PAID and len(fake_stripe.transfers) == 1
    assert verify_ledger() == []


def test_only_fund_managers_act(payable, make_user):
    grant, requester, approver, grantee = payable()
    for outsider in (grantee, make_user("city_official"), make_user("admin")):
        with pytest.raises(PermissionDenied):
            requests.request_disbursement(tranche=grant.tranches[0], actor=outsider)
        db.session.rollback()


def test_ledger_verify_catches_a_paid_disbursement_without_its_posting(payable, run_jobs):
    grant, requester, approver, _ = payable(rail="manual")
    d = _approved(grant, requester, approver)
    run_jobs()
    db.session.execute(sa.update(Disbursement).where(Disbursement.id == d.id).values(status=S.PAID))
    db.session.commit()
    assert any(f"disbursement {d.id} is paid with 0 ledger postings" in p for p in verify_ledger())


def test_ledger_verify_catches_a_disbursement_posting_of_no_paid_disbursement(payable, run_jobs):
    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    run_jobs()
    assert verify_ledger() == []
    db.session.execute(sa.update(Disbursement).where(Disbursement.id == d.id).values(status=S.FAILED))
    db.session.commit()
    assert [p for p in verify_ledger() if "live disbursement posting of no paid disbursement" in p]


def test_emails_come_from_their_templates_with_links(payable, run_jobs, fake_stripe):
    from facility.core.mail import OutboundEmail

    grant, requester, approver, grantee = payable(stripe_account="acct_1Declined00")
    d = _approved(grant, requester, approver)
    run_jobs()
    mails = db.session.execute(sa.select(OutboundEmail).order_by(OutboundEmail.id)).scalars().all()
    failed = [m for m in mails if m.subject == f"Disbursement {d.id} failed"]
    assert {m.to_address for m in failed} == {requester.email, approver.email}
    assert "capabilities" in failed[0].body and f"/disbursements/{d.id}" in failed[0].body
    assert not [m for m in mails if m.to_address == grantee.email and m.subject.startswith("Payment sent")]


def test_the_grantee_hears_of_a_payment_with_a_link_to_the_grant(payable, run_jobs):
    from facility.core.mail import OutboundEmail

    grant, requester, approver, grantee = payable()
    _approved(grant, requester, approver)
    run_jobs()
    [mail] = db.session.execute(sa.select(OutboundEmail).where(OutboundEmail.to_address == grantee.email,
                                                               OutboundEmail.subject.like("Payment sent%"))).scalars()
    assert mail.subject == "Payment sent: USD 10,000.00"
    assert "Tranche 1 of your grant has been paid (USD 10,000.00)" in mail.body and f"/grants/{grant.id}" in mail.body


def test_ledger_verify_reads_the_disbursement_id_from_the_posting_key(payable, run_jobs):
    """A re-posting's key `disbursement:<id>:<n>` belongs to <id>; `disbursement:<id>2` (an id that starts with
    <id>, like 12 after 1) does not. (Rows are added by hand: the ledger's transactions cannot be changed.)"""
    from facility.ledger.models import LedgerTransaction

    grant, requester, approver, _ = payable()
    d = _approved(grant, requester, approver)
    run_jobs()
    d = _fresh(d)
    first = d.ledger_transaction_id
    assert d.status is S.PAID and payments.check_paid_disbursements_posted_once() == []
    longer_id = int(f"{d.id}2")
    assert db.session.get(Disbursement, longer_id) is None

    def posting(key: str, reverses: int | None = None) -> int:
        transaction = LedgerTransaction(key=key, kind="reversal" if reverses else "disbursement", reverses_id=reverses)
        db.session.add(transaction)
        db.session.flush()
        return transaction.id

    # The first posting reversed, the re-posting `disbursement:<id>:2` is its only live one, and it points at it.
    posting(f"test-reversal:{first}", reverses=first)
    d.ledger_transaction_id = posting(f"disbursement:{d.id}:2")
    db.session.commit()
    assert payments.check_paid_disbursements_posted_once() == []

    other, other_retry = posting(f"disbursement:{longer_id}"), posting(f"disbursement:{longer_id}:1")
    db.session.commit()
    orphans = [f"ledger transaction {other} is a live disbursement posting of no paid disbursement",
               f"ledger transaction {other_retry} is a live disbursement posting of no paid disbursement"]
    assert sorted(payments.check_paid_disbursements_posted_once()) == sorted(orphans)

    posting(f"disbursement:{d.id}:3")
    db.session.commit()
    assert sorted(payments.check_paid_disbursements_posted_once()) == sorted(
        [f"disbursement {d.id} is paid with 2 ledger postings", *orphans])
