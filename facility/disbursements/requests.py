"""People's actions on disbursements: request, approve (four eyes), cancel, re-queue, confirm or fail a bank transfer.

Every function enforces one rule (its docstring says which): it asks `disbursements.policy`
first, on the locked row, takes the acting user as `actor=`, flushes and never commits.
Pages, API handlers and commands commit once; payment jobs are enqueued after the commit.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.authority import approver_for, tier_for
from facility.accounts.models import User
from facility.audit.services import record
from facility.core.errors import Conflict, NotFound
from facility.core.inputs import REASON_CHARS, REFERENCE_CHARS, clean_text
from facility.core.labels import label
from facility.core.notify import notify
from facility.core.policy import require
from facility.disbursements import lifecycle, policy
from facility.disbursements.jobs import enqueue_after_commit
from facility.disbursements.lifecycle import locked, locked_tranche, transition
from facility.disbursements.local_currency import local_details, manual_payment
from facility.disbursements.models import (
    DISBURSEMENT_TRANSITIONS,
    INITIAL_STATUS,
    Disbursement,
    DisbursementApproval,
    DisbursementStatus,
)
from facility.extensions import db
from facility.grants.models import Tranche
from facility.grants.tranches import cancel_tranche_payment, start_tranche_payment
from facility.ledger.services import disbursed_account

S = DisbursementStatus


def request_disbursement(*, tranche: Tranche, actor: User) -> Disbursement:
    """Rule: `policy.can_request`: a fund manager asks to pay an accepted tranche of an active grant with payout details.

    One live disbursement per tranche (a unique column backs this up under
    races). The amount's approval tier (`APPROVAL_TIERS`) says how many approvals it needs
    (`required_approvals`); the requester's never counts. The other fund managers whose approval
    would count (within their limit) are told at once.
    """
    tranche = locked_tranche(tranche.id)
    require(policy.can_request(actor, tranche))
    grant = tranche.grant
    account = grant.payout_account
    assert account is not None  # can_request refuses a grant without payout details
    live = db.session.execute(
        sa.select(Disbursement.id).where(Disbursement.live_tranche_id == tranche.id)).scalar_one_or_none()
    if live is not None:
        raise Conflict(_("Disbursement %(id)s for this tranche is already under way.", id=live))
    disbursement = Disbursement(
        tranche_id=tranche.id, live_tranche_id=tranche.id, grant_id=grant.id, amount_cents=tranche.amount_cents,
        rail=account.rail, payout_account_id=account.id, status=INITIAL_STATUS, requested_by_id=actor.id,
        required_approvals=tier_for(tranche.amount_cents).approvals,
    )
    db.session.add(disbursement)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("A disbursement for this tranche is already under way.")) from None
    start_tranche_payment(tranche=tranche)
    disbursed_account()  # opened with the first request, so that paying needs no look-up
    lifecycle.start(disbursement, actor=actor, note=_("Payment requested."),
                    details={"rail": account.rail.value, "required_approvals": disbursement.required_approvals})
    db.session.flush()
    notify([m for m in lifecycle.fund_managers()
            if m.id != actor.id and policy.why_approval_would_not_count(m, disbursement) is None],
           "disbursements/approval_needed", disbursement=disbursement)
    return disbursement


def approve_disbursement(*, disbursement: Disbursement, actor: User) -> Disbursement:
    """Rule: `policy.can_approve`: a fund manager other than the requester approves, once, within their
    approval limit; when the tier's approvals count (`policy.approvals_state(...).complete`) it is queued for
    payment. When the tier needs more than one approval the approver needs a fresh second factor
    (`policy.step_up_to_approve`).

    The approver's limit is recorded with the approval (its history stays stable). Concurrent approvals are
    taken one at a time under the disbursement's row lock, so each counts against the approvals before it and
    the disbursement is queued once. The payment job is enqueued only after the commit.
    """
    disbursement = locked(disbursement.id)
    db.session.refresh(disbursement, attribute_names=["approvals"])  # the approvals as committed, under the lock
    require(policy.can_approve(actor, disbursement))
    require(policy.step_up_to_approve(actor, disbursement))
    approver = approver_for(actor)
    disbursement.approvals.append(DisbursementApproval(approver_id=actor.id, limit_cents=approver.limit_cents))
    db.session.flush()
    state = policy.approvals_state(disbursement, names=False)
    disbursement.required_approvals = state.tier.approvals
    got, needed = len(state.counted), state.tier.approvals
    record("disbursement.approved", actor=actor, obj=disbursement,
           details={"approvals": got, "needed": needed, "missing": state.missing, "limit_cents": approver.limit_cents,
                    "senior": approver.senior})
    if state.complete:
        lifecycle.queue_for_payment(disbursement, actor=actor, enqueue=enqueue_after_commit,
                                    note=_("Approved; queued for payment."))
    else:
        lifecycle.note(disbursement.id, disbursement.status, actor=actor,
                       text=ngettext("Approved (%(got)s of %(needed)s approvals); %(num)d more is needed.",
                                     "Approved (%(got)s of %(needed)s approvals); %(num)d more are needed.",
                                     state.missing, got=got, needed=needed))
    db.session.flush()
    return disbursement


def cancel_disbursement(*, disbursement: Disbursement, actor: User, reason: str) -> Disbursement:
    """Rule: `policy.can_cancel`: a fund manager cancels a disbursement before a worker takes it, with a reason.

    The tranche can then be requested again. A worker may claim it meanwhile, so
    the cancellation is a conditional update from the states the table lets
    move to `cancelled`: once processing has begun it is too late (Conflict),
    the money may be on its way.
    """
    current = _fresh(disbursement.id)
    require(policy.can_cancel(actor, current))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True)
    replaced = DISBURSEMENT_TRANSITIONS.move_if(Disbursement, current.id, S.CANCELLED,
                                                values={"live_tranche_id": None, "job_id": None})
    if replaced is None:  # a worker took it meanwhile
        current = locked(current.id)
        raise Conflict(_("Disbursement %(id)s is %(status)s and can no longer be cancelled.",
                         id=current.id, status=label(current.status)))
    disbursement = locked(current.id)
    cancel_tranche_payment(tranche=locked_tranche(disbursement.tranche_id))
    transition(disbursement, S.CANCELLED, actor=actor, note=reason, details={"reason": reason}, replaced=replaced)
    db.session.flush()
    return disbursement


def _fresh(disbursement_id: int) -> Disbursement:
    """The disbursement as the database has it now (not locked: the conditional update decides)."""
    disbursement = db.session.execute(
        sa.select(Disbursement).where(Disbursement.id == disbursement_id)
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if disbursement is None:
        raise NotFound(_("No disbursement %(id)s.", id=disbursement_id))
    return disbursement


def requeue_disbursement(*, disbursement: Disbursement, actor: User) -> Disbursement:
    """Rule: `policy.can_requeue`: a fund manager re-queues a failed disbursement (after fixing the payout account, say).

    It is paid to the grant's current payout account; the Stripe rail still
    looks for an earlier transfer before making one, so a re-queue never pays twice.
    """
    disbursement = locked(disbursement.id)
    require(policy.can_requeue(actor, disbursement))
    account = disbursement.grant.payout_account
    assert account is not None  # can_requeue refuses a grant without payout details
    disbursement.rail, disbursement.payout_account_id = account.rail, account.id
    disbursement.attempts = 0
    disbursement.last_error = ""
    lifecycle.queue_for_payment(disbursement, actor=actor, enqueue=enqueue_after_commit,
                                note=_("Re-queued."))
    db.session.flush()
    return disbursement


def confirm_manual_payment(*, disbursement: Disbursement, actor: User, bank_reference: str,
                           local_currency: str | None = None, local_amount: str | None = None,
                           exchange_rate: str | None = None) -> Disbursement:
    """Rule: `policy.can_confirm`: a fund manager who neither requested nor approved it confirms a manual-rail
    payment with the bank's reference; it is then paid, once. Paid in the grantee's currency, the local amount
    and/or the rate come with it (`local_currency.manual_payment`); the ledger books the USD amount only."""
    disbursement = locked(disbursement.id)
    require(policy.can_confirm(actor, disbursement))
    bank_reference = clean_text(bank_reference, "bank_reference", limit=REFERENCE_CHARS, required=True)
    local = manual_payment(usd_cents=disbursement.amount_cents, currency=local_currency, amount=local_amount,
                           rate=exchange_rate)
    disbursement.bank_reference = bank_reference
    disbursement.record_local_payment(local)
    lifecycle.mark_paid(disbursement, actor=actor, details={"bank_reference": bank_reference, **local_details(local)},
                        note=_("Bank reference %(ref)s, confirmed.", ref=bank_reference))
    db.session.flush()
    return disbursement


def fail_manual_payment(*, disbursement: Disbursement, actor: User, reason: str) -> Disbursement:
    """Rule: `policy.can_fail`: a fund manager marks a manual-rail payment that the bank refused as failed, with
    the reason."""
    disbursement = locked(disbursement.id)
    require(policy.can_fail(actor, disbursement))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True)
    disbursement.last_error = reason
    transition(disbursement, S.FAILED, actor=actor, note=reason, details={"reason": reason})
    lifecycle.tell_failed(disbursement, reason)
    db.session.flush()
    return disbursement
