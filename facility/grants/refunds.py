"""Money coming back: a grantee returns part or all of what it was paid (a refund, or a clawback the facility
asked for), and a fund manager records it with the bank's reference and the date it arrived.

The money returns through the ledger to the grant's challenge pool (it may be awarded again) or to the
facility's unallocated funds, fund by fund exactly as the grant's disbursed money was paid:

- ``grant-refund:<grant id>:<n>``  Dr challenge:<id>:pool (or facility:unallocated) / Cr facility:disbursed,
  one pair of entries per fund, on that fund's shares (`ledger.fund_share`)

`ledger.transfer` cannot draw one grant's part of the facility-wide `facility:disbursed`, so the split is
computed here from the ledger (`disbursed_by_fund`) and posted with explicit entries; the general fund's
money is returned first, so earmarked money stays with what it was given for as long as possible.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import COMMENT_CHARS, clean_text
from facility.core.policy import require
from facility.core.templating import money
from facility.extensions import db
from facility.grants.amounts import money_received
from facility.grants.models import Grant, GrantRefund, GrantStatus, RefundDestination
from facility.grants.paid import net_paid_by_grant
from facility.grants.policy import can_record_refund
from facility.ledger.balances import commitment_code_sql, purpose_balance
from facility.ledger.models import Fund, LedgerAccount, LedgerEntry
from facility.ledger.services import (
    DISBURSED,
    EntrySpec,
    commitment_code,
    disbursed_account,
    fund_share,
    pool_account,
    post_transaction,
    unallocated_account,
)


def disbursed_by_fund(grant_id: int) -> dict[int | None, int]:
    """What grant `grant_id` was paid and has not refunded, per fund (None: the general fund), from the ledger.

    The entries on `facility:disbursed`'s shares in the transactions that touch the grant's commitment (its
    payments, and their reversals) and in its refunds' transactions. One query.
    """
    paying = (sa.select(LedgerEntry.transaction_id).join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
              .where(LedgerAccount.base_code == commitment_code(grant_id)))
    refunds = sa.select(GrantRefund.ledger_transaction_id).where(GrantRefund.grant_id == grant_id)
    rows = db.session.execute(
        sa.select(LedgerAccount.fund_id, sa.func.sum(LedgerEntry.amount_cents))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.base_code == DISBURSED,
               sa.or_(LedgerEntry.transaction_id.in_(paying), LedgerEntry.transaction_id.in_(refunds)))
        .group_by(LedgerAccount.fund_id)).all()
    return {fund_id: int(total) for fund_id, total in rows if int(total or 0) > 0}


def refundable_cents(grant_id: int) -> int:
    """The most a refund of grant `grant_id` may bring back now."""
    return sum(disbursed_by_fund(grant_id).values())


def _fields(amount_cents: Any, bank_reference: Any, received_on: Any, destination: Any,
            note: Any) -> tuple[int, str, date, RefundDestination, str]:
    """The refund's fields, or one ValidationFailed naming every field that needs attention."""
    errors: dict[str, list[str]] = {}
    amount, received_on, reference = money_received(amount_cents, received_on, bank_reference, errors)
    note_text = ""
    try:
        note_text = clean_text(note or "", "note", limit=COMMENT_CHARS, multiline=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        where = RefundDestination(destination or RefundDestination.POOL.value)
    except ValueError:
        errors["destination"] = [_("Choose the challenge's prize pool or the facility's unallocated funds.")]
    if errors:
        raise ValidationFailed(_("Some fields need attention."), errors=errors)
    return amount, reference, received_on, where, note_text


def _split(by_fund: dict[int | None, int], amount_cents: int) -> list[tuple[int | None, int]]:
    """`amount_cents` taken from the funds in `by_fund`: the general fund first, then earmarked funds by id."""
    order = sorted(by_fund, key=lambda fund_id: (fund_id is not None, fund_id or 0))
    split, left = [], amount_cents
    for fund_id in order:
        part = min(left, by_fund[fund_id])
        if part > 0:
            split.append((fund_id, part))
            left -= part
    return split


def record_refund(*, grant: Grant, actor: User, amount_cents: int, bank_reference: str, received_on: date,
                  destination: str | RefundDestination | None = None, note: str = "") -> GrantRefund:
    """Rule: `policy.can_record_refund`: a fund manager records money a grantee returned, at most what was paid
    to the grant less earlier refunds, with the bank's reference and the date it arrived (not in the future);
    it goes back through the ledger to the pool or unallocated funds, split by fund as the grant was paid."""
    require(can_record_refund(actor, grant))  # the role before taking a lock
    amount_cents, bank_reference, received_on, where, note = _fields(
        amount_cents, bank_reference, received_on, destination, note)
    grant = lock_row(Grant, grant.id, missing=_("No grant %(id)s.", id=grant.id))  # refunds of a grant queue here
    require(can_record_refund(actor, grant))
    by_fund = disbursed_by_fund(grant.id)
    available = sum(by_fund.values())
    if amount_cents > available:
        message = _("At most %(most)s can be refunded: what was paid to this grant less earlier refunds.",
                    most=money(available))
        raise ValidationFailed(message, errors={"amount_cents": [message]})
    split = _split(by_fund, amount_cents)
    target = pool_account(grant.challenge_id) if where is RefundDestination.POOL else unallocated_account()
    disbursed = disbursed_account()
    entries: list[EntrySpec] = []
    for fund_id, part in split:
        fund = db.session.get(Fund, fund_id) if fund_id is not None else None
        entries += [(fund_share(target, fund), part), (fund_share(disbursed, fund), -part)]
    number = db.session.execute(
        sa.select(sa.func.count(GrantRefund.id)).where(GrantRefund.grant_id == grant.id)).scalar_one() + 1
    transaction = post_transaction(
        key=f"grant-refund:{grant.id}:{number}", entries=entries, actor=actor, kind="refund",
        description=f"Refund {number} of grant {grant.id} ({bank_reference})",
        metadata={"grant_id": grant.id, "challenge_id": grant.challenge_id, "destination": where.value,
                  "funds": [[fund_id, part] for fund_id, part in split]})
    refund = GrantRefund(grant_id=grant.id, amount_cents=amount_cents, bank_reference=bank_reference,
                         received_on=received_on, destination=where, recorded_by_id=actor.id,
                         ledger_transaction_id=transaction.id, note=note)
    db.session.add(refund)
    db.session.flush()
    record("grant.refunded", actor=actor, obj=grant, details={
        "refund_id": refund.id, "amount_cents": amount_cents, "bank_reference": bank_reference,
        "received_on": received_on.isoformat(), "destination": where.value, "ledger_transaction_id": transaction.id,
        "funds": [[fund_id, part] for fund_id, part in split]})
    return refund


def check_refunds_within_payments() -> list[str]:
    """No grant has refunded more than it was paid"""
    net = net_paid_by_grant()
    over = db.session.execute(sa.select(net.c.grant_id, net.c.net_paid_cents)
                              .where(net.c.net_paid_cents < 0).order_by(net.c.grant_id)).all()
    return [f"grant {row[0]}: refunds exceed what it was paid by {-int(row[1])} cents" for row in over]


def check_cancelled_commitments_empty() -> list[str]:
    """Every cancelled grant's commitment is empty"""
    left = purpose_balance(commitment_code_sql(Grant.id))
    rows = db.session.execute(sa.select(Grant.id, left).where(
        Grant.status == GrantStatus.CANCELLED, left != 0).order_by(Grant.id)).all()
    return [f"cancelled grant {row[0]} still holds {int(row[1])} cents of commitment" for row in rows]
