"""The worker's side of a disbursement: claim it, say what the rail needs, record the rail's answer; the sweep's helpers.

`jobs.pay_disbursement` runs these in order, committing between them (`processing` is committed
before the rail is called). State changes that a worker, a person and the sweep may race for
(the claim, the sweep's re-queue) are conditional updates (`DISBURSEMENT_TRANSITIONS.move_if`),
so exactly one wins and the timeline records the status it actually replaced.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import joinedload

from facility.audit.services import record
from facility.core.database import key_segment
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.disbursements import lifecycle
from facility.disbursements.lifecycle import Enqueue, locked, transition
from facility.disbursements.local_currency import LocalPayment, local_details, stripe_payment
from facility.disbursements.models import DISBURSEMENT_TRANSITIONS, Disbursement, DisbursementStatus
from facility.disbursements.rails import RETRY_POLICY, PaymentRequest, PaymentStatus, RailResult, RetryPolicy
from facility.extensions import db
from facility.grants.models import Grant, PayoutRail
from facility.grants.payouts import payout_details_for
from facility.ledger.models import LedgerTransaction

S = DisbursementStatus
# A claimed disbursement whose worker has said nothing for this long is presumed dead (seconds).
DEFAULT_STALE_SECONDS = 300
# The ledger key of a disbursement's posting: `disbursement:<id>`, and `disbursement:<id>:<n>` for a re-posting.
POSTING_PREFIX = "disbursement:"


def retry_policy() -> RetryPolicy:
    """The backoff in force, from `DISBURSEMENT_RETRY_BASE_SECONDS`, `_CAP_SECONDS` and `DISBURSEMENT_MAX_TRIES`."""
    config = current_app.config
    return RetryPolicy(base_seconds=float(config.get("DISBURSEMENT_RETRY_BASE_SECONDS", RETRY_POLICY.base_seconds)),
                       cap_seconds=float(config.get("DISBURSEMENT_RETRY_CAP_SECONDS", RETRY_POLICY.cap_seconds)),
                       max_tries=int(config.get("DISBURSEMENT_MAX_TRIES", RETRY_POLICY.max_tries)))


def stale_after() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("DISBURSEMENT_STALE_SECONDS", DEFAULT_STALE_SECONDS)))


def claim_disbursement(*, disbursement_id: int, job_id: str | None = None) -> Disbursement | None:
    """Rule: one worker at a time pays a disbursement: queued or retrying -> processing, by conditional update.

    A stale `processing` (its worker died) is taken over too, but only by the
    job the sweep enqueued for it (`job_id` matches). Returns None when another
    worker has it, it was cancelled or is done. The caller commits before paying.
    """
    now = utcnow()
    takeover = sa.and_(Disbursement.status == S.PROCESSING, Disbursement.processing_started_at < now - stale_after())
    if job_id is not None:
        takeover = sa.and_(takeover, Disbursement.job_id == job_id)
    # A retry waits for its backoff: an early job (the sweep's, or one left from before) finds nothing to do.
    due_retry = sa.and_(Disbursement.status == S.RETRYING,
                        sa.or_(Disbursement.next_attempt_at.is_(None), Disbursement.next_attempt_at <= now))
    claimable = sa.or_(Disbursement.status == S.QUEUED, due_retry, takeover)
    replaced = DISBURSEMENT_TRANSITIONS.move_if(Disbursement, disbursement_id, S.PROCESSING, extra=claimable,
                                                values={"processing_started_at": now})
    if replaced is None:
        return None
    disbursement = db.session.execute(
        sa.select(Disbursement).where(Disbursement.id == disbursement_id).options(
            joinedload(Disbursement.grant).selectinload(Grant.payout_accounts),
            joinedload(Disbursement.grant).joinedload(Grant.organization))
        .execution_options(populate_existing=True)
    ).unique().scalar_one()
    transition(disbursement, S.PROCESSING, actor=None, replaced=replaced,
               note=_("Being paid (attempt %(n)s).", n=disbursement.attempts + 1))
    db.session.flush()
    return disbursement


def payment_request_for(disbursement: Disbursement) -> PaymentRequest:
    """What the rail needs, decrypted only here and only for the worker."""
    details = payout_details_for(disbursement.grant)
    grant = disbursement.grant
    reference = f"UIF-G-{grant.id:06d}-T{disbursement.tranche.position}"
    if details["rail"] == PayoutRail.STRIPE.value:
        account, payee, bank = details["stripe_account_id"], grant.organization.name, None
    else:
        account = details.get("iban") or details.get("account_number") or ""
        payee, bank = details.get("account_holder") or grant.organization.name, details.get("bank_name")
    return PaymentRequest(disbursement_id=disbursement.id, amount_cents=disbursement.amount_cents, payee_name=payee,
                          account=account, reference=reference, bank_name=bank, country=grant.organization.country,
                          attempt=lifecycle.times(disbursement, S.FAILED, S.QUEUED))


def record_payment_result(*, disbursement_id: int, result: RailResult, enqueue: Enqueue) -> Disbursement:
    """Rule: a rail's answer moves a processing disbursement on, with its ledger posting in the same transaction.

    paid -> paid (commitment => disbursed); awaiting_confirmation -> waits for
    a fund manager; retryable -> retrying with backoff (its job put on the queue
    by `enqueue` after the commit), or failed once the policy gives up;
    failed -> failed with the provider's reason.
    """
    disbursement = locked(disbursement_id)
    if disbursement.status != S.PROCESSING:
        return disbursement  # the sweep or a person moved it meanwhile; the look-up protects the next run
    if result.status is PaymentStatus.PAID:
        disbursement.provider_reference = result.provider_reference
        note = (_("Paid by Stripe transfer %(ref)s (made by an earlier attempt).", ref=result.provider_reference)
                if result.found_existing else _("Paid by Stripe transfer %(ref)s.", ref=result.provider_reference))
        local = received_locally(disbursement, result)
        disbursement.record_local_payment(local)
        lifecycle.mark_paid(disbursement, actor=None, note=note,
                            details={"provider_reference": result.provider_reference, **local_details(local)})
    elif result.status is PaymentStatus.AWAITING_CONFIRMATION:
        disbursement.payment_instruction = result.instruction
        transition(disbursement, S.AWAITING_CONFIRMATION, actor=None, note=result.message)
        notify(lifecycle.fund_managers(), "disbursements/pay_by_transfer", disbursement=disbursement,
               instruction=result.instruction or {})
    elif result.status is PaymentStatus.RETRYABLE:
        _retry_or_give_up(disbursement, result, enqueue=enqueue)
    else:
        disbursement.last_error = result.message
        transition(disbursement, S.FAILED, actor=None, note=result.message, details={"code": result.code})
        lifecycle.tell_failed(disbursement, result.message)
    db.session.flush()
    return disbursement


def received_locally(disbursement: Disbursement, result: RailResult) -> LocalPayment | None:
    """What the grantee received in their currency, as the rail reported it (Stripe converts a USD transfer
    into a connected account's other default currency); None for US dollars or when the rail did not say."""
    received = result.received
    if received is None:
        return None
    return stripe_payment(usd_cents=disbursement.amount_cents, currency=received.currency,
                          amount_minor=received.amount_minor, rate=received.exchange_rate)


def _retry_or_give_up(disbursement: Disbursement, result: RailResult, *, enqueue: Enqueue) -> None:
    disbursement.attempts += 1
    disbursement.last_error = result.message
    policy = retry_policy()
    if policy.gives_up(disbursement.attempts):
        transition(disbursement, S.FAILED, actor=None, details={"code": result.code},
                   note=ngettext("Not paid after %(num)s attempt: %(reason)s", "Not paid after %(num)s attempts: %(reason)s",
                                 disbursement.attempts, reason=result.message))
        lifecycle.tell_failed(disbursement, result.message)
        return
    delay = policy.delay_seconds(disbursement.attempts, result.retry_after_seconds)
    lifecycle.queue_for_payment(disbursement, actor=None, enqueue=enqueue, delay_seconds=delay,
                                note=ngettext("Attempt %(n)s did not go through (%(reason)s); the next attempt is in "
                                              "%(num)s second.", "Attempt %(n)s did not go through (%(reason)s); "
                                              "the next attempt is in %(num)s seconds.", int(delay),
                                              n=disbursement.attempts, reason=result.message))


# --- the sweep -------------------------------------------------------------------------

def due_for_sweep(*, now: datetime | None = None, grace_seconds: float = 30) -> list[tuple[int, str, str | None]]:
    """(id, status, job id) of disbursements that should have a live job: queued, retrying when due, stale processing."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(Disbursement.id, Disbursement.status, Disbursement.job_id).where(sa.or_(
            sa.and_(Disbursement.status == S.QUEUED, Disbursement.updated_at < now - timedelta(seconds=grace_seconds)),
            sa.and_(Disbursement.status == S.RETRYING,
                    Disbursement.next_attempt_at < now - timedelta(seconds=grace_seconds)),
            sa.and_(Disbursement.status == S.PROCESSING, Disbursement.processing_started_at < now - stale_after()),
        )).order_by(Disbursement.id)
    ).all()
    return [(row.id, row.status.value, row.job_id) for row in rows]


def requeue_lost(*, disbursement_id: int, status: str, job_id: str | None) -> str | None:
    """Rule: the sweep gives a disbursement whose job was lost a new job, once (conditional on the status and
    the job id it saw; the table's queued -> queued, retrying -> retrying, processing -> processing).

    Returns the new job id, or None when the row moved on meanwhile (and then records nothing).
    """
    seen = S(status)
    new_job_id = lifecycle.new_job_id(disbursement_id)
    same_job = Disbursement.job_id.is_(None) if job_id is None else Disbursement.job_id == job_id
    replaced = DISBURSEMENT_TRANSITIONS.move_if(Disbursement, disbursement_id, seen, only_from={seen},
                                                extra=same_job, values={"job_id": new_job_id})
    if replaced is None:
        return None
    disbursement = db.session.get(Disbursement, disbursement_id)
    db.session.refresh(disbursement)
    lifecycle.note(disbursement_id, replaced, _("The payment had stalled; it was queued for payment again."))
    record("disbursement.swept", actor=None, obj=disbursement, details={
        "status": replaced.value, "lost_job_id": job_id, "job_id": new_job_id})
    db.session.flush()
    return new_job_id


# --- invariants for ledger-verify ------------------------------------------------

def check_paid_disbursements_posted_once() -> list[str]:
    """Every paid disbursement has exactly one posting of its amount; every live posting belongs to a paid one.

    Set-based and linear: live postings are the package's `disbursement:<id>[:<n>]`
    transactions that were not reversed; each one's disbursement id is read from
    its key in SQL (`key_segment`), the postings are grouped by it, and the paid
    disbursements are joined to the groups by equality (a hash join, or an
    automatic index on SQLite), not by a LIKE over every pair of rows.
    """
    reversal = sa.orm.aliased(LedgerTransaction)
    live = (sa.select(LedgerTransaction.id, key_segment(LedgerTransaction.key, POSTING_PREFIX).label("owner"))
            .where(LedgerTransaction.kind == "disbursement", LedgerTransaction.key.like(POSTING_PREFIX + "%"),
                   ~sa.exists().where(reversal.reverses_id == LedgerTransaction.id))
            .subquery())
    postings = (sa.select(live.c.owner, sa.func.count(live.c.id).label("count"),
                          sa.func.min(live.c.id).label("first_id"))
                .group_by(live.c.owner).subquery())
    paid = Disbursement.status == S.PAID
    own_key = sa.cast(Disbursement.id, sa.String)
    count = sa.func.coalesce(postings.c.count, 0)
    paid_side = (sa.select(sa.literal("paid"), Disbursement.id, count, postings.c.first_id,
                           Disbursement.ledger_transaction_id)
                 .select_from(Disbursement).outerjoin(postings, postings.c.owner == own_key).where(paid)
                 .where(sa.or_(count != 1,
                               postings.c.first_id != sa.func.coalesce(Disbursement.ledger_transaction_id, -1))))
    orphan_side = (sa.select(sa.literal("orphan"), live.c.id, sa.literal(0), sa.literal(0), sa.literal(0))
                   .where(live.c.owner.not_in(sa.select(own_key).where(paid))))
    problems = []
    for side, object_id, count, posting_id, pointer in db.session.execute(sa.union_all(paid_side, orphan_side)):
        if side == "orphan":
            problems.append(f"ledger transaction {object_id} is a live disbursement posting of no paid disbursement")
        elif count != 1:
            problems.append(f"disbursement {object_id} is paid with {count} ledger postings")
        else:
            problems.append(f"disbursement {object_id} points at ledger transaction {pointer}, its posting is "
                            f"{posting_id}")
    return problems
