"""Disbursements: request, approve (four eyes), pay through a rail, confirm, cancel, re-queue, sweep.

Every function here enforces one rule (its docstring says which), takes the
acting user as `actor=` (None for the system: jobs, webhooks, the sweep),
flushes and never commits. Pages, API handlers, jobs and commands commit once.

Money moves only through the ledger, once per disbursement:

- ``disbursement:<id>``  Dr facility:disbursed / Cr grant:<id>:commitment

Concurrency: state changes that a worker and a person may race for (the
worker's claim, a cancel, the sweep's re-queue) are conditional UPDATEs on
the current status, so exactly one of them wins.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Role, User, UserRole
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.mail import send_mail
from facility.core.models import utcnow
from facility.core.templating import money
from facility.disbursements.models import (
    CANCELLABLE,
    Disbursement,
    DisbursementApproval,
    DisbursementEvent,
    DisbursementStatus,
)
from facility.disbursements.rails import RETRY_POLICY, PaymentRequest, PaymentStatus, RailResult, RetryPolicy
from facility.extensions import db
from facility.grants.models import Grant, GrantStatus, PayoutRail, Tranche, TrancheStatus
from facility.grants.payouts import payout_details_for
from facility.grants.tranches import (
    cancel_tranche_payment,
    mark_tranche_paid,
    reopen_paid_tranche,
    start_tranche_payment,
)
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import (
    DISBURSED,
    commitment_code,
    disbursed_account,
    post_transaction,
    reverse_transaction,
)

S = DisbursementStatus
# A claimed disbursement whose worker has said nothing for this long is presumed dead (seconds).
DEFAULT_STALE_SECONDS = 300
DEFAULT_TWO_APPROVALS_ABOVE_CENTS = 5_000_000  # USD 50,000
MAX_REFERENCE_CHARS = 120
MAX_NOTE_CHARS = 2000


def ledger_key(disbursement_id: int, reversals: int = 0) -> str:
    """`disbursement:<id>`; after Stripe reversed the first payment, the next is `disbursement:<id>:<n>`."""
    return f"disbursement:{disbursement_id}" if not reversals else f"disbursement:{disbursement_id}:{reversals}"


def _times(disbursement: Disbursement, from_status: DisbursementStatus, to_status: DisbursementStatus) -> int:
    """How often the timeline shows this transition: reversals (paid -> failed) give a re-payment a new ledger
    key, re-queues (failed -> queued) a new attempt at the provider."""
    return db.session.execute(
        sa.select(sa.func.count(DisbursementEvent.id)).where(
            DisbursementEvent.disbursement_id == disbursement.id,
            DisbursementEvent.from_status == from_status.value, DisbursementEvent.to_status == to_status.value)
    ).scalar_one()


def is_fund_manager(user: Any) -> bool:
    """A signed-in fund manager: who may request, approve, confirm, cancel and re-queue payments."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role(Role.FUND_MANAGER))


def _require_fund_manager(actor: Any) -> None:
    if not is_fund_manager(actor):
        raise PermissionDenied(_("Only fund managers may do this."))


def _text(value: Any, field: str, *, required: bool, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        message = _("This is required.")
        raise ValidationFailed(message, errors={field: [message]})
    if len(text) > limit:
        message = _("At most %(n)s characters.", n=limit)
        raise ValidationFailed(message, errors={field: [message]})
    return text


def two_approvals_above_cents() -> int:
    return int(current_app.config.get("DISBURSEMENT_TWO_APPROVALS_ABOVE_CENTS", DEFAULT_TWO_APPROVALS_ABOVE_CENTS))


def _transition(disbursement: Disbursement, to: DisbursementStatus, *, actor: Any, note: str = "",
                details: dict | None = None, from_status: DisbursementStatus | None = None,
                initial: bool = False) -> None:
    """Set the status and record the change on the timeline and in the audit trail."""
    before = None if initial else (from_status if from_status is not None else disbursement.status)
    disbursement.status = to
    db.session.add(DisbursementEvent(disbursement_id=disbursement.id, from_status=before.value if before else None,
                                     to_status=to.value, actor_id=getattr(actor, "id", None), note=note[:MAX_NOTE_CHARS]))
    record(f"disbursement.{to.value}", actor=actor, obj=disbursement, details={
        "from": before.value if before else None, "grant_id": disbursement.grant_id,
        "tranche_id": disbursement.tranche_id, "amount_cents": disbursement.amount_cents, **(details or {})})


def _conditional_status(disbursement_id: int, *, from_statuses: Iterable[DisbursementStatus],
                        values: dict[str, Any], extra: Any = None) -> bool:
    """Move a disbursement out of one of `from_statuses` only if it is still there; True if this call won."""
    condition = sa.and_(Disbursement.id == disbursement_id, Disbursement.status.in_(list(from_statuses)))
    if extra is not None:
        condition = sa.and_(condition, extra)
    result = db.session.execute(
        sa.update(Disbursement).where(condition).values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def load(disbursement_id: int) -> Disbursement:
    """A disbursement with what its pages and API show, in a fixed number of queries."""
    disbursement = db.session.execute(
        sa.select(Disbursement).where(Disbursement.id == disbursement_id).options(
            joinedload(Disbursement.grant).joinedload(Grant.organization),
            joinedload(Disbursement.grant).joinedload(Grant.proposal),
            joinedload(Disbursement.tranche),
            joinedload(Disbursement.requested_by),
            selectinload(Disbursement.approvals).joinedload(DisbursementApproval.approver),
            selectinload(Disbursement.events).joinedload(DisbursementEvent.actor),
        ).execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()
    if disbursement is None:
        raise NotFound(_("No disbursement %(id)s.", id=disbursement_id))
    return disbursement


def _locked(disbursement_id: int) -> Disbursement:
    return lock_row(Disbursement, disbursement_id, missing=_("No disbursement %(id)s.", id=disbursement_id))


def _locked_tranche(tranche_id: int) -> Tranche:
    return lock_row(Tranche, tranche_id, missing=_("No tranche %(id)s.", id=tranche_id))


# --- people's actions --------------------------------------------------------

def request_disbursement(*, tranche: Tranche, actor: User) -> Disbursement:
    """Rule: a fund manager asks to pay a tranche whose evidence was accepted, of an active grant with payout details.

    One live disbursement per tranche (a unique column backs this up under
    races). Amounts above `DISBURSEMENT_TWO_APPROVALS_ABOVE_CENTS` need two
    approvals; neither may be the requester's.
    """
    _require_fund_manager(actor)
    tranche = _locked_tranche(tranche.id)
    grant = tranche.grant
    if grant.status != GrantStatus.ACTIVE:
        raise Conflict(_("Only tranches of an active grant (agreement accepted) can be paid."))
    if tranche.status != TrancheStatus.ACCEPTED:
        raise Conflict(_("This tranche cannot be paid now: its milestone evidence must be accepted first, "
                         "and it must not be paid or being paid already."))
    account = grant.payout_account
    if account is None:
        raise Conflict(_("The grantee has not given payout details yet."))
    live = db.session.execute(
        sa.select(Disbursement.id).where(Disbursement.live_tranche_id == tranche.id)).scalar_one_or_none()
    if live is not None:
        raise Conflict(_("Disbursement %(id)s for this tranche is already under way.", id=live))
    disbursement = Disbursement(
        tranche_id=tranche.id, live_tranche_id=tranche.id, grant_id=grant.id, amount_cents=tranche.amount_cents,
        rail=account.rail, payout_account_id=account.id, status=S.REQUESTED, requested_by_id=actor.id,
        required_approvals=2 if tranche.amount_cents > two_approvals_above_cents() else 1,
    )
    db.session.add(disbursement)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("A disbursement for this tranche is already under way.")) from None
    start_tranche_payment(tranche=tranche)
    disbursed_account()  # opened with the first request, so that paying needs no look-up
    _transition(disbursement, S.REQUESTED, actor=actor, initial=True,
                note=_("Requested by %(name)s.", name=actor.name or actor.email),
                details={"rail": account.rail.value, "required_approvals": disbursement.required_approvals})
    db.session.flush()
    return disbursement


def can_approve(disbursement: Disbursement, user: Any) -> bool:
    """Another fund manager than the requester, who has not approved it yet, while it is requested."""
    return (is_fund_manager(user) and disbursement.status == S.REQUESTED
            and user.id != disbursement.requested_by_id
            and all(approval.approver_id != user.id for approval in disbursement.approvals))


def approve_disbursement(*, disbursement: Disbursement, actor: User) -> Disbursement:
    """Rule: a fund manager other than the requester approves; with enough approvals it is queued for payment.

    The requester can never approve their own request (PermissionDenied); one
    person approves once. The payment job is enqueued only after the commit.
    """
    _require_fund_manager(actor)
    disbursement = _locked(disbursement.id)
    if actor.id == disbursement.requested_by_id:
        raise PermissionDenied(_("You requested this disbursement; another fund manager must approve it."))
    if disbursement.status != S.REQUESTED:
        raise Conflict(_("Disbursement %(id)s is %(status)s, not awaiting approval.", id=disbursement.id,
                         status=disbursement.status.value))
    if any(approval.approver_id == actor.id for approval in disbursement.approvals):
        raise Conflict(_("You have already approved this disbursement; another fund manager must approve it too."))
    disbursement.approvals.append(DisbursementApproval(approver_id=actor.id))
    db.session.flush()
    got, needed = len(disbursement.approvals), disbursement.required_approvals
    record("disbursement.approved", actor=actor, obj=disbursement, details={"approvals": got, "needed": needed})
    if got >= needed:
        _queue(disbursement, actor=actor, from_status=S.REQUESTED,
               note=_("Approved by %(name)s; queued for payment.", name=actor.name or actor.email))
    else:
        db.session.add(DisbursementEvent(
            disbursement_id=disbursement.id, from_status=S.REQUESTED.value, to_status=S.REQUESTED.value,
            actor_id=actor.id, note=_("Approved by %(name)s (%(got)s of %(needed)s approvals).",
                                      name=actor.name or actor.email, got=got, needed=needed)))
    db.session.flush()
    return disbursement


def _queue(disbursement: Disbursement, *, actor: Any, from_status: DisbursementStatus, note: str,
           delay_seconds: float = 0) -> None:
    """Mark it queued (or retrying) and enqueue its job after the commit, under a job id stored on the row."""
    from facility.disbursements.jobs import enqueue_after_commit

    disbursement.job_id = f"disbursement-{disbursement.id}-{uuid.uuid4().hex[:12]}"
    to = S.RETRYING if delay_seconds else S.QUEUED
    disbursement.next_attempt_at = utcnow() + timedelta(seconds=delay_seconds) if delay_seconds else None
    _transition(disbursement, to, actor=actor, note=note, from_status=from_status,
                details={"job_id": disbursement.job_id, "delay_seconds": round(delay_seconds, 1)})
    enqueue_after_commit(disbursement.id, job_id=disbursement.job_id, delay_seconds=delay_seconds)


def cancel_disbursement(*, disbursement: Disbursement, actor: User, reason: str) -> Disbursement:
    """Rule: a fund manager cancels a disbursement before a worker takes it (requested or queued), with a reason.

    The tranche can then be requested again. Once processing has begun it is
    too late (Conflict): the money may be on its way.
    """
    _require_fund_manager(actor)
    reason = _text(reason, "reason", required=True, limit=MAX_NOTE_CHARS)
    before = db.session.execute(sa.select(Disbursement.status).where(Disbursement.id == disbursement.id)).scalar()
    if before is None:
        raise NotFound(_("No disbursement %(id)s.", id=disbursement.id))
    if not _conditional_status(disbursement.id, from_statuses=CANCELLABLE,
                               values={"status": S.CANCELLED, "live_tranche_id": None, "job_id": None}):
        current = _locked(disbursement.id).status
        raise Conflict(_("Disbursement %(id)s is %(status)s and can no longer be cancelled.",
                         id=disbursement.id, status=current.value))
    disbursement = _locked(disbursement.id)
    tranche = _locked_tranche(disbursement.tranche_id)
    cancel_tranche_payment(tranche=tranche)
    _transition(disbursement, S.CANCELLED, actor=actor, note=reason, details={"reason": reason}, from_status=before)
    db.session.flush()
    return disbursement


def requeue_disbursement(*, disbursement: Disbursement, actor: User) -> Disbursement:
    """Rule: a fund manager re-queues a failed disbursement (after fixing the payout account, say).

    It is paid to the grant's current payout account; the Stripe rail still
    looks for an earlier transfer before making one, so a re-queue never pays twice.
    """
    _require_fund_manager(actor)
    disbursement = _locked(disbursement.id)
    if disbursement.status != S.FAILED:
        raise Conflict(_("Only a failed disbursement can be re-queued; this one is %(status)s.",
                         status=disbursement.status.value))
    account = disbursement.grant.payout_account
    if account is None:
        raise Conflict(_("The grantee has not given payout details yet."))
    disbursement.rail, disbursement.payout_account_id = account.rail, account.id
    disbursement.attempts = 0
    disbursement.last_error = ""
    _queue(disbursement, actor=actor, from_status=S.FAILED,
           note=_("Re-queued by %(name)s.", name=actor.name or actor.email))
    db.session.flush()
    return disbursement


def _awaiting_confirmation(disbursement: Disbursement) -> Disbursement:
    """The disbursement, locked, if a bank confirmation is what it waits for (Conflict otherwise)."""
    disbursement = _locked(disbursement.id)
    if disbursement.status != S.AWAITING_CONFIRMATION:
        raise Conflict(_("Disbursement %(id)s is %(status)s, not awaiting a bank confirmation.",
                         id=disbursement.id, status=disbursement.status.value))
    return disbursement


def confirm_manual_payment(*, disbursement: Disbursement, actor: User, bank_reference: str) -> Disbursement:
    """Rule: a fund manager confirms a manual-rail payment with the bank's reference; it is then paid, once."""
    _require_fund_manager(actor)
    bank_reference = _text(bank_reference, "bank_reference", required=True, limit=MAX_REFERENCE_CHARS)
    disbursement = _awaiting_confirmation(disbursement)
    disbursement.bank_reference = bank_reference
    _mark_paid(disbursement, actor=actor, note=_("Bank reference %(ref)s, confirmed by %(name)s.",
                                                  ref=bank_reference, name=actor.name or actor.email),
               details={"bank_reference": bank_reference})
    db.session.flush()
    return disbursement


def fail_manual_payment(*, disbursement: Disbursement, actor: User, reason: str) -> Disbursement:
    """Rule: a fund manager marks a manual-rail payment that the bank refused as failed, with the reason."""
    _require_fund_manager(actor)
    reason = _text(reason, "reason", required=True, limit=MAX_NOTE_CHARS)
    disbursement = _awaiting_confirmation(disbursement)
    disbursement.last_error = reason
    _transition(disbursement, S.FAILED, actor=actor, note=reason, details={"reason": reason})
    _tell_fund_managers(disbursement, _("Disbursement %(id)s failed", id=disbursement.id), reason)
    db.session.flush()
    return disbursement


# --- the worker's side -------------------------------------------------------

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
    before = db.session.execute(sa.select(Disbursement.status).where(Disbursement.id == disbursement_id)).scalar()
    if before is None:
        return None
    won = db.session.execute(
        sa.update(Disbursement).where(Disbursement.id == disbursement_id, claimable)
        .values(status=S.PROCESSING, processing_started_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        return None
    disbursement = db.session.execute(
        sa.select(Disbursement).where(Disbursement.id == disbursement_id).options(
            joinedload(Disbursement.grant).selectinload(Grant.payout_accounts),
            joinedload(Disbursement.grant).joinedload(Grant.organization))
        .execution_options(populate_existing=True)
    ).unique().scalar_one()
    _transition(disbursement, S.PROCESSING, actor=None, from_status=before,
                note=_("A worker took it (try %(n)s).", n=disbursement.attempts + 1))
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
                          account=account, reference=reference, attempt=_times(disbursement, S.FAILED, S.QUEUED), bank_name=bank,
                          country=grant.organization.country)


def record_payment_result(*, disbursement_id: int, result: RailResult) -> Disbursement:
    """Rule: a rail's answer moves a processing disbursement on, with its ledger posting in the same transaction.

    paid -> paid (commitment => disbursed); awaiting_confirmation -> waits for
    a fund manager; retryable -> retrying with backoff, or failed once the
    policy gives up; failed -> failed with the provider's reason.
    """
    disbursement = _locked(disbursement_id)
    if disbursement.status != S.PROCESSING:
        return disbursement  # the sweep or a person moved it meanwhile; the look-up protects the next run
    if result.status is PaymentStatus.PAID:
        disbursement.provider_reference = result.provider_reference
        note = (_("Stripe transfer %(ref)s (found from an earlier try).", ref=result.provider_reference)
                if result.found_existing else _("Stripe transfer %(ref)s.", ref=result.provider_reference))
        _mark_paid(disbursement, actor=None, note=note, details={"provider_reference": result.provider_reference})
    elif result.status is PaymentStatus.AWAITING_CONFIRMATION:
        disbursement.payment_instruction = result.instruction
        _transition(disbursement, S.AWAITING_CONFIRMATION, actor=None, note=result.message)
        _tell_fund_managers(disbursement, _("Disbursement %(id)s: pay by bank transfer", id=disbursement.id),
                            _("Pay %(amount)s to %(payee)s, reference %(ref)s, then confirm it with the bank "
                              "reference.", amount=money(disbursement.amount_cents),
                              payee=(result.instruction or {}).get("payee", ""),
                              ref=(result.instruction or {}).get("reference", "")))
    elif result.status is PaymentStatus.RETRYABLE:
        disbursement.attempts += 1
        disbursement.last_error = result.message[:MAX_NOTE_CHARS]
        policy = retry_policy()
        if policy.gives_up(disbursement.attempts):
            _transition(disbursement, S.FAILED, actor=None, details={"code": result.code},
                        note=_("Gave up after %(n)s tries: %(reason)s", n=disbursement.attempts, reason=result.message))
            _tell_fund_managers(disbursement, _("Disbursement %(id)s failed", id=disbursement.id), result.message)
        else:
            delay = policy.delay_seconds(disbursement.attempts, result.retry_after_seconds)
            _queue(disbursement, actor=None, from_status=S.PROCESSING, delay_seconds=delay,
                   note=_("Try %(n)s did not go through (%(reason)s); trying again in %(s)s seconds.",
                          n=disbursement.attempts, reason=result.message, s=int(delay)))
    else:
        disbursement.last_error = result.message[:MAX_NOTE_CHARS]
        _transition(disbursement, S.FAILED, actor=None, note=result.message, details={"code": result.code})
        _tell_fund_managers(disbursement, _("Disbursement %(id)s failed", id=disbursement.id), result.message)
    db.session.flush()
    return disbursement


def _mark_paid(disbursement: Disbursement, *, actor: Any, note: str, details: dict) -> None:
    """Book commitment => disbursed once, mark the tranche paid and the grant completed with its last tranche."""
    transaction = post_transaction(
        key=ledger_key(disbursement.id, _times(disbursement, S.PAID, S.FAILED)),
        # By code: both accounts exist (the commitment since the award, `disbursed` since the request),
        # and the ledger locks them by code anyway.
        entries=[(DISBURSED, disbursement.amount_cents), (commitment_code(disbursement.grant_id),
                                                           -disbursement.amount_cents)],
        actor=actor, kind="disbursement", description=f"Disbursement {disbursement.id}",
        metadata={"disbursement_id": disbursement.id, "grant_id": disbursement.grant_id,
                  "tranche_id": disbursement.tranche_id})
    disbursement.ledger_transaction_id = transaction.id
    disbursement.paid_at = utcnow()
    disbursement.next_attempt_at = None
    disbursement.last_error = ""
    _transition(disbursement, S.PAID, actor=actor, note=note, details=details)
    tranche = _locked_tranche(disbursement.tranche_id)
    mark_tranche_paid(tranche=tranche, actor=actor)
    _tell_grantee(disbursement, tranche)


def _grantee_innovators(grant_id: int) -> list[User]:
    organization_id = db.session.execute(sa.select(Grant.organization_id).where(Grant.id == grant_id)).scalar_one()
    return _users_with_role(Role.INNOVATOR, User.organization_id == organization_id)


def _tell_grantee(disbursement: Disbursement, tranche: Tranche) -> None:
    for user in _grantee_innovators(tranche.grant_id):
        send_mail(to=user.email, subject=_("Payment sent: %(amount)s", amount=money(disbursement.amount_cents)),
                  body=_("Tranche %(n)s of your grant has been paid (%(amount)s). The grant page shows the "
                         "payment's history.", n=tranche.position, amount=money(disbursement.amount_cents)))


def _users_with_role(role: Role, *conditions: Any) -> list[User]:
    return list(db.session.execute(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.active.is_(True), *conditions).order_by(User.id)
        .options(sa.orm.lazyload(User.role_rows))  # only their addresses are needed
    ).scalars())


def _tell_fund_managers(disbursement: Disbursement, subject: str, body: str) -> None:
    for user in _users_with_role(Role.FUND_MANAGER):
        send_mail(to=user.email, subject=subject, body=body)


# --- provider events ---------------------------------------------------------

def reflect_transfer_reversal(*, disbursement_id: int, transfer_id: str, reason: str) -> Disbursement | None:
    """Rule: a Stripe transfer reversed after it was booked gives the money back to the grant's commitment.

    The paid disbursement becomes failed (it can be re-queued, and the rail
    then makes a new transfer since the old one is reversed); the ledger posting
    is reversed once. Unknown or unpaid disbursements change nothing.
    """
    disbursement = db.session.get(Disbursement, disbursement_id)
    if disbursement is None:
        return None
    disbursement = _locked(disbursement_id)
    if disbursement.status != S.PAID or disbursement.provider_reference != transfer_id:
        return disbursement
    original = db.session.get(LedgerTransaction, disbursement.ledger_transaction_id)
    reverse_transaction(transaction=original, actor=None, key=f"{original.key}:reversal:{transfer_id}", reason=reason)
    disbursement.ledger_transaction_id = None
    disbursement.paid_at = None
    disbursement.last_error = reason
    _transition(disbursement, S.FAILED, actor=None, note=reason, details={"provider_reference": transfer_id})
    tranche = _locked_tranche(disbursement.tranche_id)
    reopen_paid_tranche(tranche=tranche)
    _tell_fund_managers(disbursement, _("Disbursement %(id)s was reversed", id=disbursement.id), reason)
    db.session.flush()
    return disbursement


def reflect_payout_failure(*, stripe_account_id: str, payout_id: str, reason: str) -> str:
    """Rule: when Stripe cannot pay a grantee's connected account out to their bank, staff and grantee hear of it.

    The transfer itself stood (the money is in the grantee's Stripe balance), so
    nothing moves in the ledger: the latest paid Stripe disbursement to that
    account gets a timeline entry, and fund managers and the grantee an e-mail.
    """
    from facility.grants.models import PayoutAccount

    if not stripe_account_id:
        return "no account"
    disbursement = db.session.execute(
        sa.select(Disbursement).join(PayoutAccount, PayoutAccount.id == Disbursement.payout_account_id)
        .where(PayoutAccount.stripe_account_id == stripe_account_id, Disbursement.status == S.PAID)
        .order_by(Disbursement.paid_at.desc(), Disbursement.id.desc()).limit(1)
    ).scalar_one_or_none()
    if disbursement is None:
        return "no disbursement"
    note = _("Stripe could not pay the money on to the grantee's bank (payout %(id)s): %(reason)s. The transfer "
             "stands; the grantee should update their bank account at Stripe.", id=payout_id, reason=reason)
    db.session.add(DisbursementEvent(disbursement_id=disbursement.id, from_status=S.PAID.value,
                                     to_status=S.PAID.value, note=note[:MAX_NOTE_CHARS]))
    record("disbursement.payout_failed", actor=None, obj=disbursement,
           details={"payout_id": payout_id, "reason": reason, "stripe_account_id": stripe_account_id})
    subject = _("Payout to the bank failed for disbursement %(id)s", id=disbursement.id)
    _tell_fund_managers(disbursement, subject, note)
    for user in _grantee_innovators(disbursement.grant_id):
        send_mail(to=user.email, subject=subject, body=note)
    db.session.flush()
    return "payout failure noted"


# --- the sweep ---------------------------------------------------------------

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
    """Rule: the sweep gives a disbursement whose job was lost a new job, once (conditional on the job id it saw).

    Returns the new job id, or None when the row moved on meanwhile.
    """
    new_job_id = f"disbursement-{disbursement_id}-{uuid.uuid4().hex[:12]}"
    same_job = Disbursement.job_id.is_(None) if job_id is None else Disbursement.job_id == job_id
    if not _conditional_status(disbursement_id, from_statuses=[S(status)], values={"job_id": new_job_id},
                               extra=same_job):
        return None
    disbursement = db.session.get(Disbursement, disbursement_id)
    db.session.refresh(disbursement)
    db.session.add(DisbursementEvent(disbursement_id=disbursement_id, from_status=status, to_status=status,
                                     note=_("Its job was lost; the sweep queued it again.")))
    record("disbursement.swept", actor=None, obj=disbursement, details={"status": status, "lost_job_id": job_id,
                                                                        "job_id": new_job_id})
    db.session.flush()
    return new_job_id


# --- invariants for ledger-verify ------------------------------------------------

def check_paid_disbursements_posted_once() -> list[str]:
    """Every paid disbursement has exactly one posting of its amount; every live posting belongs to a paid one.

    One set-based statement (like the ledger's own checks): live postings are the
    package's `disbursement:<id>[:<n>]` transactions that were not reversed.
    """
    reversal = sa.orm.aliased(LedgerTransaction)
    live = (sa.select(LedgerTransaction.id, LedgerTransaction.key)
            .where(LedgerTransaction.kind == "disbursement", LedgerTransaction.key.like("disbursement:%"),
                   ~sa.exists().where(reversal.reverses_id == LedgerTransaction.id))
            .subquery())
    prefix = sa.literal("disbursement:") + sa.cast(Disbursement.id, sa.String)
    belongs = sa.or_(live.c.key == prefix, live.c.key.like(prefix + sa.literal(":%")))
    paid = Disbursement.status == S.PAID
    paid_side = (sa.select(sa.literal("paid"), Disbursement.id, sa.func.count(live.c.id), sa.func.min(live.c.id),
                           Disbursement.ledger_transaction_id)
                 .select_from(Disbursement).outerjoin(live, belongs).where(paid)
                 .group_by(Disbursement.id, Disbursement.ledger_transaction_id)
                 .having(sa.or_(sa.func.count(live.c.id) != 1,
                                sa.func.min(live.c.id) != sa.func.coalesce(Disbursement.ledger_transaction_id, -1))))
    orphan_side = (sa.select(sa.literal("orphan"), live.c.id, sa.literal(0), sa.literal(0), sa.literal(0))
                   .where(~sa.exists().where(paid, belongs)))
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


# --- Stripe webhooks -----------------------------------------------------------

def handle_stripe_event(*, event: dict[str, Any]) -> str:
    """Rule: each verified Stripe event is acted on once (its id is a primary key); returns what was done.

    `checkout.session.completed` (paid) books the card contribution;
    `transfer.reversed` gives a paid disbursement's money back to its grant's
    commitment. Other types are stored and otherwise ignored. An event that
    refers to something unknown or in the wrong state is stored and reported,
    not retried by Stripe forever.
    """
    from facility.disbursements.models import StripeEvent
    from facility.grants.contributions import record_card_contribution

    event_id, event_type = str(event["id"]), str(event["type"])
    try:
        with db.session.begin_nested():
            db.session.add(StripeEvent(id=event_id, type=event_type, payload=event))
            db.session.flush()
    except sa.exc.IntegrityError:
        return "duplicate"
    obj = event["data"]["object"]
    metadata = obj.get("metadata") or {}
    try:
        if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            if obj.get("payment_status") != "paid":
                return "not paid yet"
            contribution_id = _int(metadata.get("contribution_id") or obj.get("client_reference_id"))
            if contribution_id is None:
                return "no contribution"
            with db.session.begin_nested():
                record_card_contribution(checkout_session_id=str(obj.get("id") or ""), contribution_id=contribution_id,
                                         amount_cents=obj.get("amount_total"))
            return "contribution booked"
        if event_type == "payout.failed":
            outcome = reflect_payout_failure(stripe_account_id=str(event.get("account") or ""),
                                             payout_id=str(obj.get("id") or ""),
                                             reason=str(obj.get("failure_message") or obj.get("failure_code") or ""))
            return outcome
        if event_type == "transfer.reversed":
            disbursement_id = _int(metadata.get("disbursement_id"))
            if disbursement_id is None:
                return "no disbursement"
            with db.session.begin_nested():
                reflect_transfer_reversal(disbursement_id=disbursement_id, transfer_id=str(obj.get("id") or ""),
                                          reason=_("Stripe reversed transfer %(id)s.", id=obj.get("id")))
            return "reversal reflected"
    except (Conflict, NotFound, ValidationFailed) as error:
        record("stripe.event_refused", actor=None, object_type="StripeEvent", object_id=event_id,
               details={"type": event_type, "reason": error.detail})
        return f"refused: {error.detail}"
    return "ignored"


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None
