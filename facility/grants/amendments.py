"""Grants that change after signature: a fund manager proposes a new tranche schedule with a reason, other fund
managers approve it where it needs approval, the grantee accepts it, and it takes effect.

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`, flushes and
never commits.

- An amendment is the *whole* new schedule: every tranche paid or being paid, unchanged (409 otherwise);
  unpaid tranches (`UNPAID_TRANCHE_STATUSES`) changed, kept or left out (left out: cancelled when it takes
  effect); new tranches without an id.
- It needs approval when it increases the grant or changes it by more than `AMENDMENT_APPROVAL_ABOVE_CENTS`
  (default USD 10,000): the approval tiers (`accounts.authority.approval_state`) on the size of the change,
  its author being the requester. Otherwise it is approved at once.
- It takes effect when the grantee accepts it, in one transaction, under the locks of the grant and its
  tranches (the same tranche locks a disbursement request takes, so the two cannot both win): the grant's
  total and tranches change, a new agreement version is written, and the ledger moves the difference:

  - ``amendment:<id>`` (increase)  Dr grant:<id>:commitment / Cr challenge:<id>:pool (guarded: 409 when short)
  - ``amendment:<id>`` (decrease)  Dr challenge:<id>:pool  / Cr grant:<id>:commitment (general fund first)

So a grant's commitment always equals its undisbursed tranches (`check_commitments_match_tranches`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.authority import ApprovalState, approval_state, approver_for
from facility.accounts.models import Role, User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import Conflict, ValidationFailed
from facility.core.inputs import NAME_CHARS, REASON_CHARS, clean_text
from facility.core.labels import label
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.core.templating import money
from facility.extensions import db
from facility.grants import policy
from facility.grants.agreements import schedule_of, write_agreement_version
from facility.grants.amendment_models import (
    AMENDMENT_TRANSITIONS,
    AmendmentApproval,
    AmendmentStatus,
    AmendmentTranche,
    GrantAmendment,
)
from facility.grants.amounts import cents
from facility.grants.models import (
    GRANT_TRANSITIONS,
    TRANCHE_TRANSITIONS,
    UNPAID_TRANCHE_STATUSES,
    Grant,
    GrantStatus,
    Tranche,
    TrancheStatus,
)
from facility.ledger.balances import balance, commitment_code_sql, purpose_balance
from facility.ledger.services import commitment_account, commitment_code, pool_account, pool_code, transfer

DEFAULT_AMENDMENT_APPROVAL_ABOVE_CENTS = 1_000_000  # USD 10,000
MAX_TRANCHES = 50


def approval_above_cents() -> int:
    return int(current_app.config.get("AMENDMENT_APPROVAL_ABOVE_CENTS", DEFAULT_AMENDMENT_APPROVAL_ABOVE_CENTS))


def needs_approval(change_cents: int) -> bool:
    """Rule: an increase, or a change larger than `AMENDMENT_APPROVAL_ABOVE_CENTS`, needs approval."""
    return change_cents > 0 or abs(change_cents) > approval_above_cents()


def amendment_approval_state(amendment: GrantAmendment) -> ApprovalState:
    """Where the amendment's approval stands (the tiers on the size of the change; its author never counts)."""
    approvers = [approver_for(a.approver, limit_cents=a.limit_cents) for a in amendment.approvals]
    return approval_state(amount_cents=abs(amendment.change_cents), requester_id=amendment.proposed_by_id,
                          approvers=approvers)


def _tell(amendment: GrantAmendment, grant: Grant) -> None:
    """The grantee's innovators hear of an approved amendment (to accept); fund managers other than its author of
    a pending one (to approve). Sent after the commit (`core.notify`)."""
    if amendment.status == AmendmentStatus.APPROVED:
        people = sa.select(User).where(User.organization_id == grant.organization_id, User.active.is_(True),
                                       User.role_rows.any(role=Role.INNOVATOR))
        notify(db.session.execute(people).scalars().all(), "grants/amendment_to_accept", amendment=amendment,
               grant=grant)
    elif amendment.status == AmendmentStatus.PENDING:
        people = sa.select(User).where(User.active.is_(True), User.role_rows.any(role=Role.FUND_MANAGER),
                                       User.id != amendment.proposed_by_id)
        notify(db.session.execute(people).scalars().all(), "grants/amendment_approval_needed", amendment=amendment,
               grant=grant)


# --- proposing ----------------------------------------------------------------------------------

@dataclass
class ScheduleRow:
    tranche_id: int | None
    title: str
    amount_cents: int
    due_date: date | None


def _row(index: int, item: Any, errors: dict[str, list[str]]) -> ScheduleRow:
    data = item if isinstance(item, dict) else vars(item)
    prefix = f"tranches.{index}"
    title, amount, tranche_id = "", 0, data.get("id")
    try:
        title = clean_text(data.get("title"), f"{prefix}.title", limit=NAME_CHARS, required=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        amount = cents(data.get("amount_cents"), f"{prefix}.amount_cents")
    except ValidationFailed as error:
        errors.update(error.errors)
    due = data.get("due_date")
    if due is not None and not isinstance(due, date):
        errors[f"{prefix}.due_date"] = [_("Give a date.")]
        due = None
    if tranche_id is not None and (isinstance(tranche_id, bool) or not isinstance(tranche_id, int)):
        errors[f"{prefix}.id"] = [_("Give the id of one of this grant's tranches, or none for a new tranche.")]
        tranche_id = None
    return ScheduleRow(tranche_id=tranche_id, title=title, amount_cents=amount, due_date=due)


def _locked_grant(grant_id: int) -> Grant:
    """The grant's row, locked and fresh, `FOR NO KEY UPDATE` (`lock_row(no_key=True)`): a disbursement request
    holds its tranche's lock while its insert takes a key-share lock on the grant (the foreign key); with a plain
    `FOR UPDATE` here, the two would deadlock (grant, then tranche here; tranche, then grant there). Amendments
    still exclude each other, and the tranche locks decide races with payments."""
    return lock_row(Grant, grant_id, missing=_("Not found."), no_key=True)


def _locked_tranches(grant_id: int) -> dict[int, Tranche]:
    """The grant's tranches, locked in id order with fresh values (the rows a disbursement request locks)."""
    rows = db.session.execute(
        sa.select(Tranche).where(Tranche.grant_id == grant_id).order_by(Tranche.id).with_for_update()
        .execution_options(populate_existing=True)).scalars().all()
    return {row.id: row for row in rows}


def _unchanged(row: ScheduleRow, tranche: Tranche) -> bool:
    return (row.title, row.amount_cents, row.due_date) == (tranche.title, tranche.amount_cents, tranche.due_date)


def _schedule(tranches: Sequence[Any] | None, current: dict[int, Tranche]) -> list[ScheduleRow]:
    """Rule: the new schedule names each tranche of the grant at most once, leaves every tranche paid or being
    paid unchanged (409), changes or leaves out only unpaid ones, and changes something."""
    errors: dict[str, list[str]] = {}
    items = list(tranches or [])
    if not items:
        raise ValidationFailed(_("Give the whole new schedule: at least one tranche."),
                               errors={"tranches": [_("Give at least one tranche.")]})
    if len(items) > MAX_TRANCHES:
        raise ValidationFailed(ngettext("Give at most %(n)s tranche.",
                                        "Give at most %(n)s tranches.", MAX_TRANCHES, n=MAX_TRANCHES),
                               errors={"tranches": [ngettext("Give at most %(n)s tranche.",
                                                             "Give at most %(n)s tranches.", MAX_TRANCHES, n=MAX_TRANCHES)]})
    rows = [_row(index, item, errors) for index, item in enumerate(items)]
    seen: set[int] = set()
    for index, row in enumerate(rows):
        if row.tranche_id is None:
            continue
        tranche = current.get(row.tranche_id)
        if tranche is None or tranche.status == TrancheStatus.CANCELLED:
            errors[f"tranches.{index}.id"] = [_("Tranche %(id)s is not a tranche of this grant in force.",
                                                id=row.tranche_id)]
        elif row.tranche_id in seen:
            errors[f"tranches.{index}.id"] = [_("Tranche %(id)s is given twice.", id=row.tranche_id)]
        seen.add(row.tranche_id)
    if errors:
        raise ValidationFailed(_("Some tranches need attention."), errors=errors)
    given = {row.tranche_id: row for row in rows if row.tranche_id is not None}
    for tranche in sorted(current.values(), key=lambda t: t.position):
        if tranche.status in UNPAID_TRANCHE_STATUSES or tranche.status == TrancheStatus.CANCELLED:
            continue
        kept = given.get(tranche.id)
        if kept is None:
            raise Conflict(_("Tranche %(n)s (“%(title)s”) is %(status)s: it stays in the schedule, unchanged.",
                             n=tranche.position, title=tranche.title, status=label(tranche.status)))
        if not _unchanged(kept, tranche):
            raise Conflict(_("Tranche %(n)s (“%(title)s”) is %(status)s and cannot be changed.",
                             n=tranche.position, title=tranche.title, status=label(tranche.status)))
    in_force = [t for t in current.values() if t.status != TrancheStatus.CANCELLED]
    if len(rows) == len(in_force) and all(row.tranche_id is not None and _unchanged(row, current[row.tranche_id])
                                          for row in rows):
        message = _("The new schedule is the same as the one in force: change, add or remove a tranche.")
        raise ValidationFailed(message, errors={"tranches": [message]})
    return rows


def propose_amendment(*, grant: Grant, actor: User, reason: str, tranches: Sequence[Any] | None) -> GrantAmendment:
    """Rule: a fund manager proposes the whole new tranche schedule of an offered, active or completed grant with
    a reason (`policy.can_propose_amendment`), one open amendment per grant; paid tranches stay as they are.

    Approved at once when it needs no approval (`needs_approval`); pending otherwise.
    """
    require(policy.can_propose_amendment(actor, grant))  # the role before taking a lock
    grant = _locked_grant(grant.id)
    current = _locked_tranches(grant.id)
    require(policy.can_propose_amendment(actor, grant))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True, multiline=True)
    rows = _schedule(tranches, current)
    new_total = sum(row.amount_cents for row in rows)
    change = new_total - grant.amount_cents
    approval = needs_approval(change)
    number = int(db.session.execute(sa.select(sa.func.max(GrantAmendment.number))
                                    .where(GrantAmendment.grant_id == grant.id)).scalar() or 0) + 1
    amendment = GrantAmendment(
        grant_id=grant.id, number=number, open_grant_id=grant.id, reason=reason,
        status=AmendmentStatus.PENDING if approval else AmendmentStatus.APPROVED, needs_approval=approval,
        old_total_cents=grant.amount_cents, new_total_cents=new_total, change_cents=change,
        old_schedule=schedule_of(t for t in current.values() if t.status != TrancheStatus.CANCELLED),
        proposed_by_id=actor.id, approved_at=None if approval else utcnow(),
        tranches=[AmendmentTranche(tranche_id=row.tranche_id, position=position, title=row.title,
                                   amount_cents=row.amount_cents, due_date=row.due_date)
                  for position, row in enumerate(rows, start=1)])
    db.session.add(amendment)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("Another amendment of this grant was proposed meanwhile.")) from None
    record("grant.amendment_proposed", actor=actor, obj=grant, details={
        "amendment_id": amendment.id, "number": number, "reason": reason, "old_total_cents": grant.amount_cents,
        "new_total_cents": new_total, "change_cents": change, "needs_approval": approval,
        "tranches": [[row.tranche_id, row.title, row.amount_cents] for row in rows]})
    _tell(amendment, grant)
    return amendment


# --- approving, rejecting -----------------------------------------------------------------------

def _locked_amendment(amendment_id: int) -> GrantAmendment:
    row: GrantAmendment = lock_row(GrantAmendment, amendment_id, missing=_("No amendment %(id)s.", id=amendment_id))
    return row


def approve_amendment(*, amendment: GrantAmendment, actor: User) -> GrantAmendment:
    """Rule: a fund manager other than its author approves a pending amendment within their limit, once
    (`policy.can_approve_amendment`); with the tier's approvals complete it is approved."""
    require(policy.can_approve_amendment(actor, amendment))
    amendment = _locked_amendment(amendment.id)
    require(policy.can_approve_amendment(actor, amendment))
    amendment.approvals.append(AmendmentApproval(approver_id=actor.id, limit_cents=approver_for(actor).limit_cents))
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_("You have already approved this amendment.")) from None
    state = amendment_approval_state(amendment)
    if state.complete:
        AMENDMENT_TRANSITIONS.move(amendment, AmendmentStatus.APPROVED)
        amendment.approved_at = utcnow()
    record("grant.amendment_approved", actor=actor, obj=amendment.grant, details={
        "amendment_id": amendment.id, "approvals": len(state.counted), "missing": state.missing,
        "status": amendment.status.value})
    if state.complete:
        _tell(amendment, amendment.grant)
    db.session.flush()
    return amendment


def reject_amendment(*, amendment: GrantAmendment, actor: User, reason: str) -> GrantAmendment:
    """Rule: the grantee or a fund manager rejects an open amendment with a reason (`policy.can_reject_amendment`);
    nothing of it takes effect."""
    require(policy.can_reject_amendment(actor, amendment))
    amendment = _locked_amendment(amendment.id)
    require(policy.can_reject_amendment(actor, amendment))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True, multiline=True)
    AMENDMENT_TRANSITIONS.move(amendment, AmendmentStatus.REJECTED)
    amendment.open_grant_id = None
    amendment.rejected_by_id, amendment.rejected_at, amendment.rejection_reason = actor.id, utcnow(), reason
    record("grant.amendment_rejected", actor=actor, obj=amendment.grant,
           details={"amendment_id": amendment.id, "reason": reason})
    db.session.flush()
    return amendment


# --- taking effect ------------------------------------------------------------------------------

def _check_still_applies(amendment: GrantAmendment, grant: Grant, current: dict[int, Tranche]) -> None:
    """Under the locks: every tranche the amendment changes or removes is still unpaid, and the grant's total
    is still the one it amends (409 otherwise: a payment or another change came first)."""
    if grant.amount_cents != amendment.old_total_cents:
        raise Conflict(_("The grant's total changed since this amendment was proposed (it is now %(total)s); "
                         "reject it and propose a new one.", total=money(grant.amount_cents)))
    given = {row.tranche_id: row for row in amendment.tranches if row.tranche_id is not None}
    for entry in amendment.old_schedule:
        tranche = current.get(entry["tranche_id"])
        if tranche is None:
            continue
        row = given.get(tranche.id)
        changes = row is None or not _unchanged(ScheduleRow(row.tranche_id, row.title, row.amount_cents,
                                                            row.due_date), tranche)
        if changes and tranche.status not in UNPAID_TRANCHE_STATUSES:
            raise Conflict(_("Tranche %(n)s (“%(title)s”) is now %(status)s, so this amendment can no longer change "
                             "it; reject it and propose a new one.", n=tranche.position, title=tranche.title,
                             status=label(tranche.status)))


def _move_money(amendment: GrantAmendment, grant: Grant, actor: User) -> int | None:
    change = amendment.change_cents
    key = f"amendment:{amendment.id}"
    meta = {"grant_id": grant.id, "amendment_id": amendment.id, "challenge_id": grant.challenge_id}
    if change > 0:
        held = balance(pool_code(grant.challenge_id))
        if held < change:
            raise Conflict(_("The challenge's prize pool holds %(holds)s, short by %(short)s for this increase of "
                             "%(change)s.", holds=money(held), short=money(change - held), change=money(change)))
        transaction = transfer(key=key, source=pool_code(grant.challenge_id), target=commitment_account(grant.id),
                               amount_cents=change, actor=actor, kind="amendment",
                               description=f"Amendment {amendment.number} of grant {grant.id}: increase", metadata=meta)
        return transaction.id
    if change < 0:
        transaction = transfer(key=key, source=commitment_code(grant.id), target=pool_account(grant.challenge_id),
                               amount_cents=-change, actor=actor, kind="amendment", general_first=True,
                               description=f"Amendment {amendment.number} of grant {grant.id}: decrease", metadata=meta)
        return transaction.id
    return None


def _apply_schedule(amendment: GrantAmendment, grant: Grant, current: dict[int, Tranche]) -> None:
    given = {row.tranche_id for row in amendment.tranches if row.tranche_id is not None}
    for tranche in current.values():
        if tranche.id not in given and tranche.status in UNPAID_TRANCHE_STATUSES:
            TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.CANCELLED)
    next_position = max((t.position for t in current.values()), default=0)
    for row in amendment.tranches:
        if row.tranche_id is not None:
            tranche = current[row.tranche_id]
            tranche.title, tranche.amount_cents, tranche.due_date = row.title, row.amount_cents, row.due_date
        else:
            next_position += 1
            grant.tranches.append(Tranche(position=next_position, title=row.title, amount_cents=row.amount_cents,
                                          due_date=row.due_date))
    grant.amount_cents = amendment.new_total_cents
    db.session.flush()
    in_force = [t for t in grant.tranches if t.status != TrancheStatus.CANCELLED]
    all_paid = all(t.status == TrancheStatus.PAID for t in in_force)
    if grant.status == GrantStatus.COMPLETED and not all_paid:
        GRANT_TRANSITIONS.move(grant, GrantStatus.ACTIVE)
    elif grant.status == GrantStatus.ACTIVE and all_paid:
        GRANT_TRANSITIONS.move(grant, GrantStatus.COMPLETED)


def amended_agreement_text(grant: Grant, amendment: GrantAmendment) -> str:
    """The agreement in force after `amendment` (in the award's language, like the award's agreement)."""
    lines = [
        f"Grant agreement for \"{grant.proposal.title}\" (challenge: {grant.challenge.title}), "
        f"as amended by amendment {amendment.number}.",
        f"The Urban Innovation Facility grants {money(grant.amount_cents)} to {grant.organization.name}, "
        "paid in the tranches below once each milestone's evidence is accepted.",
        "",
    ]
    for tranche in sorted(grant.tranches, key=lambda t: t.position):
        if tranche.status == TrancheStatus.CANCELLED:
            continue
        due = tranche.due_date.isoformat() if tranche.due_date else "no fixed date"
        paid = " (paid)" if tranche.status == TrancheStatus.PAID else ""
        lines.append(f"{tranche.position}. {tranche.title}: {money(tranche.amount_cents)}, due {due}{paid}.")
    lines += ["", f"Amendment {amendment.number} ({money(amendment.old_total_cents)} to "
              f"{money(amendment.new_total_cents)}): {amendment.reason}",
              "", "The grantee reports progress against each milestone, uses the money for the proposal as "
              "submitted, and respects the privacy and human-rights commitments it made."]
    return "\n".join(lines)


def accept_amendment(*, amendment: GrantAmendment, actor: User) -> GrantAmendment:
    """Rule: the grantee's innovators accept an approved amendment (`policy.can_accept_amendment`) and it takes
    effect in this one transaction, or not at all: the tranches it changes must still be unpaid under their
    locks, and an increase must be in the challenge's prize pool (409 otherwise, nothing changes)."""
    require(policy.can_accept_amendment(actor, amendment))  # the role before taking a lock
    grant = _locked_grant(amendment.grant_id)
    amendment = _locked_amendment(amendment.id)
    current = _locked_tranches(grant.id)
    require(policy.can_accept_amendment(actor, amendment))
    _check_still_applies(amendment, grant, current)
    transaction_id = _move_money(amendment, grant, actor)
    _apply_schedule(amendment, grant, current)
    grant.agreement_text = amended_agreement_text(grant, amendment)
    AMENDMENT_TRANSITIONS.move(amendment, AmendmentStatus.ACCEPTED)
    amendment.open_grant_id = None
    amendment.accepted_by_id, amendment.accepted_at = actor.id, utcnow()
    amendment.ledger_transaction_id = transaction_id
    version = write_agreement_version(grant=grant, amendment=amendment)
    record("grant.amended", actor=actor, obj=grant, details={
        "amendment_id": amendment.id, "number": amendment.number, "old_total_cents": amendment.old_total_cents,
        "new_total_cents": amendment.new_total_cents, "change_cents": amendment.change_cents,
        "agreement_version": version.version, "ledger_transaction_id": transaction_id})
    db.session.flush()
    return amendment


# --- the ledger invariant -----------------------------------------------------------------------

def check_commitments_match_tranches() -> list[str]:
    """Every grant's commitment equals its undisbursed tranches"""
    undisbursed = (sa.select(sa.func.coalesce(sa.func.sum(Tranche.amount_cents), 0))
                   .where(Tranche.grant_id == Grant.id,
                          Tranche.status.not_in([TrancheStatus.PAID, TrancheStatus.CANCELLED]))
                   .correlate(Grant).scalar_subquery())
    committed = purpose_balance(commitment_code_sql(Grant.id))
    # A grant awaiting its award's approval may not have had its money committed yet.
    rows = db.session.execute(
        sa.select(Grant.id, undisbursed, committed)
        .where(Grant.status != GrantStatus.PENDING_APPROVAL, undisbursed != committed).order_by(Grant.id)).all()
    return [f"grant {row[0]}: undisbursed tranches {int(row[1])} cents, commitment {int(row[2])} cents"
            for row in rows]
