"""The public ledger's funds: each earmarked fund (and the general fund) with what it raised and where
its money is now (unallocated, in prize pools, committed to grants, paid out), from the ledger's fund
shares (`ledger.services`: a fund's balance is the sum over its shares of each purpose).

A page costs three queries whatever its size: the count, the rows (one aggregate over the shares,
grouped by fund, joined to the funds and their contributions) and the earmarked totals that the general
fund's row is the rest of.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.challenges.funding import earmark_text
from facility.core.pages import Page
from facility.extensions import db
from facility.grants.models import Contribution, ContributionStatus
from facility.ledger.models import Fund, LedgerAccount
from facility.ledger.services import COMMITMENT_PATTERN, DISBURSED, POOL_PATTERN, UNALLOCATED, facility_totals

FIGURES = ("raised", "unallocated", "allocated", "committed", "disbursed")


@dataclass(frozen=True)
class FundRow:
    fund_id: int | None
    name: str
    earmark: str
    raised: int
    unallocated: int
    allocated: int
    committed: int
    disbursed: int


def _share_sums() -> Any:
    """Per fund: its shares' balances by purpose (earmarked funds only)."""
    a = LedgerAccount

    def total(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, a.balance_cents), else_=0)), 0)

    return (sa.select(a.fund_id.label("fund_id"), total(a.base_code == UNALLOCATED).label("unallocated"),
                      total(a.base_code.like(POOL_PATTERN)).label("allocated"),
                      total(a.base_code.like(COMMITMENT_PATTERN)).label("committed"),
                      total(a.base_code == DISBURSED).label("disbursed"))
            .where(a.fund_id.is_not(None)).group_by(a.fund_id).subquery())


def _raised() -> Any:
    """Per fund: the money its contributions brought in."""
    c = Contribution
    return (sa.select(c.fund_id.label("fund_id"), sa.func.sum(c.received_cents).label("raised"))
            .where(c.fund_id.is_not(None), c.status == ContributionStatus.RECEIVED)
            .group_by(c.fund_id).subquery())


def funds_page(*, page: int, per_page: int) -> Page[FundRow]:
    """The general fund (first page only) and the earmarked funds, oldest first."""
    sums, raised = _share_sums(), _raised()
    total = db.session.execute(sa.select(sa.func.count(Fund.id))).scalar_one()
    rows = db.session.execute(
        sa.select(Fund, sa.func.coalesce(raised.c.raised, 0), *(sa.func.coalesce(getattr(sums.c, name), 0)
                                                               for name in FIGURES[1:]))
        .outerjoin(sums, sums.c.fund_id == Fund.id).outerjoin(raised, raised.c.fund_id == Fund.id)
        .order_by(Fund.id).limit(per_page).offset((page - 1) * per_page)).all()
    items = [FundRow(fund.id, fund.name, earmark_text(fund.earmark_kind, fund.earmark_value),
                     *(int(value) for value in values)) for fund, *values in rows]
    if page == 1:
        items.insert(0, _general_row(sums, raised))
    return Page(items=items, total=int(total) + 1, page=page, per_page=per_page)


def _general_row(sums: Any, raised: Any) -> FundRow:
    """The general fund: everything the facility holds and raised, less the earmarked funds' part."""
    totals = facility_totals()
    earmarked = db.session.execute(sa.select(
        sa.select(sa.func.coalesce(sa.func.sum(raised.c.raised), 0)).scalar_subquery(),
        *(sa.select(sa.func.coalesce(sa.func.sum(getattr(sums.c, name)), 0)).scalar_subquery()
          for name in FIGURES[1:]))).one()
    values = [totals[name] - int(part) for name, part in zip(FIGURES, earmarked, strict=True)]
    return FundRow(None, _("General fund"), _("Unrestricted"), *values)
