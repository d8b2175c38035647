"""Verifying the ledger (`ledger-verify`): each check is one set-based query returning its problems.

The built-in checks hold the ledger to its own rules (balanced transactions, stored balances equal to
their entries, guarded accounts not negative, reversals, fund shares); other packages register theirs
(`register_check`), e.g. "every paid disbursement has exactly one posting".
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from facility.extensions import db
from facility.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

Check = Callable[[], Iterable[str]]


def _transactions_balance() -> list[str]:
    """Every transaction has at least two entries summing to zero"""
    t, e = LedgerTransaction, LedgerEntry
    count, total = sa.func.count(e.id), sa.func.coalesce(sa.func.sum(e.amount_cents), 0)
    rows = db.session.execute(
        sa.select(t.id, t.key, count, total)
        .outerjoin(e, e.transaction_id == t.id)
        .group_by(t.id, t.key)
        .having(sa.or_(count < 2, total != 0))
        .order_by(t.id)
    ).all()
    return [f"transaction {row[0]} ({row[1]}): {row[2]} entries summing to {int(row[3])} cents" for row in rows]


def _no_zero_entries() -> list[str]:
    """No entry is zero"""
    rows = db.session.execute(
        sa.select(LedgerEntry.id, LedgerEntry.transaction_id).where(LedgerEntry.amount_cents == 0)
    ).all()
    return [f"entry {row[0]} of transaction {row[1]} is zero" for row in rows]


def _stored_balances_match() -> list[str]:
    """Every stored balance equals the sum of its entries"""
    a, e = LedgerAccount, LedgerEntry
    total = sa.func.coalesce(sa.func.sum(e.amount_cents), 0)
    rows = db.session.execute(
        sa.select(a.id, a.code, a.balance_cents, total)
        .outerjoin(e, e.account_id == a.id)
        .group_by(a.id, a.code, a.balance_cents)
        .having(a.balance_cents != total)
        .order_by(a.id)
    ).all()
    return [f"account {row[1]}: stored balance {row[2]} cents, entries sum to {int(row[3])} cents" for row in rows]


def _guarded_not_negative() -> list[str]:
    """No guarded account is negative"""
    rows = db.session.execute(
        sa.select(LedgerAccount.code, LedgerAccount.balance_cents)
        .where(LedgerAccount.guarded.is_(True), LedgerAccount.balance_cents < 0)
        .order_by(LedgerAccount.id)
    ).all()
    return [f"guarded account {row[0]} is negative: {row[1]} cents" for row in rows]


def _reversals_negate_originals() -> list[str]:
    """Every reversal exactly negates the transaction it reverses"""
    t, e = LedgerTransaction, LedgerEntry
    own = sa.select(t.id.label("rid"), e.account_id, e.amount_cents).join(e, e.transaction_id == t.id) \
        .where(t.reverses_id.is_not(None))
    original = sa.select(t.id.label("rid"), e.account_id, e.amount_cents).join(e, e.transaction_id == t.reverses_id)
    both = sa.union_all(own, original).subquery()
    rows = db.session.execute(
        sa.select(both.c.rid, both.c.account_id, sa.func.sum(both.c.amount_cents))
        .group_by(both.c.rid, both.c.account_id)
        .having(sa.func.sum(both.c.amount_cents) != 0)
        .order_by(both.c.rid, both.c.account_id)
    ).all()
    return [f"reversal {row[0]} leaves {int(row[2])} cents on account id {row[1]}" for row in rows]


def _fund_shares_match_purpose() -> list[str]:
    """Every fund share has its purpose account's kind and guard"""
    share, purpose = aliased(LedgerAccount), aliased(LedgerAccount)
    rows = db.session.execute(
        sa.select(share.code).outerjoin(purpose, purpose.code == share.base_code)
        .where(share.fund_id.is_not(None),
               sa.or_(purpose.id.is_(None), purpose.kind != share.kind, purpose.guarded != share.guarded))
        .order_by(share.id)).scalars().all()
    return [f"fund share {code} has no purpose account of its kind and guard" for code in rows]


_BUILT_IN_CHECKS: list[Check] = [
    _transactions_balance, _no_zero_entries, _stored_balances_match, _guarded_not_negative, _reversals_negate_originals,
    _fund_shares_match_purpose,
]
_EXTRA_CHECKS: list[Check] = []


def register_check(check: Check) -> Check:
    """Add a check to `verify_ledger` (usable as a decorator); it returns a list of problems.

    Its docstring's first line names it in the `ledger-verify` report. Other
    packages register theirs at import time, e.g. "every paid disbursement has
    exactly one posting".
    """
    if check not in _EXTRA_CHECKS:
        _EXTRA_CHECKS.append(check)
    return check


def unregister_check(check: Check) -> None:
    if check in _EXTRA_CHECKS:
        _EXTRA_CHECKS.remove(check)


def ledger_checks() -> list[tuple[str, Check]]:
    """Every check with its name, built-in ones first."""
    return [(check_name(check), check) for check in _BUILT_IN_CHECKS + _EXTRA_CHECKS]


def check_name(check: Check) -> str:
    doc = (check.__doc__ or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else check.__name__.strip("_").replace("_", " ")


def verify_ledger() -> list[str]:
    """Every problem found by every check; empty when the ledger is sound.

    Each check is one set-based query (GROUP BY / HAVING), so the run stays a
    handful of queries however long the ledger grows.
    """
    return [problem for _name, check in ledger_checks() for problem in check()]
