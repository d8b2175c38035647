"""Money in and committed: contributions, awards, pool releases, payout accounts, milestone evidence.

Every function here enforces one rule (its docstring says which), takes the
acting user as `actor=`, flushes and never commits: the page, API handler or
job that called it commits once. Money moves only through `facility.ledger`.

Ledger postings (see `facility.ledger.services` for the chart of accounts):

- ``contribution:<id>``     Dr facility:unallocated   / Cr donor:<org>:contributions
- ``award:<proposal id>``   Dr grant:<id>:commitment  / Cr challenge:<id>:pool
- ``release-pool:<id>``     Dr facility:unallocated   / Cr challenge:<id>:pool
"""
from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from facility.accounts.models import Role, User
from facility.audit.services import record
from facility.challenges.models import Challenge, ChallengeStatus, Phase
from facility.cities.models import City
from facility.core.database import lock_row
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.templating import money
from facility.core.uploads import store_upload, validate_upload
from facility.extensions import db
from facility.grants import crypto
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    EvidenceFile,
    Grant,
    GrantStatus,
    MilestoneReport,
    PayoutAccount,
    PayoutRail,
    ReportStatus,
    Tranche,
    TrancheStatus,
)
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import (
    MAX_AMOUNT_CENTS,
    balance,
    commitment_account,
    contributions_account,
    facility_totals,
    pool_account,
    pool_code,
    post_transaction,
    unallocated_account,
)
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import COMPETING_STATUSES, Proposal, ProposalStatus

MIN_CONTRIBUTION_CENTS = 100  # USD 1: below that a card fee eats the gift
AWARDABLE_STATUSES = (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED)
PENDING_DECISION = (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED)
EVIDENCE_AREA = "uploads/evidence"  # under the instance folder
MAX_KPIS = 50
MAX_REPORT_CHARS = 20_000
CHECKOUT_ENDPOINT = "payments.checkout"  # provided by facility.disbursements; no import (it depends on us)


def _signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def _require_role(actor: Any, *roles: Role) -> None:
    if not _signed_in(actor) or not actor.has_role(*roles):
        raise PermissionDenied(_("You are not allowed to do this."))


def _cents(value: Any, field: str, *, minimum: int = 1, label: str | None = None) -> int:
    """A whole, positive number of cents within the ledger's range, or a 422 on `field`."""
    if isinstance(value, bool) or not isinstance(value, int):
        message = _("Give a whole number of cents.")
        raise ValidationFailed(message, errors={field: [message]})
    if value < minimum:
        message = _("Give at least %(min)s.", min=money(minimum))
        raise ValidationFailed(message, errors={field: [message]})
    if value > MAX_AMOUNT_CENTS:
        message = _("This amount is larger than the facility accepts.")
        raise ValidationFailed(message, errors={field: [message]})
    return value


def _locked(model: type, object_id: int) -> Any:
    """Re-read a row under a row lock (see `facility.core.database.lock_row`)."""
    return lock_row(model, object_id, missing=_("Not found."))


# --- contributions -----------------------------------------------------------

def wire_instructions(contribution: Contribution) -> dict[str, str]:
    """Where to send a wire and the reference that ties it to the pledge."""
    settings = dict(current_app.config.get("WIRE_INSTRUCTIONS") or {})
    return {**{key: str(value) for key, value in settings.items()}, "reference": contribution.reference,
            "amount": money(contribution.amount_cents)}


def checkout_url(contribution: Contribution) -> str | None:
    """The Stripe Checkout redirect for a card pledge, when the payments package is installed."""
    if contribution.method != ContributionMethod.STRIPE:
        return None
    try:
        return url_for(CHECKOUT_ENDPOINT, contribution_id=contribution.id)
    except BuildError:
        return None


def pledge_contribution(*, actor: User, amount_cents: int, method: ContributionMethod | str) -> Contribution:
    """Rule: a donor pledges a positive amount by wire (pledged, with a reference) or card (checkout open).

    The contribution belongs to the donor's organisation when they have one.
    """
    _require_role(actor, Role.DONOR)
    amount_cents = _cents(amount_cents, "amount_cents", minimum=MIN_CONTRIBUTION_CENTS)
    try:
        method = ContributionMethod(method)
    except ValueError:
        message = _("Choose wire or card.")
        raise ValidationFailed(message, errors={"method": [message]}) from None
    status = ContributionStatus.PLEDGED if method == ContributionMethod.WIRE else ContributionStatus.CHECKOUT_OPEN
    contribution = Contribution(
        donor_organization_id=actor.organization_id, pledged_by_id=actor.id, amount_cents=amount_cents,
        method=method, status=status, reference=f"pending-{uuid.uuid4().hex[:24]}",
    )
    db.session.add(contribution)
    db.session.flush()
    # The id makes the reference unique and short enough to type into a bank form.
    contribution.reference = f"UIF-C-{contribution.id:06d}"
    record("contribution.pledged", actor=actor, obj=contribution,
           details={"amount_cents": amount_cents, "method": method.value, "reference": contribution.reference})
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


def confirm_wire_contribution(
    *, contribution: Contribution, actor: User, received_cents: int, received_on: date, bank_reference: str,
) -> Contribution:
    """Rule: a fund manager confirms a pledged wire once; the money is booked in the same transaction.

    Confirming twice (or a card contribution) is a Conflict. The date cannot be
    in the future and the bank's reference is required.
    """
    if not contribution.can_confirm(actor):
        raise PermissionDenied(_("Only fund managers confirm contributions."))
    contribution = _locked(Contribution, contribution.id)
    if contribution.method != ContributionMethod.WIRE:
        raise Conflict(_("Only wire transfers are confirmed by hand; card payments confirm themselves."))
    if contribution.status != ContributionStatus.PLEDGED:
        raise Conflict(_("Contribution %(ref)s is already %(status)s.", ref=contribution.reference,
                         status=contribution.status.value))
    errors: dict[str, list[str]] = {}
    try:
        received_cents = _cents(received_cents, "amount_cents")
    except ValidationFailed as error:
        errors.update(error.errors)
    if not isinstance(received_on, date):
        errors["received_on"] = [_("Give the date the money arrived.")]
    elif received_on > utcnow().date():
        errors["received_on"] = [_("The date cannot be in the future.")]
    bank_reference = (bank_reference or "").strip()
    if not bank_reference or len(bank_reference) > 120:
        errors["bank_reference"] = [_("Give the bank's reference (1 to 120 characters).")]
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    transaction = _book_contribution(contribution, actor=actor, amount_cents=received_cents)
    contribution.status = ContributionStatus.RECEIVED
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


def record_card_contribution(*, checkout_session_id: str, contribution_id: int, amount_cents: int) -> Contribution:
    """Rule: a paid Stripe Checkout Session books its contribution exactly once (for the webhook).

    A second call for the same session changes nothing and returns the
    contribution; a different session for an already received contribution,
    a session already used by another contribution, or a wire pledge is a Conflict.
    """
    session_id = (checkout_session_id or "").strip()
    if not session_id or len(session_id) > 255:
        raise ValidationFailed(_("A checkout session id is required."),
                               errors={"checkout_session_id": [_("Give the checkout session id.")]})
    contribution = db.session.get(Contribution, contribution_id)
    if contribution is None:
        raise NotFound(_("No contribution %(id)s.", id=contribution_id))
    contribution = _locked(Contribution, contribution.id)
    if contribution.method != ContributionMethod.STRIPE:
        raise Conflict(_("Contribution %(ref)s is a wire pledge, not a card payment.", ref=contribution.reference))
    if contribution.status == ContributionStatus.RECEIVED:
        if contribution.stripe_checkout_session_id == session_id:
            return contribution  # the webhook again: already booked
        raise Conflict(_("Contribution %(ref)s was already paid by another checkout session.",
                         ref=contribution.reference))
    other = db.session.execute(
        sa.select(Contribution.id).where(Contribution.stripe_checkout_session_id == session_id,
                                         Contribution.id != contribution.id)
    ).scalar_one_or_none()
    if other is not None:
        raise Conflict(_("Checkout session %(s)s belongs to another contribution.", s=session_id))
    amount_cents = _cents(amount_cents, "amount_cents")
    # Money that arrived is booked even if the pledge had been marked cancelled or failed meanwhile.
    transaction = _book_contribution(contribution, actor=None, amount_cents=amount_cents)
    contribution.stripe_checkout_session_id = session_id
    contribution.status = ContributionStatus.RECEIVED
    contribution.received_cents = amount_cents
    contribution.received_on = utcnow().date()
    contribution.received_at = utcnow()
    contribution.ledger_transaction_id = transaction.id
    record("contribution.card_received", actor=None, obj=contribution, details={
        "reference": contribution.reference, "received_cents": amount_cents, "checkout_session_id": session_id,
    })
    db.session.flush()
    return contribution


# --- facility totals ---------------------------------------------------------

def facility_figures() -> dict[str, int]:
    """The ledger totals plus the results-framework counts (a handful of queries, whatever the size).

    countries and city governments: of cities with a published or finished
    challenge; technology companies: organisations with a proposal in the competition.
    """
    figures = facility_totals()
    public = (ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED)
    row = db.session.execute(
        sa.select(sa.func.count(sa.distinct(City.country)), sa.func.count(sa.distinct(City.id)))
        .join(Challenge, Challenge.city_id == City.id)
        .where(Challenge.status.in_(public))
    ).one()
    companies = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Proposal.organization_id))).where(Proposal.status.in_(COMPETING_STATUSES))
    ).scalar_one()
    figures.update(countries=int(row[0]), cities=int(row[1]), technology_companies=int(companies))
    figures["progress_permille"] = min(1000, figures["raised"] * 1000 // figures["target"]) if figures["target"] else 0
    return figures


# --- awards ------------------------------------------------------------------

@dataclass
class TrancheSpec:
    title: str
    amount_cents: int
    due_date: date | None = None
    deliverable: str = ""
    milestone_id: int | None = None


def can_award(user: Any) -> bool:
    """Fund managers award grants."""
    return _signed_in(user) and user.has_role(Role.FUND_MANAGER)


def _tranche_specs(proposal: Proposal, amount_cents: int, tranches: Sequence[Any] | None) -> list[TrancheSpec]:
    """Given tranches must sum to the amount; none given means one per milestone, at the requested amount."""
    if not tranches:
        milestones = [m for m in proposal.milestones if m.amount_cents > 0]
        if amount_cents == proposal.requested_cents and milestones \
                and sum(m.amount_cents for m in milestones) == amount_cents:
            return [TrancheSpec(title=m.title or _("Milestone %(n)s", n=i), amount_cents=m.amount_cents,
                                due_date=m.due_date, deliverable=m.deliverable, milestone_id=m.id)
                    for i, m in enumerate(milestones, start=1)]
        message = _("The amount differs from what was requested (%(requested)s): give tranches that sum to "
                    "the amount.", requested=money(proposal.requested_cents))
        raise ValidationFailed(message, errors={"tranches": [message]})
    specs: list[TrancheSpec] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(tranches):
        data = item if isinstance(item, dict) else vars(item)
        title = str(data.get("title") or "").strip()
        if not title or len(title) > 200:
            errors[f"tranches.{index}.title"] = [_("Give a title of 1 to 200 characters.")]
        amount = data.get("amount_cents")
        try:
            amount = _cents(amount, f"tranches.{index}.amount_cents")
        except ValidationFailed as error:
            errors.update(error.errors)
            amount = 0
        due = data.get("due_date")
        if due is not None and not isinstance(due, date):
            errors[f"tranches.{index}.due_date"] = [_("Give a date.")]
            due = None
        specs.append(TrancheSpec(title=title, amount_cents=amount, due_date=due,
                                 deliverable=str(data.get("deliverable") or "")))
    if not errors and sum(spec.amount_cents for spec in specs) != amount_cents:
        message = _("The tranches sum to %(sum)s but the award is %(amount)s; they must be equal.",
                    sum=money(sum(spec.amount_cents for spec in specs)), amount=money(amount_cents))
        errors["tranches"] = [message]
    if errors:
        raise ValidationFailed(_("Some tranches need attention."), errors=errors)
    return specs


def _agreement_text(proposal: Proposal, amount_cents: int, specs: list[TrancheSpec]) -> str:
    lines = [
        f"Grant agreement for \"{proposal.title}\" (challenge: {proposal.challenge.title}).",
        f"The Urban Innovation Facility grants {money(amount_cents)} to {proposal.organization.name}, "
        "paid in the tranches below once each milestone's evidence is accepted.",
        "",
    ]
    for position, spec in enumerate(specs, start=1):
        due = spec.due_date.isoformat() if spec.due_date else "no fixed date"
        lines.append(f"{position}. {spec.title}: {money(spec.amount_cents)}, due {due}.")
    lines += ["", "The grantee reports progress against each milestone, uses the money for the proposal as "
              "submitted, and respects the privacy and human-rights commitments it made."]
    return "\n".join(lines)


def award_proposal(
    *, proposal: Proposal, actor: User, amount_cents: int, tranches: Sequence[Any] | None = None,
) -> Grant:
    """Rule: a fund manager awards a submitted or shortlisted proposal of a closed challenge, once,
    up to the challenge's maximum award and only from money in its prize pool.

    Creates the grant (offered) with its tranches, moves the amount from the pool
    to the grant's commitment, marks the proposal awarded and tells the applicant.
    """
    if not can_award(actor):
        raise PermissionDenied(_("Only fund managers award grants."))
    proposal = _locked(Proposal, proposal.id)
    if proposal.status == ProposalStatus.AWARDED:
        raise Conflict(_("This proposal has already been awarded."))
    if proposal.status not in AWARDABLE_STATUSES:
        raise Conflict(_("Only submitted or shortlisted proposals can be awarded; this one is %(status)s.",
                         status=proposal.status.value))
    challenge = proposal.challenge
    if not (challenge.status == ChallengeStatus.FINISHED or challenge.phase == Phase.CLOSED):
        raise Conflict(_("Awards are made after the challenge closes."))
    amount_cents = _cents(amount_cents, "amount_cents")
    if amount_cents > challenge.max_award_cents:
        message = _("The challenge's maximum award is %(max)s.", max=money(challenge.max_award_cents))
        raise ValidationFailed(message, errors={"amount_cents": [message]})
    specs = _tranche_specs(proposal, amount_cents, tranches)
    available = balance(pool_code(challenge.id))
    if available < amount_cents:
        raise Conflict(_("The prize pool holds %(holds)s, not enough for %(amount)s.",
                         holds=money(available), amount=money(amount_cents)))

    grant = Grant(proposal_id=proposal.id, challenge_id=challenge.id, organization_id=proposal.organization_id,
                  amount_cents=amount_cents, status=GrantStatus.OFFERED, awarded_by_id=actor.id,
                  awarded_at=utcnow(), agreement_text=_agreement_text(proposal, amount_cents, specs))
    for position, spec in enumerate(specs, start=1):
        grant.tranches.append(Tranche(position=position, title=spec.title, amount_cents=spec.amount_cents,
                                      due_date=spec.due_date, deliverable=spec.deliverable,
                                      milestone_id=spec.milestone_id))
    db.session.add(grant)
    db.session.flush()
    transaction = post_transaction(
        key=f"award:{proposal.id}",
        entries=[(commitment_account(grant.id, name=f"Commitment of grant {grant.id}: {proposal.title}"[:200]),
                  amount_cents),
                 (pool_account(challenge.id), -amount_cents)],
        actor=actor, kind="award", description=f"Award to proposal {proposal.id}",
        metadata={"proposal_id": proposal.id, "grant_id": grant.id, "challenge_id": challenge.id},
    )
    grant.ledger_transaction_id = transaction.id
    set_proposal_status(proposal=proposal, to=ProposalStatus.AWARDED, actor=actor)
    record("grant.awarded", actor=actor, obj=grant, details={
        "proposal_id": proposal.id, "amount_cents": amount_cents,
        "tranches": [[spec.title, spec.amount_cents] for spec in specs],
    })
    members = db.session.execute(
        sa.select(User).where(User.organization_id == proposal.organization_id, User.active.is_(True))
    ).scalars().all()
    notify(members, "grants/awarded", grant=grant, proposal=proposal)
    db.session.flush()
    return grant


def accept_grant(*, grant: Grant, actor: User) -> Grant:
    """Rule: the grantee's innovators accept an offered grant's agreement (offered -> active), once."""
    if not grant.acts_for_grantee(actor):
        raise PermissionDenied(_("Only the grantee organisation accepts its grant."))
    grant = _locked(Grant, grant.id)
    if grant.status != GrantStatus.OFFERED:
        raise Conflict(_("This grant is %(status)s; only an offered grant can be accepted.", status=grant.status.value))
    grant.status = GrantStatus.ACTIVE
    grant.accepted_by_id = actor.id
    grant.accepted_at = utcnow()
    record("grant.accepted", actor=actor, obj=grant, details={"amount_cents": grant.amount_cents})
    db.session.flush()
    return grant


def release_unused_pool(*, challenge: Challenge, actor: User) -> LedgerTransaction:
    """Rule: once a challenge is over (finished, or closed with no proposal awaiting a decision),
    a fund manager returns what is left in its prize pool to unallocated funds, once.
    """
    if not can_award(actor):
        raise PermissionDenied(_("Only fund managers release prize pools."))
    if not (challenge.status == ChallengeStatus.FINISHED or challenge.phase == Phase.CLOSED):
        raise Conflict(_("The challenge is not over yet."))
    if challenge.status != ChallengeStatus.FINISHED:
        pending = db.session.execute(
            sa.select(sa.func.count(Proposal.id)).where(Proposal.challenge_id == challenge.id,
                                                        Proposal.status.in_(PENDING_DECISION))
        ).scalar_one()
        if pending:
            raise Conflict(_("%(n)s proposals still await a decision; award or decline them first.", n=pending))
    key = f"release-pool:{challenge.id}"
    if db.session.execute(sa.select(LedgerTransaction.id).where(LedgerTransaction.key == key)).first():
        raise Conflict(_("This prize pool was already released."))
    pool = pool_account(challenge.id)
    amount = balance(pool.code)
    if amount <= 0:
        raise Conflict(_("The prize pool is empty: nothing to release."))
    transaction = post_transaction(
        key=key, entries=[(unallocated_account(), amount), (pool, -amount)], actor=actor, kind="release-pool",
        description=f"Unused prize pool of challenge {challenge.id} returned",
        metadata={"challenge_id": challenge.id},
    )
    record("challenge.pool_released", actor=actor, obj=challenge, details={"amount_cents": amount})
    return transaction


# --- payout accounts ---------------------------------------------------------

_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{6,64}$")
_SWIFT = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_ACCOUNT_NUMBER = re.compile(r"^[A-Z0-9]{4,34}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def _compact(value: str | None) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: letters to numbers, rotated, mod 97 == 1."""
    if not _IBAN.match(iban):
        return False
    rotated = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rotated)) % 97 == 1


def mask(value: str, visible: int = 4) -> str:
    """Only the last `visible` characters, e.g. '•••• 6789'."""
    return "•••• " + value[-visible:] if value else ""


def _verify_password(user: User, password: str | None) -> bool:
    from facility.accounts.services import verify_password

    return bool(password) and verify_password(user, password)


def set_payout_account(
    *,
    grant: Grant,
    actor: User,
    rail: PayoutRail | str,
    stripe_account_id: str | None = None,
    account_holder: str | None = None,
    bank_name: str | None = None,
    account_number: str | None = None,
    iban: str | None = None,
    swift: str | None = None,
    confirm_password: str | None = None,
) -> PayoutAccount:
    """Rule: the grantee's innovators give where the grant is paid; changing an existing account needs
    their current password, and writes a new row that supersedes the old (never edited in place).

    Bank numbers are stored only encrypted, and only their last four characters are kept in clear.
    """
    if not grant.can_set_payout(actor):
        raise PermissionDenied(_("Only the grantee organisation gives payout details for an offered or active grant."))
    grant = _locked(Grant, grant.id)
    current = grant.payout_account
    errors: dict[str, list[str]] = {}
    try:
        rail = PayoutRail(rail)
    except ValueError:
        raise ValidationFailed(_("Choose Stripe or a bank transfer."),
                               errors={"rail": [_("Choose Stripe or a bank transfer.")]}) from None
    if current is not None and not _verify_password(actor, confirm_password):
        errors["confirm_password"] = [_("Changing payout details needs your current password.")]
    account = PayoutAccount(grant_id=grant.id, rail=rail, created_by_id=actor.id, created_at=utcnow())
    if rail == PayoutRail.STRIPE:
        stripe_account_id = (stripe_account_id or "").strip()
        if not _STRIPE_ACCOUNT.match(stripe_account_id):
            errors["stripe_account_id"] = [_("Give your Stripe account id, like acct_1A2b3C4d5E.")]
        account.stripe_account_id = stripe_account_id
        account.masked_account = mask(stripe_account_id)
    else:
        holder = (account_holder or "").strip()
        bank = (bank_name or "").strip()
        number, iban_value, swift_value = _compact(account_number), _compact(iban), _compact(swift)
        if not holder or len(holder) > 200:
            errors["account_holder"] = [_("Give the account holder's name (1 to 200 characters).")]
        if not bank or len(bank) > 200:
            errors["bank_name"] = [_("Give the bank's or mobile-money provider's name (1 to 200 characters).")]
        if bool(number) == bool(iban_value):
            errors["account_number"] = [_("Give either an account number or an IBAN.")]
        elif number and not _ACCOUNT_NUMBER.match(number):
            errors["account_number"] = [_("An account number has 4 to 34 letters and digits.")]
        elif iban_value and not iban_is_valid(iban_value):
            errors["iban"] = [_("This is not a valid IBAN; check it against your bank statement.")]
        if swift_value and not _SWIFT.match(swift_value):
            errors["swift"] = [_("A SWIFT/BIC code has 8 or 11 characters, like DEUTDEFF or DEUTDEFF500.")]
        details = {"swift": swift_value or None}
        details["iban" if iban_value else "account_number"] = iban_value or number
        account.account_holder = holder
        account.bank_name = bank
        if not errors:
            account.encrypted_details = crypto.encrypt_json(details)
        account.masked_account = mask(iban_value or number)
        account.swift_masked = (swift_value[:4] + "••••") if swift_value else None
    if errors:
        raise ValidationFailed(_("Some payout details need attention."), errors=errors)
    if current is not None:
        current.superseded_at = utcnow()
    grant.payout_accounts.append(account)
    db.session.flush()
    record("payout_account.changed" if current is not None else "payout_account.set", actor=actor, obj=grant,
           details={"payout_account_id": account.id, "rail": rail.value, "masked_account": account.masked_account,
                    "superseded": current.id if current is not None else None})
    db.session.flush()
    return account


def payout_details_for(grant: Grant) -> dict[str, Any]:
    """Where to pay a grant, decrypted: for the disbursement job only (never shown on a page or the API).

    The only path that decrypts bank details. Conflict when no account is given.
    """
    account = grant.payout_account
    if account is None:
        raise Conflict(_("The grantee has not given payout details yet."))
    details: dict[str, Any] = {"rail": account.rail.value, "payout_account_id": account.id}
    if account.rail == PayoutRail.STRIPE:
        details["stripe_account_id"] = account.stripe_account_id
        return details
    details.update(account_holder=account.account_holder, bank_name=account.bank_name)
    details.update(crypto.decrypt_json(account.encrypted_details or ""))
    return details


# --- milestone evidence -------------------------------------------------------

def _clean_kpis(kpi_values: Any) -> dict[str, float | int]:
    if kpi_values in (None, ""):
        return {}
    if not isinstance(kpi_values, dict):
        raise ValidationFailed(_("KPI values must map names to numbers."),
                               errors={"kpi_values": [_("KPI values must map names to numbers.")]})
    if len(kpi_values) > MAX_KPIS:
        message = _("Give at most %(n)s KPI values.", n=MAX_KPIS)
        raise ValidationFailed(message, errors={"kpi_values": [message]})
    cleaned: dict[str, float | int] = {}
    for name, value in kpi_values.items():
        label = str(name).strip()
        if not label or len(label) > 100:
            raise ValidationFailed(_("KPI names have 1 to 100 characters."),
                                   errors={"kpi_values": [_("KPI names have 1 to 100 characters.")]})
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            message = _("The value of %(name)s must be a number.", name=label)
            raise ValidationFailed(message, errors={"kpi_values": [message]})
        cleaned[label] = value
    return cleaned


def submit_milestone_report(
    *, tranche: Tranche, actor: User, text: str, kpi_values: dict | None = None,
    files: Iterable[tuple[str, bytes]] = (),
) -> MilestoneReport:
    """Rule: the grantee's innovators report a pending milestone of an active grant, with a
    description, optional KPI values and evidence files; the tranche then awaits review.
    """
    if not tranche.grant.acts_for_grantee(actor):
        raise PermissionDenied(_("Only the grantee organisation reports its milestones."))
    tranche = _locked(Tranche, tranche.id)
    if tranche.grant.status != GrantStatus.ACTIVE:
        raise Conflict(_("Accept the grant agreement before reporting milestones."))
    if tranche.status != TrancheStatus.PENDING:
        raise Conflict(_("This milestone is %(status)s; only a pending milestone can be reported.",
                         status=tranche.status.value))
    text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    if not text or len(text) > MAX_REPORT_CHARS:
        errors["text"] = [_("Describe what was delivered (1 to %(n)s characters).", n=MAX_REPORT_CHARS)]
    try:
        kpis = _clean_kpis(kpi_values)
    except ValidationFailed as error:
        errors.update(error.errors)
        kpis = {}
    files = list(files)
    for filename, data in files:
        try:
            validate_upload(filename, data)
        except ValidationFailed as error:
            errors.setdefault("files", []).extend(error.errors.get("files", [error.detail]))
    if errors:
        raise ValidationFailed(_("The report needs attention."), errors=errors)
    report = MilestoneReport(tranche_id=tranche.id, submitted_by_id=actor.id, text=text, kpi_values=kpis,
                             status=ReportStatus.SUBMITTED, created_at=utcnow())
    for filename, data in files:
        stored = store_upload(EVIDENCE_AREA, filename, data)
        report.files.append(EvidenceFile(
            original_filename=stored.original_filename, content_type=stored.content_type,
            size_bytes=stored.size_bytes, sha256=stored.sha256, storage_key=stored.storage_key,
        ))
    tranche.reports.append(report)
    tranche.status = TrancheStatus.EVIDENCE_SUBMITTED
    db.session.flush()
    record("milestone.reported", actor=actor, obj=report, details={
        "tranche_id": tranche.id, "grant_id": tranche.grant_id, "files": [f.sha256 for f in report.files],
    })
    return report


def accept_milestone_report(*, report: MilestoneReport, actor: User) -> MilestoneReport:
    """Rule: a fund manager accepts a submitted report; its tranche may then be disbursed."""
    if not (_signed_in(actor) and actor.has_role(Role.FUND_MANAGER)):
        raise PermissionDenied(_("Only fund managers review milestone reports."))
    report = _locked(MilestoneReport, report.id)
    if not report.can_review(actor):
        raise Conflict(_("This report was already reviewed."))
    report.status = ReportStatus.ACCEPTED
    report.reviewed_by_id = actor.id
    report.reviewed_at = utcnow()
    report.tranche.status = TrancheStatus.ACCEPTED
    record("milestone.accepted", actor=actor, obj=report, details={"tranche_id": report.tranche_id})
    db.session.flush()
    return report


def return_milestone_report(*, report: MilestoneReport, actor: User, comment: str) -> MilestoneReport:
    """Rule: a fund manager sends a submitted report back with a comment; the milestone is pending again."""
    if not (_signed_in(actor) and actor.has_role(Role.FUND_MANAGER)):
        raise PermissionDenied(_("Only fund managers review milestone reports."))
    comment = (comment or "").strip()
    if not comment or len(comment) > 5000:
        message = _("Say what the grantee should change (1 to 5,000 characters).")
        raise ValidationFailed(message, errors={"comment": [message]})
    report = _locked(MilestoneReport, report.id)
    if not report.can_review(actor):
        raise Conflict(_("This report was already reviewed."))
    report.status = ReportStatus.RETURNED
    report.reviewer_comment = comment
    report.reviewed_by_id = actor.id
    report.reviewed_at = utcnow()
    report.tranche.status = TrancheStatus.PENDING
    record("milestone.returned", actor=actor, obj=report, details={"tranche_id": report.tranche_id,
                                                                    "comment": comment})
    db.session.flush()
    return report


# --- extension point for the grant's API representation ----------------------

GrantExtra = Callable[[Grant], Any]
_grant_extras: dict[str, GrantExtra] = {}


def register_grant_extra(name: str, fn: GrantExtra) -> GrantExtra:
    """Add a key to `GET /api/v1/grants/{id}`: `fn(grant)` returns its JSON-ready value.

    The disbursements package registers "disbursements" this way (grants may not import it).
    """
    _grant_extras[name] = fn
    return fn


def unregister_grant_extra(name: str) -> None:
    _grant_extras.pop(name, None)


def grant_extras(grant: Grant) -> dict[str, Any]:
    return {name: fn(grant) for name, fn in _grant_extras.items()}
