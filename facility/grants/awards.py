"""Money committed: a fund manager awards a proposal, the grantee accepts the agreement, and what a
finished challenge did not award returns to the facility.

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits. Ledger postings:

- ``award:<proposal id>``   Dr grant:<id>:commitment  / Cr challenge:<id>:pool
- ``release-pool:<id>``     Dr facility:unallocated   / Cr challenge:<id>:pool
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges.models import Challenge
from facility.core.database import lock_row
from facility.core.errors import Conflict, ValidationFailed
from facility.core.inputs import COMMENT_CHARS, NAME_CHARS, REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.core.templating import money
from facility.extensions import db
from facility.grants.agreements import write_agreement_version
from facility.grants.amounts import cents
from facility.grants.indicators import copy_milestone_indicators
from facility.grants.models import GRANT_TRANSITIONS, Grant, GrantStatus, Tranche
from facility.grants.policy import (
    AWARD_OVERRIDE_MIN_CHARS,
    award_needs_approval,
    can_accept,
    can_award,
    can_release_pool,
    panel_selects,
)
from facility.ledger.balances import balance
from facility.ledger.models import LedgerTransaction
from facility.ledger.services import commitment_account, pool_account, pool_code, transfer, unallocated_account
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import Proposal, ProposalStatus

MAX_TRANCHES = 50


@dataclass
class TrancheSpec:
    title: str
    amount_cents: int
    due_date: date | None = None
    deliverable: str = ""
    milestone_id: int | None = None


def _from_milestones(proposal: Proposal, amount_cents: int) -> list[TrancheSpec]:
    """One tranche per milestone, when the award is the amount requested and the milestones sum to it."""
    milestones = [m for m in proposal.milestones if m.amount_cents > 0]
    if amount_cents == proposal.requested_cents and milestones \
            and sum(m.amount_cents for m in milestones) == amount_cents:
        return [TrancheSpec(title=m.title or _("Milestone %(n)s", n=i), amount_cents=m.amount_cents,
                            due_date=m.due_date, deliverable=m.deliverable, milestone_id=m.id)
                for i, m in enumerate(milestones, start=1)]
    message = _("The amount differs from what was requested (%(requested)s): give tranches that sum to "
                "the amount.", requested=money(proposal.requested_cents))
    raise ValidationFailed(message, errors={"tranches": [message]})


def _tranche_spec(index: int, item: Any, errors: dict[str, list[str]]) -> TrancheSpec:
    """One given tranche; its problems go into `errors` under `tranches.<index>.<field>`."""
    data = item if isinstance(item, dict) else vars(item)
    prefix = f"tranches.{index}"
    title = deliverable = ""
    try:
        title = clean_text(data.get("title"), f"{prefix}.title", limit=NAME_CHARS, required=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        deliverable = clean_text(data.get("deliverable"), f"{prefix}.deliverable", limit=COMMENT_CHARS,
                                 multiline=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        amount = cents(data.get("amount_cents"), f"{prefix}.amount_cents")
    except ValidationFailed as error:
        errors.update(error.errors)
        amount = 0
    due = data.get("due_date")
    if due is not None and not isinstance(due, date):
        errors[f"{prefix}.due_date"] = [_("Give a date.")]
        due = None
    return TrancheSpec(title=title, amount_cents=amount, due_date=due, deliverable=deliverable)


def _tranche_specs(proposal: Proposal, amount_cents: int, tranches: Sequence[Any] | None) -> list[TrancheSpec]:
    """Given tranches must sum to the amount; none given means one per milestone, at the requested amount."""
    if not tranches:
        return _from_milestones(proposal, amount_cents)
    errors: dict[str, list[str]] = {}
    if len(tranches) > MAX_TRANCHES:
        errors["tranches"] = [ngettext("Give at most %(n)s tranche.",
                                       "Give at most %(n)s tranches.", MAX_TRANCHES, n=MAX_TRANCHES)]
    specs = [_tranche_spec(index, item, errors) for index, item in enumerate(tranches)]
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


def _award_amount(proposal: Proposal, amount_cents: Any) -> int:
    """Rule: an award is a positive amount up to the challenge's maximum award."""
    amount = cents(amount_cents, "amount_cents")
    maximum: int = proposal.challenge.max_award_cents
    if amount > maximum:
        message = _("The challenge's maximum award is %(max)s.", max=money(maximum))
        raise ValidationFailed(message, errors={"amount_cents": [message]})
    return amount


def _new_grant(proposal: Proposal, actor: User, amount_cents: int, specs: list[TrancheSpec]) -> Grant:
    status = GrantStatus.PENDING_APPROVAL if award_needs_approval(amount_cents) else GrantStatus.OFFERED
    grant = Grant(proposal_id=proposal.id, challenge_id=proposal.challenge_id, organization_id=proposal.organization_id,
                  amount_cents=amount_cents, status=status, awarded_by_id=actor.id,
                  awarded_at=utcnow(), agreement_text=_agreement_text(proposal, amount_cents, specs))
    for position, spec in enumerate(specs, start=1):
        grant.tranches.append(Tranche(position=position, title=spec.title, amount_cents=spec.amount_cents,
                                      due_date=spec.due_date, deliverable=spec.deliverable,
                                      milestone_id=spec.milestone_id))
    db.session.add(grant)
    db.session.flush()
    copy_milestone_indicators(grant=grant)  # the milestones' indicators, measured per tranche
    write_agreement_version(grant=grant)  # version 1: the agreement as awarded
    return grant


def _override_reason(proposal: Proposal, override_reason: Any) -> str | None:
    """Rule: an award the panel's released decision does not select needs a written reason of at least
    `AWARD_OVERRIDE_MIN_CHARS` characters; one the panel selects needs none (a reason given is not kept)."""
    if panel_selects(proposal):
        return None
    reason = clean_text(override_reason, "override_reason", limit=REASON_CHARS, required=True, multiline=True)
    if len(reason) < AWARD_OVERRIDE_MIN_CHARS:
        message = ngettext("Explain in at least %(n)s character why the award departs from the panel's decision.",
                           "Explain in at least %(n)s characters why the award departs from the panel's decision.",
                           AWARD_OVERRIDE_MIN_CHARS, n=AWARD_OVERRIDE_MIN_CHARS)
        raise ValidationFailed(message, errors={"override_reason": [message]})
    return reason


def award_proposal(
    *, proposal: Proposal, actor: User, amount_cents: int, tranches: Sequence[Any] | None = None,
    override_reason: str | None = None,
) -> Grant:
    """Rule: a fund manager awards a submitted or shortlisted proposal of a closed challenge, once, when the
    panel's released decision selects it or with a written reason to override it (`policy.can_award`,
    `_override_reason`), up to the challenge's maximum award and only from money in its prize pool.

    Creates the grant with its tranches, moves the amount from the pool to the grant's commitment (so the
    pool is reserved) and marks the proposal awarded. Up to `AWARD_APPROVAL_ABOVE_CENTS` the grant is offered
    and the applicant told at once; above it, the grant awaits approval (`award_approvals.approve_award`) and
    the applicant is told once it is offered. An override is audited as `grant.award_override`.
    """
    overriding = bool(str(override_reason or "").strip())
    require(can_award(actor, proposal, overriding=overriding))  # the role before taking a lock
    proposal = lock_row(Proposal, proposal.id, missing=_("Not found."))
    require(can_award(actor, proposal, overriding=overriding))
    challenge = proposal.challenge
    reason = _override_reason(proposal, override_reason)
    amount_cents = _award_amount(proposal, amount_cents)
    specs = _tranche_specs(proposal, amount_cents, tranches)
    available = balance(pool_code(challenge.id))
    if available < amount_cents:
        raise Conflict(_("The prize pool holds %(holds)s, not enough for %(amount)s.",
                         holds=money(available), amount=money(amount_cents)))
    grant = _new_grant(proposal, actor, amount_cents, specs)
    if reason is not None:
        grant.award_override_reason = reason
        grant.award_override_by_id = actor.id
    transaction = transfer(
        key=f"award:{proposal.id}", source=pool_code(challenge.id),
        target=commitment_account(grant.id, name=f"Commitment of grant {grant.id}: {proposal.title}"[:200]),
        amount_cents=amount_cents, actor=actor, kind="award", description=f"Award to proposal {proposal.id}",
        metadata={"proposal_id": proposal.id, "grant_id": grant.id, "challenge_id": challenge.id},
    )
    grant.ledger_transaction_id = transaction.id
    set_proposal_status(proposal=proposal, to=ProposalStatus.AWARDED, actor=actor)
    record("grant.awarded", actor=actor, obj=grant, details={
        "proposal_id": proposal.id, "amount_cents": amount_cents, "status": grant.status.value,
        "tranches": [[spec.title, spec.amount_cents] for spec in specs],
    })
    if reason is not None:
        record("grant.award_override", actor=actor, obj=grant, details={"proposal_id": proposal.id,
                                                                         "reason": reason})
    if grant.status == GrantStatus.OFFERED:
        tell_grantee_awarded(grant)
    db.session.flush()
    return grant


def tell_grantee_awarded(grant: Grant) -> None:
    """The applicant organisation's active members hear of the offer (after commit): at the award, or, for an
    award that needed approval, when the last approval counts."""
    members = db.session.execute(
        sa.select(User).where(User.organization_id == grant.organization_id, User.active.is_(True))
    ).scalars().all()
    notify(members, "grants/awarded", grant=grant, proposal=grant.proposal)


def accept_grant(*, grant: Grant, actor: User) -> Grant:
    """Rule: the grantee's innovators accept an offered grant's agreement (offered -> active), once
    (`policy.can_accept`)."""
    grant = lock_row(Grant, grant.id, missing=_("Not found."))
    require(can_accept(actor, grant))
    GRANT_TRANSITIONS.move(grant, GrantStatus.ACTIVE)
    grant.accepted_by_id = actor.id
    grant.accepted_at = utcnow()
    record("grant.accepted", actor=actor, obj=grant, details={"amount_cents": grant.amount_cents})
    db.session.flush()
    return grant


def _release_key(challenge: Challenge) -> str:
    return f"release-pool:{challenge.id}"


def release_problem(challenge: Challenge) -> str | None:
    """Why the prize pool cannot be released, beyond `policy.can_release_pool`: it was already released, or
    nothing is left in it (the confirmation page asks this too, before offering the button)."""
    if db.session.execute(sa.select(LedgerTransaction.id).where(LedgerTransaction.key == _release_key(challenge))).first():
        return str(_("This prize pool was already released."))
    if balance(pool_code(challenge.id)) <= 0:
        return str(_("The prize pool is empty: nothing to release."))
    return None


def release_unused_pool(*, challenge: Challenge, actor: User) -> LedgerTransaction:
    """Rule: once a challenge is over (`policy.can_release_pool`), a fund manager returns what is left
    in its prize pool to unallocated funds, once.
    """
    require(can_release_pool(actor, challenge))
    problem = release_problem(challenge)
    if problem is not None:
        raise Conflict(problem)
    key = _release_key(challenge)
    pool = pool_account(challenge.id)
    amount = balance(pool.code)
    transaction = transfer(
        key=key, source=pool.code, target=unallocated_account(), amount_cents=amount, actor=actor, kind="release-pool",
        description=f"Unused prize pool of challenge {challenge.id} returned",
        metadata={"challenge_id": challenge.id},
    )
    record("challenge.pool_released", actor=actor, obj=challenge, details={"amount_cents": amount})
    return transaction
