"""Reading the ledger: a purpose's balance over its fund shares, per fund, and the DESIGN.md totals.

Each read is one query over the stored balances (`facility.ledger.services` keeps them next to the
entries, in the same transaction); see that module's docstring for the chart of accounts and the funds.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from facility.extensions import db
from facility.ledger.models import AccountKind, LedgerAccount
from facility.ledger.services import COMMITMENT_PATTERN, DISBURSED, POOL_PATTERN, TARGET_CENTS, UNALLOCATED


def balance(code: str) -> int:
    """The stored balance of an account (debit positive) with its fund shares; an account never opened holds 0.

    A purpose's code sums the purpose over every fund; a fund share's code reads that share alone.
    """
    value = db.session.execute(
        sa.select(sa.func.sum(LedgerAccount.balance_cents))
        .where(sa.or_(LedgerAccount.base_code == code, LedgerAccount.code == code))
    ).scalar_one_or_none()
    return int(value or 0)


def purpose_balance(code: Any) -> Any:
    """`balance` in SQL, for a code expression correlated to an outer query: the purpose over every fund."""
    return (sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance_cents), 0))
            .where(LedgerAccount.base_code == code).scalar_subquery())


def commitment_code_sql(grant_id: Any) -> Any:
    """`commitment_code` in SQL, for a grant id column."""
    return sa.literal("grant:") + sa.cast(grant_id, sa.String) + sa.literal(":commitment")


def fund_balances(code: str) -> dict[int | None, int]:
    """The purpose `code`'s balance per fund (`GENERAL_FUND` for unrestricted money); funds never drawn are absent."""
    rows = db.session.execute(
        sa.select(LedgerAccount.fund_id, LedgerAccount.balance_cents).where(LedgerAccount.base_code == code)).all()
    return {fund_id: int(cents) for fund_id, cents in rows}


def facility_totals() -> dict[str, int]:
    """The DESIGN.md totals in cents, from one aggregate query over the stored balances.

    raised = all income credited (contributions), unallocated, allocated (all
    prize pools), committed (all grant commitments), disbursed, held (money not
    yet paid out) and the USD 1 billion target.
    """
    a = LedgerAccount

    def total(condition: Any, value: Any = a.balance_cents) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)

    row = db.session.execute(sa.select(
        total(a.kind == AccountKind.INCOME, -a.balance_cents),
        total(a.base_code == UNALLOCATED),
        total(a.base_code.like(POOL_PATTERN)),
        total(a.base_code.like(COMMITMENT_PATTERN)),
        total(a.base_code == DISBURSED),
    )).one()
    raised, unallocated, allocated, committed, disbursed = (int(value) for value in row)
    return {
        "raised": raised,
        "unallocated": unallocated,
        "allocated": allocated,
        "committed": committed,
        "disbursed": disbursed,
        "held": unallocated + allocated + committed,
        "target": TARGET_CENTS,
    }
