"""The results framework's figures (issue 10): every read the public results page and
`GET /api/v1/results` need, aggregated in SQL so the number of queries never grows with the data.

- Capital raised against its target, from the ledger: what the income accounts (contributions) were
  credited, per calendar quarter (UTC) of the day a wire was received or else of the posting,
  cumulative, the rate needed per quarter to reach the target by its deadline counting the current
  quarter, and the projection at today's rate.
  Today's rate is the average of the last four complete quarters once there are four complete
  quarters since the first contribution, else the average per quarter since the first contribution's
  quarter (the current one included). The total equals `ledger.services.facility_totals()["raised"]`.
- Engagement against its targets, by the definitions in `targets.DEFINITIONS`.
- How the money follows policy: awarded money is each grant's amount (its award posting: commitment
  debited from the prize pool); disbursed money is what the grant was paid net of refunds
  (`grants.paid`: its paid tranches less what it sent back), so the disbursed total equals the
  ledger's disbursed; a cancelled grant counts what it was paid, not what it was awarded.

`PortfolioFilter` narrows the engagement and money figures (country, region, group, size, focus area,
SDG target); contributions belong to no city, so the capital figures are the facility's whole.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import sqlalchemy as sa

from facility.challenges.models import Challenge, FocusArea
from facility.challenges.queries import has_sdg_target
from facility.challenges.sdg import SDG11_TARGETS
from facility.cities import countries
from facility.cities.models import City, ClimateRisk, SizeClass
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.models import Contribution, Grant
from facility.grants.paid import net_paid_by_grant
from facility.grants.queries import engaged_counts
from facility.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from facility.portfolio.filters import SIZE_BOUNDS, PortfolioFilter
from facility.portfolio.targets import Target, results_config
from facility.proposals.models import BeneficiaryGroup, Proposal

NO_FILTER = PortfolioFilter()
RATE_WINDOW = 4  # quarters


# --- quarters -------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter; `index` counts quarters since year 0 so that differences are plain numbers."""

    year: int
    number: int  # 1 to 4

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def from_index(cls, index: int) -> Quarter:
        return cls(index // 4, index % 4 + 1)

    @property
    def index(self) -> int:
        return self.year * 4 + self.number - 1

    @property
    def key(self) -> str:
        """`2027-Q1`: stable, sortable, language-free (the API and CSV use it)."""
        return f"{self.year}-Q{self.number}"

    def __str__(self) -> str:
        return self.key


def quarters_between(first: Quarter, last: Quarter) -> list[Quarter]:
    """Every quarter from `first` to `last`, both included (empty when last is before first)."""
    return [Quarter.from_index(i) for i in range(first.index, last.index + 1)]


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


# --- capital raised -------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuarterRaised:
    quarter: Quarter
    raised_cents: int
    cumulative_cents: int


@dataclass(frozen=True)
class CapitalRaised:
    target: Target
    today: date
    raised_cents: int
    quarters: list[QuarterRaised]      # from the first contribution's quarter to the current one
    quarters_left: int                 # the current quarter to the deadline's, both included; 0 after it
    remaining_cents: int               # still to raise (0 once the target is met)
    needed_per_quarter_cents: int      # remaining spread evenly over quarters_left (all of it if none left)
    rate_per_quarter_cents: int        # today's rate, see rate_basis
    rate_basis: str                    # "last_four_quarters", "since_start" or "none"
    projected_cents: int               # raised + rate x quarters_left: where today's rate ends at the deadline

    @property
    def progress_pct(self) -> float:
        return _pct(self.raised_cents, self.target.value)

    @property
    def projected_pct(self) -> float:
        return _pct(self.projected_cents, self.target.value)

    @property
    def on_track(self) -> bool:
        return self.projected_cents >= self.target.value


def _pct(part: int, whole: int) -> float:
    """A share in percent with one decimal; 0 of nothing is 0."""
    return round(part * 100 / whole, 1) if whole else 0.0


def raised_by_quarter() -> dict[Quarter, int]:
    """Money credited to the income (contribution) accounts per quarter: one query, grouped by year and
    month (at most twelve rows a year, whatever the number of contributions).

    A wire counts in the quarter the bank received it (`received_on`, which the fund manager confirms,
    possibly days later); any other posting (a card payment, a reversal) in the quarter it was booked."""
    t, e, a, c = LedgerTransaction, LedgerEntry, LedgerAccount, Contribution
    day = sa.func.coalesce(c.received_on, t.created_at)
    year, month = sa.extract("year", day), sa.extract("month", day)
    rows = db.session.execute(
        sa.select(year, month, sa.func.sum(-e.amount_cents))
        .select_from(e).join(a, a.id == e.account_id).join(t, t.id == e.transaction_id)
        .outerjoin(c, c.ledger_transaction_id == t.id)
        .where(a.kind == AccountKind.INCOME)
        .group_by(year, month)
    ).all()
    out: dict[Quarter, int] = {}
    for row_year, row_month, cents in rows:
        quarter = Quarter(int(row_year), (int(row_month) - 1) // 3 + 1)
        out[quarter] = out.get(quarter, 0) + int(cents or 0)
    return out


def _rate(series: Sequence[QuarterRaised], current: Quarter) -> tuple[int, str]:
    """Today's rate per quarter and how it was taken (see the module docstring)."""
    if not series:
        return 0, "none"
    complete = [q for q in series if q.quarter < current]
    if len(complete) >= RATE_WINDOW:
        return sum(q.raised_cents for q in complete[-RATE_WINDOW:]) // RATE_WINDOW, "last_four_quarters"
    return sum(q.raised_cents for q in series) // len(series), "since_start"


def capital_raised(*, today: date | None = None) -> CapitalRaised:
    """Capital raised against the target: per quarter, cumulative, the rate needed and the projection."""
    target = results_config().target("capital_raised")
    today = today or utcnow().date()
    current = Quarter.of(today)
    by_quarter = raised_by_quarter()
    # Postings dated after today (a clock moved back in a test) still count in the total.
    first = min(by_quarter, default=current)
    last = max([current, *by_quarter])
    series: list[QuarterRaised] = []
    cumulative = 0
    for quarter in quarters_between(first, last) if by_quarter else []:
        cumulative += by_quarter.get(quarter, 0)
        series.append(QuarterRaised(quarter, by_quarter.get(quarter, 0), cumulative))
    raised = cumulative
    quarters_left = max(0, Quarter.of(target.deadline).index - current.index + 1)
    remaining = max(0, target.value - raised)
    needed = _ceil_div(remaining, quarters_left) if quarters_left else remaining
    rate, basis = _rate(series, current)
    return CapitalRaised(target=target, today=today, raised_cents=raised, quarters=series,
                         quarters_left=quarters_left, remaining_cents=remaining, needed_per_quarter_cents=needed,
                         rate_per_quarter_cents=rate, rate_basis=basis, projected_cents=raised + rate * quarters_left)


# --- engagement -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Engagement:
    target: Target
    count: int

    @property
    def progress_pct(self) -> float:
        return _pct(self.count, self.target.value)


def engagement(portfolio_filter: PortfolioFilter = NO_FILTER) -> list[Engagement]:
    """National governments, city governments and technology companies engaged, against their targets
    (two queries; the definitions are `grants.queries.engaged_counts`, the same the /facility figures
    use). A filter narrows by the city and challenge that engaged them."""
    config = results_config()
    countries_engaged, cities_engaged, companies_engaged = engaged_counts(portfolio_filter.conditions())
    return [Engagement(config.target("national_governments"), countries_engaged),
            Engagement(config.target("city_governments"), cities_engaged),
            Engagement(config.target("technology_companies"), companies_engaged)]


# --- how the money follows policy -----------------------------------------------------------------

@dataclass(frozen=True)
class Money:
    """Grants, awarded and disbursed money of one slice, and its shares of the whole."""

    key: str
    grants: int
    awarded_cents: int
    disbursed_cents: int
    awarded_pct: float = 0.0
    disbursed_pct: float = 0.0


def _with_shares(key: str, grants: Any, awarded: Any, disbursed: Any, whole: Money | None) -> Money:
    grants, awarded, disbursed = int(grants or 0), int(awarded or 0), int(disbursed or 0)
    if whole is None:
        return Money(key, grants, awarded, disbursed, 100.0 if awarded else 0.0, 100.0 if disbursed else 0.0)
    return Money(key, grants, awarded, disbursed, _pct(awarded, whole.awarded_cents),
                 _pct(disbursed, whole.disbursed_cents))


def _grant_money(net_paid: Any) -> tuple[Any, Any]:
    """The awarded and disbursed amount of the grant in the row: disbursed is what it was paid net of refunds
    (`grants.paid`), also for a cancelled grant, whose commitment went back to the pool."""
    return Grant.amount_cents, sa.func.coalesce(net_paid.c.net_paid_cents, 0)


def _grants_select(*columns: Any, net_paid: Any, portfolio_filter: PortfolioFilter,
                   proposals: bool = False) -> sa.Select[Any]:
    query = (sa.select(*columns).select_from(Grant)
             .join(Challenge, Challenge.id == Grant.challenge_id).join(City, City.id == Challenge.city_id)
             .outerjoin(net_paid, net_paid.c.grant_id == Grant.id))
    if proposals:
        query = query.join(Proposal, Proposal.id == Grant.proposal_id)
    return query.where(*portfolio_filter.conditions())


def _sums(condition: Any, net_paid: Any) -> list[Any]:
    """Grants, awarded and disbursed money of the rows meeting `condition`, as three aggregate columns."""
    awarded, disbursed = _grant_money(net_paid)
    return [sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((condition, awarded), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((condition, disbursed), else_=0)), 0)]


def policy_slices() -> dict[str, Any]:
    """The slices the facility's policy gives priority to, each as a condition on the grant's city."""
    small_medium_below = SIZE_BOUNDS[SizeClass.MEDIUM][1] or 1_000_000  # medium's upper bound
    grouped = sorted({code for group in countries.GROUPS for code in countries.codes_where(group=group)})
    return {
        "small_and_medium_cities": City.population < small_medium_below,
        "ldc_lldc_sids": City.country.in_(grouped),
        "global_south": City.country.in_(countries.codes_where(global_south=True)),
        "high_climate_risk": City.climate_risk == ClimateRisk.HIGH,
        "large_informal_settlements": City.informal_settlement_share_pct
        >= results_config().large_informal_settlements_min_pct,
    }


def _sliced(slices: dict[Any, Any], portfolio_filter: PortfolioFilter, *,
            proposals: bool = False) -> tuple[Money, list[Money]]:
    """The whole and each slice of `slices`, in one query."""
    # Each grant's net paid is read from the ledger once for all grants (`net_paid_by_grant`), not per row.
    net_paid = net_paid_by_grant()
    columns = [*_sums(sa.true(), net_paid)]
    for condition in slices.values():
        columns.extend(_sums(condition, net_paid))
    row = db.session.execute(_grants_select(*columns, net_paid=net_paid, portfolio_filter=portfolio_filter,
                                            proposals=proposals)).one()
    whole = _with_shares("all", row[0], row[1], row[2], None)
    parts = [_with_shares(str(key), row[3 + 3 * i], row[4 + 3 * i], row[5 + 3 * i], whole)
             for i, key in enumerate(slices)]
    return whole, parts


def _focus_area_slices() -> dict[str, Any]:
    return {area.value: Challenge.focus_area == area for area in FocusArea}


def _sdg_target_slices() -> dict[str, Any]:
    return {code: has_sdg_target(code, Challenge.sdg_targets) for code in SDG11_TARGETS}


def _beneficiary_slices() -> dict[str, Any]:
    return {group.value: has_sdg_target(group.value, Proposal.beneficiary_groups) for group in BeneficiaryGroup}


def money_by_policy(portfolio_filter: PortfolioFilter = NO_FILTER) -> tuple[Money, list[Money]]:
    """All grants, and the share going to each priority of the facility's policy (one query)."""
    return _sliced(policy_slices(), portfolio_filter)


def money_by_focus_area(portfolio_filter: PortfolioFilter = NO_FILTER) -> list[Money]:
    """The split of grants and money by the challenge's focus area, every area listed (one query)."""
    return _sliced(_focus_area_slices(), portfolio_filter)[1]


def money_by_sdg_target(portfolio_filter: PortfolioFilter = NO_FILTER) -> list[Money]:
    """Grants and money per SDG 11 target of the challenge (one query). A challenge naming two targets
    counts under both, so the rows add up to more than the whole; the shares are each of the whole."""
    return _sliced(_sdg_target_slices(), portfolio_filter)[1]


def money_by_beneficiary_group(portfolio_filter: PortfolioFilter = NO_FILTER) -> list[Money]:
    """Grants and money per group the proposal says benefits (one query); a proposal naming several
    groups counts under each."""
    return _sliced(_beneficiary_slices(), portfolio_filter, proposals=True)[1]


def money_breakdowns(portfolio_filter: PortfolioFilter = NO_FILTER) -> tuple[Money, dict[str, list[Money]]]:
    """The whole and every breakdown above (policy, focus area, SDG target, beneficiary group) in ONE query:
    at full scale each query reads every grant's net paid from the ledger, so the page does it once."""
    groups = {"policy": policy_slices(), "focus_area": _focus_area_slices(), "sdg_target": _sdg_target_slices(),
              "beneficiary_group": _beneficiary_slices()}
    slices = {(group, key): condition for group, parts in groups.items() for key, condition in parts.items()}
    whole, parts = _sliced(slices, portfolio_filter, proposals=True)
    out: dict[str, list[Money]] = {group: [] for group in groups}
    for (group, key), money in zip(slices, parts, strict=True):
        out[group].append(replace(money, key=key))
    return whole, out


# --- everything together --------------------------------------------------------------------------

@dataclass(frozen=True)
class Results:
    capital: CapitalRaised
    engagement: list[Engagement]
    money: Money
    by_policy: list[Money]
    by_focus_area: list[Money]
    by_sdg_target: list[Money]
    by_beneficiary_group: list[Money]
    large_informal_settlements_min_pct: int


def results(portfolio_filter: PortfolioFilter = NO_FILTER, *, today: date | None = None) -> Results:
    """Every figure of the results framework (four queries, whatever the size of the facility)."""
    money, by = money_breakdowns(portfolio_filter)
    return Results(capital=capital_raised(today=today), engagement=engagement(portfolio_filter), money=money,
                   by_policy=by["policy"], by_focus_area=by["focus_area"], by_sdg_target=by["sdg_target"],
                   by_beneficiary_group=by["beneficiary_group"],
                   large_informal_settlements_min_pct=results_config().large_informal_settlements_min_pct)
