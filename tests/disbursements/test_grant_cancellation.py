"""A grant's payments when it is cancelled (disbursements.grant_cancellation through grants.cancellation's hook):
payments not yet taken by a worker are cancelled with it, one being made refuses it (409), a failed one is never
re-queued, nothing can be requested afterwards; and the races with a worker, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from facility.accounts.models import User
from facility.core.errors import Conflict
from facility.disbursements import lifecycle, payments, policy, requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.disbursements.rails import PaymentStatus, RailResult
from facility.extensions import db
from facility.grants import cancellation
from facility.grants.models import Grant, GrantStatus, TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, pool_code
from facility.ledger.verify import verify_ledger

S = DisbursementStatus


def _fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def _requested(grant, requester, position=1):
    d = requests.request_disbursement(tranche=grant.tranches[position - 1], actor=requester)
    db.session.commit()
    return d


def _queued(grant, requester, approver, position=1):
    d = _requested(grant, requester, position)
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    return d


def _no_enqueue(*_args, **_kwargs):
    return None


def test_a_requested_and_a_queued_payment_are_cancelled_with_the_grant(payable):
    grant, requester, approver, _ = payable(amounts=(1_000_000, 2_000_000, 500_000), accept=(1, 2))
    queued = _queued(grant, requester, approver, 1)
    requested = _requested(grant, requester, 2)
    pool_before = balance(pool_code(grant.challenge_id))

    cancellation.cancel_grant(grant=grant, actor=approver, reason="The grantee stopped the project.")
    db.session.commit()

    for d in (queued, requested):
        d = _fresh(Disbursement, d.id)
        assert d.status is S.CANCELLED and d.live_tranche_id is None and d.job_id is None
        assert d.events[-1].note == "Cancelled with the grant: The grantee stopped the project."
    grant = _fresh(Grant, grant.id)
    assert grant.status is GrantStatus.CANCELLED
    assert {t.status for t in grant.tranches} == {TrancheStatus.CANCELLED}
    assert balance(commitment_code(grant.id)) == 0
    assert balance(pool_code(grant.challenge_id)) == pool_before + 3_500_000
    assert payments.claim_disbursement(disbursement_id=queued.id) is None  # a late job finds nothing to pay
    db.session.rollback()
    assert verify_ledger() == []


def test_a_payment_being_made_refuses_the_cancellation_and_nothing_changes(payable):
    grant, requester, approver, _ = payable()
    d = _queued(grant, requester, approver)
    assert payments.claim_disbursement(disbursement_id=d.id) is not None  # a worker took it
    db.session.commit()
    with pytest.raises(Conflict, match="A payment of tranche 1 is under way"):
        cancellation.cancel_grant(grant=grant, actor=approver, reason="Stop.")
    db.session.rollback()
    grant = _fresh(Grant, grant.id)
    assert grant.status is GrantStatus.ACTIVE and grant.cancelled_at is None
    assert [t.status for t in grant.tranches] == [TrancheStatus.DISBURSING, TrancheStatus.PENDING]
    assert _fresh(Disbursement, d.id).status is S.PROCESSING

    payments.record_payment_result(disbursement_id=d.id, enqueue=_no_enqueue, result=RailResult(
        PaymentStatus.AWAITING_CONFIRMATION, message="Pay by transfer.", instruction={"payee": "W"}))
    db.session.commit()
    with pytest.raises(Conflict, match="under way"):  # awaiting the bank's confirmation: still under way
        cancellation.cancel_grant(grant=_fresh(Grant, grant.id), actor=approver, reason="Stop.")
    db.session.rollback()


def test_once_the_payment_is_made_the_grant_can_be_cancelled_and_nothing_requested(payable):
    grant, requester, approver, _ = payable(accept=(1,))
    d = _queued(grant, requester, approver)
    payments.claim_disbursement(disbursement_id=d.id)
    payments.record_payment_result(disbursement_id=d.id, enqueue=_no_enqueue,
                                   result=RailResult(PaymentStatus.PAID, provider_reference="tr_cancel_1"))
    db.session.commit()
    cancellation.cancel_grant(grant=_fresh(Grant, grant.id), actor=approver, reason="Second milestone dropped.")
    db.session.commit()
    grant = _fresh(Grant, grant.id)
    assert [t.status for t in grant.tranches] == [TrancheStatus.PAID, TrancheStatus.CANCELLED]
    assert balance(commitment_code(grant.id)) == 0
    refusal = policy.can_request(requester, grant.tranches[1])
    assert refusal is not None and refusal.error is Conflict and "active grant" in refusal.reason
    with pytest.raises(Conflict):
        requests.request_disbursement(tranche=grant.tranches[1], actor=requester)
    db.session.rollback()
    assert verify_ledger() == []


def test_a_failed_payment_is_dropped_with_the_grant_and_never_requeued(payable):
    grant, requester, approver, _ = payable(accept=(1,))
    d = _queued(grant, requester, approver)
    payments.claim_disbursement(disbursement_id=d.id)
    payments.record_payment_result(disbursement_id=d.id, enqueue=_no_enqueue,
                                   result=RailResult(PaymentStatus.FAILED, message="Account closed."))
    db.session.commit()
    cancellation.cancel_grant(grant=_fresh(Grant, grant.id), actor=approver, reason="Grantee unreachable.")
    db.session.commit()
    d = _fresh(Disbursement, d.id)
    assert d.status is S.FAILED and d.live_tranche_id is None
    assert d.tranche.status is TrancheStatus.CANCELLED
    refusal = policy.can_requeue(approver, d)
    assert refusal is not None and refusal.error is Conflict
    with pytest.raises(Conflict):
        requests.requeue_disbursement(disbursement=d, actor=approver)
    db.session.rollback()
    assert balance(commitment_code(grant.id)) == 0 and verify_ledger() == []


# --- races: each thread is a request of its own (app context, session, connection) ----------------------

def _thread(app, work):
    def run():
        with app.app_context():
            try:
                result = work()
                db.session.commit()
                return ("ok", result)
            except Conflict as error:
                db.session.rollback()
                return ("conflict", error.detail)
            finally:
                db.session.remove()
    return run


def _at_once(app, *works):
    db.session.commit()  # the test's own transaction must not hold the SQLite lock
    barrier = threading.Barrier(len(works))

    def started(work):
        def go():
            barrier.wait(timeout=30)
            return work()
        return go

    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        futures = [pool.submit(_thread(app, started(work))) for work in works]
        results = [future.result(timeout=120) for future in futures]
    db.session.expire_all()
    return results


def _cancel(grant_id, manager_id):
    return lambda: cancellation.cancel_grant(grant=db.session.get(Grant, grant_id),
                                             actor=db.session.get(User, manager_id), reason="Race.").id


def test_a_cancellation_while_a_worker_records_a_payment_gets_409_and_the_payment_completes_once(paying_app, payable):
    grant, requester, approver, _ = payable()
    d = _queued(grant, requester, approver)
    assert payments.claim_disbursement(disbursement_id=d.id) is not None
    db.session.commit()
    commitment = balance(commitment_code(grant.id))
    d_id = d.id  # the threads read no object of the test's session

    def pay():
        return payments.record_payment_result(disbursement_id=d_id, enqueue=_no_enqueue, result=RailResult(
            PaymentStatus.PAID, provider_reference="tr_race_1")).status

    pool_before = balance(pool_code(grant.challenge_id))
    cancelled, paid = _at_once(paying_app, _cancel(grant.id, approver.id), pay)
    # The payment's lock wins: the cancellation is refused while the payment is processing or being recorded,
    # or it waits and comes after the recorded payment (SQLite's write lock serialises them).
    assert cancelled[0] in ("conflict", "ok"), cancelled
    if cancelled[0] == "conflict":
        assert any(words in cancelled[1] for words in ("under way", "being recorded", "being changed"))
    assert paid == ("ok", S.PAID)
    d = _fresh(Disbursement, d.id)
    assert d.status is S.PAID and d.tranche.status is TrancheStatus.PAID
    assert [e.to_status for e in d.events].count("paid") == 1
    assert verify_ledger() == []
    if cancelled[0] == "conflict":  # afterwards the cancellation goes through and returns the rest
        cancellation.cancel_grant(grant=_fresh(Grant, grant.id), actor=approver, reason="After the payment.")
        db.session.commit()
    grant = _fresh(Grant, grant.id)
    assert grant.status is GrantStatus.CANCELLED
    assert [t.status for t in grant.tranches] == [TrancheStatus.PAID, TrancheStatus.CANCELLED]
    assert balance(commitment_code(grant.id)) == 0
    assert balance(pool_code(grant.challenge_id)) == pool_before + commitment - 1_000_000  # paid once, the rest back
    assert verify_ledger() == []


@pytest.mark.parametrize("round_", range(3))
def test_a_cancellation_and_a_workers_claim_of_a_queued_payment_exactly_one_wins(paying_app, payable, round_):
    grant, requester, approver, _ = payable()
    d = _queued(grant, requester, approver)
    pool_before = balance(pool_code(grant.challenge_id))
    d_id = d.id  # the threads read no object of the test's session

    def claim():
        claimed = payments.claim_disbursement(disbursement_id=d_id)
        return claimed is not None

    cancelled, claimed = _at_once(paying_app, _cancel(grant.id, approver.id), claim)
    d = _fresh(Disbursement, d.id)
    grant = _fresh(Grant, grant.id)
    if cancelled[0] == "ok":
        assert claimed == ("ok", False)
        assert d.status is S.CANCELLED and grant.status is GrantStatus.CANCELLED
        assert balance(pool_code(grant.challenge_id)) == pool_before + 3_000_000
    else:
        assert claimed == ("ok", True)
        assert d.status is S.PROCESSING and grant.status is GrantStatus.ACTIVE
        assert balance(pool_code(grant.challenge_id)) == pool_before
    assert verify_ledger() == []


def test_a_payment_holding_its_row_makes_the_cancellation_give_way_at_once(paying_app, payable):
    """PostgreSQL: a worker recording a payment holds the disbursement's row; the cancellation does not wait
    behind it (nor deadlock with it when the payment completes the grant): 409 at once, nothing changed."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite transactions hold the whole database's write lock: there is no row lock to give way to")
    grant, requester, approver, _ = payable()
    d = _queued(grant, requester, approver)
    d_id, grant_id = d.id, grant.id
    held, release = threading.Event(), threading.Event()

    def worker():
        with paying_app.app_context():
            try:
                lifecycle.locked(d_id)  # as record_payment_result does first
                held.set()
                release.wait(timeout=30)
            finally:
                db.session.rollback()
                db.session.remove()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert held.wait(timeout=30)
        started = time.monotonic()
        with pytest.raises(Conflict, match="being recorded right now"):
            cancellation.cancel_grant(grant=db.session.get(Grant, grant_id), actor=approver, reason="Stop.")
        assert time.monotonic() - started < 5
        db.session.rollback()
    finally:
        release.set()
        thread.join(timeout=30)
    grant = _fresh(Grant, grant_id)
    assert grant.status is GrantStatus.ACTIVE and _fresh(Disbursement, d_id).status is S.QUEUED
    assert verify_ledger() == []
