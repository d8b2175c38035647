"""The ledger read as movements: one row per transaction, what it changed in each facility figure, and
the figures' running balances after it (the public ledger, `facility.portfolio.public_ledger`).

A transaction's change of a figure is the sum of its entries on that figure's accounts (the chart of
accounts in `facility.ledger.services`): raised (income accounts, credit negative, so negated),
unallocated, allocated (prize pools), committed (grant commitments) and disbursed. The running
balances are window sums over the transactions in id order, computed by the database.

A page reads only what it needs (`movements_of`): the deltas of its own transactions, and its balances
from whichever end of the ledger is nearer: after transaction X a figure is the sum of every change up to X
(the window from the start), or its stored balance now less every change after X (the window from the
end). The newest page, the one most read, sums a page's worth of entries, not the million of a facility
at full scale; a page in the middle of the history sums at most half the ledger.

The check `movements_match_totals` (in `ledger-verify`) holds the public ledger to the stored
balances: the movements' sums must equal the stored figures (as `facility_totals()` reads them, the
figures of `/facility`), figure by figure, in one query.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from facility.extensions import db
from facility.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from facility.ledger.services import COMMITMENT_PATTERN, DISBURSED, POOL_PATTERN, UNALLOCATED
from facility.ledger.verify import register_check

FIGURES = ("raised", "unallocated", "allocated", "committed", "disbursed")

# What a movement is, from what it changed (not from the transaction's free-text kind), in this order.
CONTRIBUTION, DISBURSEMENT, AWARD, GRANT_RETURN, ALLOCATION, RETURN, REFUND, OTHER = (
    "contribution", "disbursement", "award", "grant_return", "allocation", "return", "refund", "other")
KINDS = (CONTRIBUTION, ALLOCATION, RETURN, AWARD, GRANT_RETURN, DISBURSEMENT, REFUND, OTHER)


def _refunded(d: Any) -> Any:
    """Money back from a grantee: disbursed goes down while a pool or unallocated funds go up (a reversed
    transfer goes back to the grant's commitment instead, and stays a disbursement)."""
    return sa.and_(d.c.disbursed < 0, d.c.committed == 0, sa.or_(d.c.allocated > 0, d.c.unallocated > 0))


def deltas(*conditions: Any) -> sa.Subquery:
    """Per transaction id, its change of each figure (cents), from one GROUP BY over the entries (those meeting
    `conditions` on `LedgerEntry`, e.g. a range of transaction ids)."""
    e, a = LedgerEntry, LedgerAccount

    def part(condition: Any, value: Any = e.amount_cents) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)

    return (sa.select(
        e.transaction_id.label("id"),
        part(a.kind == AccountKind.INCOME, -e.amount_cents).label("raised"),
        part(a.base_code == UNALLOCATED).label("unallocated"),
        part(a.base_code.like(POOL_PATTERN)).label("allocated"),
        part(a.base_code.like(COMMITMENT_PATTERN)).label("committed"),
        part(a.base_code == DISBURSED).label("disbursed"),
    ).join(a, a.id == e.account_id).where(*conditions).group_by(e.transaction_id).subquery("deltas"))


def _kind(d: Any) -> Any:
    return sa.case(
        (d.c.raised != 0, CONTRIBUTION),
        (_refunded(d), REFUND),
        (d.c.disbursed != 0, DISBURSEMENT),
        # A cancelled grant's commitment (or an amendment's decrease) back to its pool; an award the other way.
        (sa.and_(d.c.committed < 0, d.c.allocated > 0), GRANT_RETURN),
        (sa.and_(d.c.committed != 0, d.c.allocated != 0), AWARD),
        (sa.and_(d.c.allocated > 0, d.c.unallocated < 0), ALLOCATION),
        (sa.and_(d.c.allocated < 0, d.c.unallocated > 0), RETURN),
        else_=OTHER)


def _amount(d: Any) -> Any:
    """The money the movement moved, signed as the figure it is named after (a reversal is negative)."""
    return sa.case(
        (d.c.raised != 0, d.c.raised),
        (_refunded(d), -d.c.disbursed),  # the money that came back
        (d.c.disbursed != 0, d.c.disbursed),
        (sa.and_(d.c.committed < 0, d.c.allocated > 0), d.c.allocated),
        (sa.and_(d.c.committed != 0, d.c.allocated != 0), d.c.committed),
        (d.c.allocated != 0, d.c.allocated),
        else_=d.c.unallocated)


def _movements(d: Any, balances: list[Any]) -> sa.Subquery:
    t = LedgerTransaction
    return (sa.select(
        d.c.id, t.created_at, t.reverses_id, _kind(d).label("kind"), _amount(d).label("amount"),
        *(d.c[name] for name in FIGURES), *balances,
    ).join(t, t.id == d.c.id).subquery("movements"))


def _from_start(d: Any) -> list[Any]:
    """Each figure after the row: the sum of every change up to and including it."""
    return [sa.func.sum(d.c[name]).over(order_by=d.c.id, rows=(None, 0)).label(f"{name}_balance")
            for name in FIGURES]


def _from_end(d: Any) -> list[Any]:
    """Each figure after the row: its stored balance now less every change after the row (`d` must hold every
    transaction newer than the rows asked for)."""
    return [(_stored(name) - sa.func.coalesce(sa.func.sum(d.c[name]).over(
        order_by=d.c.id.desc(), rows=(None, -1)), 0)).label(f"{name}_balance") for name in FIGURES]


def running_movements() -> sa.Subquery:
    """Every transaction as a movement: id, created_at, reverses_id, kind, amount, each figure's change
    and `<figure>_balance` after it (window sums in id order). Filter and page the outer query; for a page
    of known transactions, `movements_of` reads far less."""
    d = deltas()
    return _movements(d, _from_start(d))


def movements_of(ids: Sequence[int]) -> list[Any]:
    """The movements (rows as `running_movements` has them) of the transactions `ids`, newest first, reading
    the entries between the nearer end of the ledger and the farthest of `ids` (module docstring)."""
    if not ids:
        return []
    low, high = min(ids), max(ids)
    first, last = db.session.execute(sa.select(sa.func.min(LedgerTransaction.id),
                                               sa.func.max(LedgerTransaction.id))).one()
    if last - low <= high - first:  # fewer transactions after the page than before it
        d = deltas(LedgerEntry.transaction_id >= low)
        m = _movements(d, _from_end(d))
    else:
        d = deltas(LedgerEntry.transaction_id <= high)
        m = _movements(d, _from_start(d))
    return list(db.session.execute(sa.select(m).where(m.c.id.in_(list(ids))).order_by(m.c.id.desc())).all())


def movement_sums() -> dict[str, int]:
    """Each figure's change summed over every movement (one query): what the public ledger adds up to."""
    d = deltas()
    row = db.session.execute(sa.select(*(sa.func.coalesce(sa.func.sum(d.c[name]), 0) for name in FIGURES))).one()
    return {name: int(value) for name, value in zip(FIGURES, row, strict=True)}


def _stored(name: str) -> Any:
    """A figure from the stored balances, as `facility_totals()` reads it, as a scalar subquery."""
    a = LedgerAccount
    condition, value = {
        "raised": (a.kind == AccountKind.INCOME, -a.balance_cents),
        "unallocated": (a.base_code == UNALLOCATED, a.balance_cents),
        "allocated": (a.base_code.like(POOL_PATTERN), a.balance_cents),
        "committed": (a.base_code.like(COMMITMENT_PATTERN), a.balance_cents),
        "disbursed": (a.base_code == DISBURSED, a.balance_cents),
    }[name]
    return sa.select(sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)).scalar_subquery()


@register_check
def movements_match_totals() -> list[str]:
    """The public ledger's movements sum to the facility totals and stored balances"""
    d = deltas()  # read once: every figure's sum in the one pass over the entries
    row = db.session.execute(sa.select(*(sa.func.coalesce(sa.func.sum(d.c[name]), 0) for name in FIGURES),
                                       *(_stored(name) for name in FIGURES))).one()
    moved, stored = row[:len(FIGURES)], row[len(FIGURES):]
    return [f"public ledger: {name} movements sum to {int(m)} cents, the stored balances say {int(t)} cents"
            for name, m, t in zip(FIGURES, moved, stored, strict=True) if int(m) != int(t)]
