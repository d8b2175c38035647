"""The public ledger's funds: each earmarked fund (and the general fund) with what it raised and where
its money is now (unallocated, in prize pools, committed to grants, paid out), from the ledger's fund
shares (`ledger.services`: a fund's balance is the sum over its shares of each purpose).

`fund_splits` names the funds that paid each movement of a ledger page. A funds page costs four
queries whatever its size: the count, the rows (one aggregate over the shares, grouped by fund, joined
to the funds and their contributions), the facility's totals and the earmarked totals that the general
fund's row is the rest of.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.challenges.funding import earmark_text, split_of
from facility.core.pages import Page
from facility.extensions import db
from facility.grants.models import Contribution, ContributionStatus
from facility.ledger.balances import facility_totals
from facility.ledger.models import Fund, LedgerAccount, LedgerTransaction
from facility.ledger.services import COMMITMENT_PATTERN, DISBURSED, POOL_PATTERN, UNALLOCATED

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


def fund_splits(transaction_ids: list[int]) -> dict[int, list[tuple[str, int | None]]]:
    """For the movements of a page: which funds paid how much (`transfer`'s split in the transaction's
    metadata; an earmarked contribution: its fund, the whole amount as None), for those an earmarked fund
    took part in. Two queries, whatever the page's size."""
    if not transaction_ids:
        return {}
    metas = db.session.execute(sa.select(LedgerTransaction.id, LedgerTransaction.meta)
                               .where(LedgerTransaction.id.in_(transaction_ids))).all()
    splits: dict[int, list[tuple[int | None, int | None]]] = {}
    for tid, meta in metas:
        if isinstance((meta or {}).get("fund_id"), int):  # an earmarked contribution: into its fund, whole
            splits[int(tid)] = [(int(meta["fund_id"]), None)]
        else:
            splits[int(tid)] = list(split_of(meta))
    splits = {tid: split for tid, split in splits.items() if any(fund is not None for fund, _c in split)}
    wanted = {fund for split in splits.values() for fund, _c in split if fund is not None}
    names = dict(db.session.execute(sa.select(Fund.id, Fund.name).where(Fund.id.in_(wanted))).all()) if wanted else {}
    general = _("General fund")
    return {tid: [(names.get(fund, general) if fund is not None else general, cents) for fund, cents in split]
            for tid, split in splits.items()}
