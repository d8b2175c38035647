"""Money in: a donor's pledge, a wire confirmed by a fund manager, a card payment booked by the webhook.

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits. Ledger posting:

- ``contribution:<id>``     Dr facility:unallocated   / Cr donor:<org>:contributions
  (an earmarked contribution: Dr the fund's share of facility:unallocated)
- ``cofund:<id>``           a contribution earmarked for a published challenge: its fund's share of
  facility:unallocated => that fund's share of the challenge's pool (`transfer`), same transaction

Earmarks (`challenges.funding`): a pledge may name what its money may pay for (a focus area, a
country group, a region, or one challenge: co-funding, which donors and the officials of the
challenge's city may do). The earmark is kept on the pledge; the ledger `Fund` that keeps its money
apart is created when the money is *received* (one fund per earmarked contribution), since a pledge
holds no money and may never be paid: the public ledger's funds are the funds that hold or held money.
Money earmarked for a challenge waiting for approval waits in its fund; approval draws it first.
"""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from facility.accounts.models import Role, User
from facility.accounts.policy import has_role
from facility.audit.services import record
from facility.challenges.funding import EarmarkKind, earmark_text, parse_earmark
from facility.challenges.models import Challenge, ChallengeStatus
from facility.core.database import lock_row
from facility.core.errors import Conflict, NotFound, ValidationFailed
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.providers import CARD_UNAVAILABLE, stripe_configured
from facility.core.templating import money
from facility.extensions import db
from facility.grants.amounts import cents, money_received
from facility.grants.models import CONTRIBUTION_TRANSITIONS, Contribution, ContributionMethod, ContributionStatus
from facility.grants.policy import can_cofund, can_confirm_contribution, can_pledge
from facility.ledger.models import Fund, LedgerTransaction
from facility.ledger.services import (
    UNALLOCATED,
    contributions_account,
    create_fund,
    fund_share,
    pool_account,
    post_transaction,
    transfer,
    unallocated_account,
)

MIN_CONTRIBUTION_CENTS = 100  # USD 1: below that a card fee eats the gift
CHECKOUT_ENDPOINT = "payments.checkout"  # provided by facility.disbursements; no import (it depends on us)
CHECKOUT_SESSION_CHARS = 255  # Stripe's ids fit the column


def wire_instructions(contribution: Contribution) -> dict[str, str]:
    """Where to send a wire and the reference that ties it to the pledge."""
    settings = dict(current_app.config.get("WIRE_INSTRUCTIONS") or {})
    return {**{key: str(value) for key, value in settings.items()}, "reference": contribution.reference,
            "amount": money(contribution.amount_cents)}


def checkout_url(contribution: Contribution) -> str | None:
    """The page that sends a card pledge's donor to Stripe Checkout (None for a wire, or without Stripe).

    `disbursements` serves it (only that package talks to payment providers); grants sits below
    it, so it names the endpoint instead of importing the view. create_app always registers it.
    """
    if contribution.method != ContributionMethod.STRIPE or not stripe_configured():
        return None  # no link to a Stripe checkout that cannot work
    return url_for(CHECKOUT_ENDPOINT, contribution_id=contribution.id)


def challenge_to_cofund(challenge_id: int | None) -> Challenge | None:
    """The challenge a co-funding link names (None without one; NotFound for no such challenge: the
    policy then hides one the caller may not see)."""
    if challenge_id is None:
        return None
    challenge = db.session.get(Challenge, challenge_id) if 0 < challenge_id < 2**31 else None
    if challenge is None:
        raise NotFound(_("No challenge %(id)s.", id=challenge_id))
    return challenge


def _earmark(actor: User, earmark: Any) -> tuple[EarmarkKind, str] | None:
    """The valid earmark, after the pledging rule: donors pledge; a challenge's earmark (co-funding)
    follows `policy.can_cofund` (donors and the city's officials); a challenge the actor may not see
    is reported on the field like one that does not exist."""
    parsed = parse_earmark(earmark)
    if parsed is None or parsed[0] != EarmarkKind.CHALLENGE:
        require(can_pledge(actor))
        return parsed
    challenge = db.session.get(Challenge, int(parsed[1]))
    assert challenge is not None  # parse_earmark checked it exists
    decision = can_cofund(actor, challenge)
    if decision is not None and decision.error is NotFound:
        message = _("No challenge %(id)s.", id=challenge.id)
        raise ValidationFailed(_("The earmark needs attention."), errors={"earmark.challenge_id": [message]})
    require(decision)
    return parsed


def pledge_contribution(*, actor: User, amount_cents: int, method: ContributionMethod | str,
                        anonymous: bool = False, earmark: Any = None) -> Contribution:
    """Rule: a donor pledges a positive amount by wire (pledged, with a reference) or card (checkout open),
    optionally earmarked (`challenges.funding.parse_earmark`; a challenge's earmark per `policy.can_cofund`).

    The contribution belongs to the donor's organisation when they have one. `anonymous` is the
    donor's choice, made now and kept: the public ledger then names an "anonymous donor".
    """
    if earmark is None or not has_role(actor, Role.CITY_OFFICIAL):
        require(can_pledge(actor))  # only a city's official co-funding pledges without being a donor
    errors: dict[str, list[str]] = {}
    parsed = None
    try:
        parsed = _earmark(actor, earmark)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        amount_cents = cents(amount_cents, "amount_cents", minimum=MIN_CONTRIBUTION_CENTS)
    except ValidationFailed as error:
        errors.update(error.errors)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    try:
        method = ContributionMethod(method)
    except ValueError:
        message = _("Choose wire or card.") if stripe_configured() else _("Choose wire.")
        raise ValidationFailed(message, errors={"method": [message]}) from None
    if method == ContributionMethod.STRIPE and not stripe_configured():
        message = str(CARD_UNAVAILABLE)
        raise ValidationFailed(message, errors={"method": [message]})
    status = ContributionStatus.PLEDGED if method == ContributionMethod.WIRE else ContributionStatus.CHECKOUT_OPEN
    contribution = Contribution(
        donor_organization_id=actor.organization_id, pledged_by_id=actor.id, amount_cents=amount_cents,
        method=method, status=status, reference=f"pending-{uuid.uuid4().hex[:24]}", anonymous=bool(anonymous),
        earmark_kind=parsed[0] if parsed else None, earmark_value=parsed[1] if parsed else None,
    )
    db.session.add(contribution)
    db.session.flush()
    # The id makes the reference unique and short enough to type into a bank form.
    contribution.reference = f"UIF-C-{contribution.id:06d}"
    record("contribution.pledged", actor=actor, obj=contribution,
           details={"amount_cents": amount_cents, "method": method.value, "reference": contribution.reference,
                    "anonymous": contribution.anonymous, "earmark": contribution.earmark})
    db.session.flush()
    return contribution


def _book_contribution(contribution: Contribution, *, actor: Any, amount_cents: int) -> LedgerTransaction:
    """Book money received: into the general fund's unallocated money, or for an earmarked contribution
    into its own fund's share (the fund is created now), and on to a published challenge's pool when the
    earmark is that challenge (co-funding)."""
    org = contribution.donor_organization
    income = contributions_account(org.id if org else None, name=f"Contributions of {org.name}" if org else "")
    challenge = _cofunded_challenge(contribution)
    fund = _fund_for(contribution, actor=actor)
    transaction = post_transaction(
        key=f"contribution:{contribution.id}",
        entries=[(fund_share(unallocated_account(), fund), amount_cents), (income, -amount_cents)],
        actor=actor, kind="contribution",
        description=f"Contribution {contribution.reference}",
        metadata={"contribution_id": contribution.id, "method": contribution.method.value,
                  "fund_id": fund.id if fund is not None else None},
    )
    if fund is not None and challenge is not None and challenge.status == ChallengeStatus.PUBLISHED:
        transfer(key=f"cofund:{contribution.id}", source=UNALLOCATED, target=pool_account(challenge.id),
                 amount_cents=amount_cents, funds=[fund.id], actor=actor, kind="cofunding",
                 description=f"Co-funding {contribution.reference} of challenge {challenge.id}",
                 metadata={"contribution_id": contribution.id, "challenge_id": challenge.id})
    return transaction


def _cofunded_challenge(contribution: Contribution) -> Challenge | None:
    """The challenge an earmark names, locked (its approval, which draws the fund, waits for us or we for it)."""
    if contribution.earmark_kind != EarmarkKind.CHALLENGE or contribution.earmark_value is None:
        return None
    found: Challenge | None = db.session.execute(
        sa.select(Challenge).where(Challenge.id == int(contribution.earmark_value)).with_for_update(of=Challenge)
        .execution_options(populate_existing=True)).scalar_one_or_none()
    return found


def _fund_for(contribution: Contribution, *, actor: Any) -> Fund | None:
    """The earmarked contribution's ledger fund, created with its first receipt (None: general money)."""
    if contribution.earmark_kind is None or contribution.earmark_value is None:
        return None
    if contribution.fund_id is not None:
        return db.session.get(Fund, contribution.fund_id)
    kind = EarmarkKind(contribution.earmark_kind)
    name = _("%(earmark)s (contribution %(ref)s)", earmark=earmark_text(kind, contribution.earmark_value),
             ref=contribution.reference)
    fund = create_fund(name=name[:200], earmark_kind=kind.value, earmark_value=contribution.earmark_value,
                       actor=actor)
    contribution.fund_id = fund.id
    return fund


def _wire_receipt(received_cents: Any, received_on: Any, bank_reference: Any) -> tuple[int, date, str]:
    """The receipt's fields, or one ValidationFailed naming every field that needs attention."""
    errors: dict[str, list[str]] = {}
    receipt = money_received(received_cents, received_on, bank_reference, errors)
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    return receipt


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
