"""Stripe's events, once each: card contributions paid, transfers reversed, payouts to a grantee's bank failed."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.audit.services import record
from facility.core.errors import Conflict, NotFound, ValidationFailed
from facility.core.inputs import MAX_ID, bounded_int
from facility.core.notify import notify
from facility.disbursements import lifecycle
from facility.disbursements.lifecycle import locked, locked_tranche, transition
from facility.disbursements.models import Disbursement, DisbursementStatus, StripeEvent
from facility.extensions import db
from facility.grants.contributions import record_card_contribution
from facility.grants.models import Contribution, ContributionStatus, PayoutAccount
from facility.grants.tranches import reopen_paid_tranche
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import reverse_transaction

S = DisbursementStatus


def handle_stripe_event(*, event: dict[str, Any]) -> str:
    """Rule: each verified Stripe event is acted on once (its id is a primary key); returns what was done.

    `checkout.session.completed` (paid) books the card contribution;
    `transfer.reversed` gives a paid disbursement's money back to its grant's
    commitment; `payout.failed` is noted and told. Other types are stored and
    otherwise ignored. An event that refers to something unknown or in the wrong
    state is stored and reported, not retried by Stripe forever.
    """
    event_id, event_type = str(event["id"]), str(event["type"])
    try:
        with db.session.begin_nested():
            db.session.add(StripeEvent(id=event_id, type=event_type, payload=event))
            db.session.flush()
    except sa.exc.IntegrityError:
        return "duplicate"
    try:
        return _act_on(event, event_type)
    except _Ignored as ignored:
        record("stripe.event_ignored", actor=None, object_type="StripeEvent", object_id=event_id,
               details={"type": event_type, "reason": ignored.reason})
        return f"ignored: {ignored.reason}"
    except (Conflict, NotFound, ValidationFailed) as error:
        record("stripe.event_refused", actor=None, object_type="StripeEvent", object_id=event_id,
               details={"type": event_type, "reason": error.detail})
        return f"refused: {error.detail}"


class _Ignored(Exception):
    """The event is stored but cannot be acted on (`reason` says why); Stripe should not send it again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _act_on(event: dict[str, Any], event_type: str) -> str:
    obj = event["data"]["object"]
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return "not paid yet"
        raw_id = metadata.get("contribution_id") or obj.get("client_reference_id")
        if raw_id is None or str(raw_id).strip() == "":
            return "no contribution"
        contribution_id = _id(raw_id, "contribution")
        session_id = str(obj.get("id") or "")
        known = db.session.get(Contribution, contribution_id)
        already = (known is not None and known.status == ContributionStatus.RECEIVED
                   and known.stripe_checkout_session_id == session_id.strip())
        with db.session.begin_nested():
            record_card_contribution(checkout_session_id=session_id, contribution_id=contribution_id,
                                     amount_cents=obj.get("amount_total"))
        return "already booked" if already else "contribution booked"
    if event_type == "payout.failed":
        return reflect_payout_failure(stripe_account_id=str(event.get("account") or ""),
                                      payout_id=str(obj.get("id") or ""),
                                      reason=str(obj.get("failure_message") or obj.get("failure_code") or ""))
    if event_type == "transfer.reversed":
        raw_id = metadata.get("disbursement_id")
        if raw_id is None or str(raw_id).strip() == "":
            return "no disbursement"
        disbursement_id = _id(raw_id, "disbursement")
        with db.session.begin_nested():
            return reversal_outcome(disbursement_id=disbursement_id, transfer_id=str(obj.get("id") or ""),
                                    reason=_("Stripe reversed transfer %(id)s.", id=obj.get("id")))
    return "ignored"


def reversal_outcome(*, disbursement_id: int, transfer_id: str, reason: str) -> str:
    """`reflect_transfer_reversal`, saying what it did: reflected, or why nothing changed."""
    disbursement = db.session.get(Disbursement, disbursement_id)
    if disbursement is None:
        return "unknown disbursement: nothing reversed"
    was_paid_by_it = disbursement.status == S.PAID and disbursement.provider_reference == transfer_id
    reflect_transfer_reversal(disbursement_id=disbursement_id, transfer_id=transfer_id, reason=reason)
    if was_paid_by_it:
        return "reversal reflected"
    if disbursement.status != S.PAID:
        return "not paid: nothing to reverse"
    return "paid by another transfer: nothing reversed"


def reflect_transfer_reversal(*, disbursement_id: int, transfer_id: str, reason: str) -> Disbursement | None:
    """Rule: a Stripe transfer reversed after it was booked gives the money back to the grant's commitment.

    The paid disbursement becomes failed (it can be re-queued, and the rail
    then makes a new transfer since the old one is reversed); the ledger posting
    is reversed once. Unknown or unpaid disbursements change nothing.
    """
    if db.session.get(Disbursement, disbursement_id) is None:
        return None
    disbursement = locked(disbursement_id)
    if disbursement.status != S.PAID or disbursement.provider_reference != transfer_id:
        return disbursement
    original = db.session.execute(sa.select(LedgerTransaction).where(
        LedgerTransaction.id == disbursement.ledger_transaction_id)).scalar_one()  # a paid one has its posting
    reverse_transaction(transaction=original, actor=None, key=f"{original.key}:reversal:{transfer_id}", reason=reason)
    disbursement.ledger_transaction_id = None
    disbursement.paid_at = None
    disbursement.last_error = reason
    transition(disbursement, S.FAILED, actor=None, note=reason, details={"provider_reference": transfer_id})
    reopen_paid_tranche(tranche=locked_tranche(disbursement.tranche_id))
    notify(lifecycle.fund_managers(), "disbursements/reversed", disbursement=disbursement, reason=reason)
    db.session.flush()
    return disbursement


def reflect_payout_failure(*, stripe_account_id: str, payout_id: str, reason: str) -> str:
    """Rule: when Stripe cannot pay a grantee's connected account out to their bank, staff and grantee hear of it.

    The transfer itself stood (the money is in the grantee's Stripe balance), so
    nothing moves in the ledger: the latest paid Stripe disbursement to that
    account gets a timeline entry, and fund managers and the grantee an e-mail.
    """
    if not stripe_account_id:
        return "no account"
    disbursement = db.session.execute(
        sa.select(Disbursement).join(PayoutAccount, PayoutAccount.id == Disbursement.payout_account_id)
        .where(PayoutAccount.stripe_account_id == stripe_account_id, Disbursement.status == S.PAID)
        .order_by(Disbursement.paid_at.desc(), Disbursement.id.desc()).limit(1)
    ).scalar_one_or_none()
    if disbursement is None:
        return "no disbursement"
    lifecycle.note(disbursement.id, S.PAID, _(
        "Stripe could not pay the money on to the grantee's bank (payout %(id)s): %(reason)s. The transfer "
        "stands; the grantee should update their bank account at Stripe.", id=payout_id, reason=reason))
    record("disbursement.payout_failed", actor=None, obj=disbursement,
           details={"payout_id": payout_id, "reason": reason, "stripe_account_id": stripe_account_id})
    people = lifecycle.fund_managers() + lifecycle.grantee_innovators(disbursement.grant_id)
    notify(people, "disbursements/payout_failed", disbursement=disbursement, payout_id=payout_id, reason=reason)
    db.session.flush()
    return "payout failure noted"


def _id(value: Any, kind: str) -> int:
    """One of our ids (1..MAX_ID, what the database's integer columns hold), else `_Ignored`.

    Anything else can be none of ours: looking it up would fail in PostgreSQL (and roll the stored
    event back with it, so Stripe would retry it for days)."""
    text = str(value).strip()
    number = bounded_int(text, minimum=1, maximum=MAX_ID) if text.isascii() else None
    if number is None:
        raise _Ignored(f"{kind} id {str(value)[:40]!r} is not one of ours")
    return number
