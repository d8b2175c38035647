"""Which grants a donor's money paid for, and the ledger check that an earmark is never spent outside
its purpose.

Attribution (the rule the donor's page states):

- **Earmarked money, exactly.** Each earmarked contribution has its own ledger fund; the fund's share
  of a grant's commitment is what it still has committed to that grant, and the fund's part of every
  payment of that grant (the payment moves each fund's share of the commitment to the same fund's
  share of ``facility:disbursed``) is what it paid. Both are read from the ledger.
- **Unrestricted money, pro rata.** The general fund is pooled: a donor's share of it is what they
  gave unrestricted (received) over everything received unrestricted, and each grant's general money
  (committed and paid from the general fund) is attributed to them in that proportion, rounded down
  to the cent.

Each table is one query per page (paginated in SQL), whatever the number of grants or payments.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from facility.accounts.policy import is_signed_in
from facility.challenges.funding import eligible
from facility.challenges.models import Challenge
from facility.cities.models import City
from facility.core.pages import Page
from facility.extensions import db
from facility.grants.models import Contribution, ContributionStatus, Grant
from facility.ledger.balances import commitment_code_sql
from facility.ledger.models import Fund, LedgerAccount, LedgerEntry
from facility.ledger.services import COMMITMENT_PATTERN, DISBURSED, POOL_PATTERN


def paid_per_commitment() -> Any:
    """Per grant commitment (its purpose code) and fund: what that fund's share paid out, as a subquery
    (`base_code`, `fund_id`, `paid_cents`): every entry on a fund's share of ``facility:disbursed``
    whose transaction took the same fund's share of the commitment (reversed payments count negative)."""
    paid, source = aliased(LedgerAccount), aliased(LedgerAccount)
    paid_entry, source_entry = aliased(LedgerEntry), aliased(LedgerEntry)
    return (
        sa.select(source.base_code.label("base_code"), source.fund_id.label("fund_id"),
                  sa.func.sum(paid_entry.amount_cents).label("paid_cents"))
        .select_from(paid_entry)
        .join(paid, paid.id == paid_entry.account_id)
        .join(source_entry, source_entry.transaction_id == paid_entry.transaction_id)
        .join(source, source.id == source_entry.account_id)
        .where(paid.base_code == DISBURSED, source.base_code.like(COMMITMENT_PATTERN),
               source.fund_id.is_not_distinct_from(paid.fund_id))
        .group_by(source.base_code, source.fund_id)
        .subquery()
    )


def _mine(user: Any) -> Any:
    condition = Contribution.pledged_by_id == (user.id if is_signed_in(user) else -1)
    if is_signed_in(user) and user.organization_id is not None:
        condition = sa.or_(condition, Contribution.donor_organization_id == user.organization_id)
    return condition


@dataclass(frozen=True)
class EarmarkedRow:
    contribution: Contribution
    grant: Grant
    committed_cents: int
    paid_cents: int


def earmarked_query(user: Any) -> sa.Select:
    """One row per (earmarked contribution of the donor or their organisation, grant its fund reached):
    contribution, grant, still committed, paid; newest grant first."""
    share = aliased(LedgerAccount)
    paid = paid_per_commitment()
    return (
        sa.select(Contribution, Grant, share.balance_cents.label("committed"),
                  sa.func.coalesce(paid.c.paid_cents, 0).label("paid"))
        .join(share, share.fund_id == Contribution.fund_id)
        .join(Grant, commitment_code_sql(Grant.id) == share.base_code)
        .outerjoin(paid, sa.and_(paid.c.base_code == share.base_code, paid.c.fund_id == share.fund_id))
        .where(_mine(user), Contribution.fund_id.is_not(None))
        .order_by(Grant.id.desc(), Contribution.id.desc())
    )


def earmarked_rows(rows: Any) -> list[EarmarkedRow]:
    return [EarmarkedRow(row[0], row[1], int(row[2]), int(row[3])) for row in rows]


@dataclass(frozen=True)
class PooledShare:
    """The donor's part of the general (unrestricted) fund."""

    donor_cents: int
    total_cents: int

    def of(self, cents: int) -> int:
        """`cents` of general money attributed to the donor (rounded down)."""
        return cents * self.donor_cents // self.total_cents if self.total_cents else 0

    @property
    def percent(self) -> float:
        return round(self.donor_cents * 100 / self.total_cents, 2) if self.total_cents else 0.0


def pooled_share(user: Any) -> PooledShare:
    """What the donor gave unrestricted over all unrestricted money received (one query)."""
    unrestricted = sa.and_(Contribution.status == ContributionStatus.RECEIVED, Contribution.fund_id.is_(None))
    row = db.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((_mine(user), Contribution.received_cents), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(Contribution.received_cents), 0),
    ).where(unrestricted)).one()
    return PooledShare(int(row[0]), int(row[1]))


@dataclass(frozen=True)
class PooledRow:
    grant: Grant
    general_cents: int  # the grant's general money: still committed + paid
    attributed_cents: int


def pooled_query() -> sa.Select:
    """Every grant with general-fund money: grant, committed from the general fund, paid from it."""
    general = aliased(LedgerAccount)
    paid = paid_per_commitment()
    return (
        sa.select(Grant, general.balance_cents.label("committed"),
                  sa.func.coalesce(paid.c.paid_cents, 0).label("paid"))
        .join(general, sa.and_(general.code == commitment_code_sql(Grant.id), general.fund_id.is_(None)))
        .outerjoin(paid, sa.and_(paid.c.base_code == general.code, paid.c.fund_id.is_(None)))
        .where(general.balance_cents + sa.func.coalesce(paid.c.paid_cents, 0) > 0)
        .order_by(Grant.id.desc())
    )


def pooled_rows(rows: Any, share: PooledShare) -> list[PooledRow]:
    out = []
    for grant, committed, paid in rows:
        general = int(committed) + int(paid)
        out.append(PooledRow(grant, general, share.of(general)))
    return out


def _page(query: sa.Select, page: int, per_page: int) -> tuple[list[Any], int]:
    total = db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), int(total)


def earmarked_page(user: Any, *, page: int, per_page: int) -> Page[EarmarkedRow]:
    """A page of `earmarked_query` (two queries: the count and the rows)."""
    rows, total = _page(earmarked_query(user), page, per_page)
    return Page(items=earmarked_rows(rows), total=total, page=page, per_page=per_page)


def pooled_page(share: PooledShare, *, page: int, per_page: int) -> Page[PooledRow]:
    """A page of `pooled_query` with each grant's general money attributed by `share`."""
    rows, total = _page(pooled_query(), page, per_page)
    return Page(items=pooled_rows(rows, share), total=total, page=page, per_page=per_page)


# --- ledger-verify ----------------------------------------------------------------------------

def check_earmarks_within_purpose() -> list[str]:
    """An earmark is never spent outside its purpose"""
    share = aliased(LedgerAccount)
    paid = paid_per_commitment()
    pool_code_sql = sa.literal("challenge:") + sa.cast(Challenge.id, sa.String) + sa.literal(":pool")
    # Every place an earmarked fund's money sits or went (pool shares, commitment shares, payments of a
    # grant), with the challenge it belongs to: one UNION ALL, joined to the challenges and cities once.
    pools = (sa.select(share.code.label("code"), Challenge.id.label("challenge_id"), share.fund_id.label("fund_id"))
             .join(Challenge, pool_code_sql == share.base_code)
             .where(share.fund_id.is_not(None), share.base_code.like(POOL_PATTERN)))
    commitments = (sa.select(share.code.label("code"), Grant.challenge_id.label("challenge_id"),
                             share.fund_id.label("fund_id"))
                   .join(Grant, commitment_code_sql(Grant.id) == share.base_code)
                   .where(share.fund_id.is_not(None), share.base_code.like(COMMITMENT_PATTERN)))
    payments = (sa.select((sa.literal(f"{DISBURSED} from ") + paid.c.base_code).label("code"),
                          Grant.challenge_id.label("challenge_id"), paid.c.fund_id.label("fund_id"))
                .join(Grant, commitment_code_sql(Grant.id) == paid.c.base_code)
                .where(paid.c.fund_id.is_not(None)))
    places = sa.union_all(pools, commitments, payments).subquery()
    rows = db.session.execute(
        sa.select(places.c.code, places.c.fund_id, Fund.earmark_kind, Fund.earmark_value, Challenge.id,
                  Challenge.focus_area, City.country)
        .join(Fund, Fund.id == places.c.fund_id).join(Challenge, Challenge.id == places.c.challenge_id)
        .join(City, City.id == Challenge.city_id).order_by(places.c.code)).all()
    problems = []
    for code, fund_id, kind, value, challenge_id, focus_area, country in rows:
        challenge = SimpleNamespace(id=challenge_id, focus_area=focus_area, city=SimpleNamespace(country=country))
        if not eligible(kind, value, challenge):  # type: ignore[arg-type]
            problems.append(f"fund share {code}: fund {fund_id}, earmarked {kind}={value}, holds money of challenge "
                            f"{challenge_id}, which it may not pay for")
    return problems
