"""RQ work for disbursements: pay one (the `payments` queue) and the sweep that finds lost jobs.

The database is the source of truth; Redis only carries work. A job that is
lost (Redis flushed, a worker killed mid-payment) leaves the disbursement
`queued`, `retrying` or `processing` in the database, and `sweep()` gives it a
new job. Paying again is safe: the Stripe rail looks the transfer up before
making one, and its idempotency key is derived from the disbursement id.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from facility.core.errors import DomainError
from facility.core.hooks import after_commit
from facility.core.models import utcnow
from facility.core.reminders import send_once
from facility.core.schedule import PeriodicJob
from facility.disbursements import lifecycle, payments, policy, queries
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.disbursements.rails import PaymentStatus, RailResult, rail_for
from facility.extensions import db
from facility.queue import get_queue, get_redis, job

log = logging.getLogger(__name__)
JOB_TIMEOUT = 180  # seconds: the Stripe client gives up after STRIPE_TIMEOUT_SECONDS per call
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@job("payments", timeout=JOB_TIMEOUT)
def pay_disbursement(disbursement_id: int) -> str:
    """Claim the disbursement, call its rail, record the outcome with its ledger posting. Safe to run twice."""
    current = get_current_job()
    disbursement = payments.claim_disbursement(disbursement_id=disbursement_id,
                                               job_id=current.id if current is not None else None)
    if disbursement is None:
        db.session.rollback()
        return "skipped"
    rail_name = disbursement.rail.value
    try:
        request = payments.payment_request_for(disbursement)
    except DomainError as error:  # no payout details any more: nothing to pay into
        request, refusal = None, RailResult(PaymentStatus.FAILED, message=error.detail, code="no_payout_account")
    # `processing` is committed before the provider is called, so a crash leaves a state the sweep sees;
    # nothing is read from the database until the answer is recorded (no transaction is open meanwhile).
    db.session.commit()
    result = rail_for(rail_name).pay(request) if request is not None else refusal
    payments.record_payment_result(disbursement_id=disbursement_id, result=result, enqueue=enqueue_after_commit)
    db.session.commit()
    return result.status.value


def enqueue_after_commit(disbursement_id: int, *, job_id: str, delay_seconds: float = 0) -> None:
    """Enqueue `pay_disbursement` under `job_id` once the current transaction commits (later, if delayed)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def _enqueue() -> None:
        with app.app_context():
            _enqueue_now(disbursement_id, job_id=job_id, delay_seconds=delay_seconds)

    after_commit(_enqueue)


def _enqueue_now(disbursement_id: int, *, job_id: str, delay_seconds: float = 0) -> None:
    queue = get_queue(pay_disbursement.queue_name)
    if delay_seconds > 0:
        queue.enqueue_in(timedelta(seconds=delay_seconds), pay_disbursement, disbursement_id, job_id=job_id,
                         job_timeout=JOB_TIMEOUT)
    else:
        queue.enqueue(pay_disbursement, disbursement_id, job_id=job_id, job_timeout=JOB_TIMEOUT)


def _job_is_live(job_id: str | None, status: str) -> bool:
    """Whether Redis still holds a job that will run (or is running) for this row."""
    if not job_id:
        return False
    try:
        found = Job.fetch(job_id, connection=get_redis())
        job_status = found.get_status(refresh=False)
    except NoSuchJobError:
        return False
    if status == DisbursementStatus.PROCESSING.value:
        return False  # processing for longer than the stale limit: its worker is gone
    if status == DisbursementStatus.RETRYING.value and job_status == JobStatus.SCHEDULED:
        return False  # overdue: no scheduler is running; run it now
    return job_status in LIVE


def sweep(*, grace_seconds: float = 30) -> dict[str, int]:
    """Re-queue disbursements whose job was lost: queued or overdue retrying without a live job, stale processing.

    Commits each re-queue before enqueueing. Returns counts for the report.
    """
    counts = {"checked": 0, "requeued": 0}
    for disbursement_id, status, job_id in payments.due_for_sweep(grace_seconds=grace_seconds):
        counts["checked"] += 1
        if _job_is_live(job_id, status):
            continue
        new_job_id = payments.requeue_lost(disbursement_id=disbursement_id, status=status, job_id=job_id)
        db.session.commit()
        if new_job_id is not None:
            _enqueue_now(disbursement_id, job_id=new_job_id)
            counts["requeued"] += 1
            log.warning("sweep: disbursement %s (%s) had no live job %s; queued %s", disbursement_id, status,
                        job_id, new_job_id)
    db.session.rollback()
    return counts


def unfinished_count() -> int:
    """Disbursements a worker still has to move on (queued, retrying, processing)."""
    count = db.session.execute(sa.select(sa.func.count(Disbursement.id)).where(Disbursement.status.in_([
        DisbursementStatus.QUEUED, DisbursementStatus.RETRYING, DisbursementStatus.PROCESSING]))).scalar_one()
    db.session.rollback()
    return count


@job("payments", timeout=JOB_TIMEOUT)
def periodic_sweep() -> None:
    """The sweep as the workers run it (`PERIODIC`, once per period across workers): errors logged, never raised."""
    try:
        counts = sweep(grace_seconds=float(current_app.config.get("SWEEP_GRACE_SECONDS", 30)))
        if counts["requeued"]:
            log.warning("periodic sweep re-queued %s disbursement(s)", counts["requeued"])
    except Exception:  # a sweep failure (Redis or database down) must not fail the job: the next period tries again
        db.session.rollback()
        log.exception("periodic sweep failed")


APPROVAL_WAIT = timedelta(days=2)


@job("reminders")
def approval_reminders() -> int:
    """Rule: a payment waiting for approval for more than two days is brought, once, to every fund manager who
    may still approve it (not its requester, not one who approved it already, only one whose approval would
    count: `policy.why_approval_would_not_count`)."""
    waiting = queries.approvals_waiting_since(utcnow() - APPROVAL_WAIT)
    managers = lifecycle.fund_managers()
    sent = 0
    for disbursement in waiting:
        done = {disbursement.requested_by_id} | {approval.approver_id for approval in disbursement.approvals}
        for manager in managers:
            if manager.id not in done and policy.why_approval_would_not_count(manager, disbursement) is None:
                sent += send_once(kind="disbursements.approval_waiting", obj=disbursement, person=manager,
                                  due=disbursement.created_at, template="disbursements/approval_waiting",
                                  disbursement=disbursement)
    db.session.commit()
    return sent


PERIODIC = [
    # On the payments queue: every payment worker serves it, so the sweep runs wherever payments are paid.
    PeriodicJob(name="disbursements.sweep", func=periodic_sweep, queue="payments", every=60,
                config_key="SWEEP_INTERVAL_SECONDS"),
    PeriodicJob(name="disbursements.approval_reminders", func=approval_reminders, queue="reminders", every=3600,
                config_key="APPROVAL_REMINDERS_SCHEDULE"),
]
"""This package's periodic jobs (`core.schedule`); the app factory declares them, workers reconcile them."""
