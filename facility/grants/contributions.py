"""Money in: a donor's pledge, a wire confirmed by a fund manager, a card payment booked by the webhook.

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits. Ledger posting:

- ``contribution:<id>``     Dr facility:unallocated   / Cr donor:<org>:contributions
"""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import Conflict, NotFound, ValidationFailed
from facility.core.inputs import REFERENCE_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.templating import money
from facility.extensions import db
from facility.grants.amounts import cents
from facility.grants.models import CONTRIBUTION_TRANSITIONS, Contribution, ContributionMethod, ContributionStatus
from facility.grants.policy import can_confirm_contribution, can_pledge
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import contributions_account, post_transaction, unallocated_account

MIN_CONTRIBUTION_CENTS = 100  # USD 1: below that a card fee eats the gift
CHECKOUT_ENDPOINT = "payments.checkout"  # provided by facility.disbursements; no import (it depends on us)
CHECKOUT_SESSION_CHARS = 255  # Stripe's ids fit the column


def wire_instructions(contribution: Contribution) -> dict[str, str]:
    """Where to send a wire and the reference that ties it to the pledge."""
    settings = dict(current_app.config.get("WIRE_INSTRUCTIONS") or {})
    return {**{key: str(value) for key, value in settings.items()}, "reference": contribution.reference,
            "amount": money(contribution.amount_cents)}


def checkout_url(contribution: Contribution) -> str | None:
    """The page that sends a card pledge's donor to Stripe Checkout (None for a wire).

    `disbursements` serves it (only that package talks to payment providers); grants sits below
    it, so it names the endpoint instead of importing the view. create_app always registers it.
    """
    if contribution.method != ContributionMethod.STRIPE:
        return None
    return url_for(CHECKOUT_ENDPOINT, contribution_id=contribution.id)


def pledge_contribution(*, actor: User, amount_cents: int, method: ContributionMethod | str,
                        anonymous: bool = False) -> Contribution:
    """Rule: a donor pledges a positive amount by wire (pledged, with a reference) or card (checkout open).

    The contribution belongs to the donor's organisation when they have one. `anonymous` is the
    donor's choice, made now and kept: the public ledger then names an "anonymous donor".
    """
    require(can_pledge(actor))
    amount_cents = cents(amount_cents, "amount_cents", minimum=MIN_CONTRIBUTION_CENTS)
    try:
        method = ContributionMethod(method)
    except ValueError:
        message = _("Choose wire or card.")
        raise ValidationFailed(message, errors={"method": [message]}) from None
    status = ContributionStatus.PLEDGED if method == ContributionMethod.WIRE else ContributionStatus.CHECKOUT_OPEN
    contribution = Contribution(
        donor_organization_id=actor.organization_id, pledged_by_id=actor.id, amount_cents=amount_cents,
        method=method, status=status, reference=f"pending-{uuid.uuid4().hex[:24]}", anonymous=bool(anonymous),
    )
    db.session.add(contribution)
    db.session.flush()
    # The id makes the reference unique and short enough to type into a bank form.
    contribution.reference = f"UIF-C-{contribution.id:06d}"
    record("contribution.pledged", actor=actor, obj=contribution,
           details={"amount_cents": amount_cents, "method": method.value, "reference": contribution.reference,
                    "anonymous": contribution.anonymous})
    db.session.flush()
    return contribution


def _book_contribution(contribution: Contribution, *, actor: Any, amount_cents: int) -> LedgerTransaction:
    org = contribution.donor_organization
    income = contributions_account(org.id if org else None, name=f"Contributions of {org.name}" if org else "")
    return post_transaction(
        key=f"contribution:{contribution.id}",
        entries=[(unallocated_account(), amount_cents), (income, -amount_cents)],
        actor=actor, kind="contribution",
        description=f"Contribution {contribution.reference}",
        metadata={"contribution_id": contribution.id, "method": contribution.method.value},
    )


def _wire_receipt(received_cents: Any, received_on: Any, bank_reference: Any) -> tuple[int, date, str]:
    """The receipt's fields, or one ValidationFailed naming every field that needs attention."""
    errors: dict[str, list[str]] = {}
    try:
        received_cents = cents(received_cents, "amount_cents")
    except ValidationFailed as error:
        errors.update(error.errors)
    if not isinstance(received_on, date):
        errors["received_on"] = [_("Give the date the money arrived.")]
    elif received_on > utcnow().date():
        errors["received_on"] = [_("The date cannot be in the future.")]
    try:
        bank_reference = clean_text(bank_reference, "bank_reference", limit=REFERENCE_CHARS, required=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    return received_cents, received_on, bank_reference


def confirm_wire_contribution(
    *, contribution: Contribution, actor: User, received_cents: int, received_on: date, bank_reference: str,
) -> Contribution:
    """Rule: a fund manager confirms a pledged wire once (`policy.can_confirm_contribution`); the money
    is booked in the same transaction.

    The date cannot be in the future and the bank's reference is required.
    """
    contribution = lock_row(Contribution, contribution.id, missing=_("Not found."))
    require(can_confirm_contribution(actor, contribution))
    received_cents, received_on, bank_reference = _wire_receipt(received_cents, received_on, bank_reference)
    transaction = _book_contribution(contribution, actor=actor, amount_cents=received_cents)
    CONTRIBUTION_TRANSITIONS.move(contribution, ContributionStatus.RECEIVED)
    contribution.received_cents = received_cents
    contribution.received_on = received_on
    contribution.bank_reference = bank_reference
    contribution.confirmed_by_id = actor.id
    contribution.received_at = utcnow()
    contribution.ledger_transaction_id = transaction.id
    record("contribution.confirmed", actor=actor, obj=contribution, details={
        "reference": contribution.reference, "received_cents": received_cents,
        "received_on": received_on.isoformat(), "bank_reference": bank_reference,
        "pledged_cents": contribution.amount_cents,
    })
    db.session.flush()
    return contribution


def _card_contribution(contribution_id: int, session_id: str) -> tuple[Contribution, bool]:
    """The locked card contribution, and whether this session already booked it (the webhook again)."""
    if db.session.get(Contribution, contribution_id) is None:
        raise NotFound(_("No contribution %(id)s.", id=contribution_id))
    contribution: Contribution = lock_row(Contribution, contribution_id, missing=_("Not found."))
    if contribution.method != ContributionMethod.STRIPE:
        raise Conflict(_("Contribution %(ref)s is a wire pledge, not a card payment.", ref=contribution.reference))
    if contribution.status == ContributionStatus.RECEIVED:
        if contribution.stripe_checkout_session_id == session_id:
            return contribution, True
        raise Conflict(_("Contribution %(ref)s was already paid by another checkout session.",
                         ref=contribution.reference))
    other = db.session.execute(
        sa.select(Contribution.id).where(Contribution.stripe_checkout_session_id == session_id,
                                         Contribution.id != contribution.id)
    ).scalar_one_or_none()
    if other is not None:
        raise Conflict(_("Checkout session %(s)s belongs to another contribution.", s=session_id))
    return contribution, False


def record_card_contribution(*, checkout_session_id: str, contribution_id: int, amount_cents: int) -> Contribution:
    """Rule: a paid Stripe Checkout Session books its contribution exactly once (for the webhook).

    A second call for the same session changes nothing and returns the
    contribution; a different session for an already received contribution,
    a session already used by another contribution, or a wire pledge is a Conflict.
    """
    session_id = (checkout_session_id or "").strip()
    if not session_id or len(session_id) > CHECKOUT_SESSION_CHARS:
        raise ValidationFailed(_("A checkout session id is required."),
                               errors={"checkout_session_id": [_("Give the checkout session id.")]})
    contribution, booked = _card_contribution(contribution_id, session_id)
    if booked:
        return contribution
    amount_cents = cents(amount_cents, "amount_cents")
    # Money that arrived is booked even if the pledge had been marked cancelled or failed meanwhile.
    transaction = _book_contribution(contribution, actor=None, amount_cents=amount_cents)
    contribution.stripe_checkout_session_id = session_id
    CONTRIBUTION_TRANSITIONS.move(contribution, ContributionStatus.RECEIVED)
    contribution.received_cents = amount_cents
    contribution.received_on = utcnow().date()
    contribution.received_at = utcnow()
    contribution.ledger_transaction_id = transaction.id
    record("contribution.card_received", actor=None, obj=contribution, details={
        "reference": contribution.reference, "received_cents": amount_cents, "checkout_session_id": session_id,
    })
    db.session.flush()
    return contribution
