"""Budget against actual spending for a grant, per budget category.

The rules (the grant page and `GET /api/v1/grants/{id}` show exactly these numbers):

- Budget: the awarded proposal's budget lines. When the grant's amount differs from the amount
  requested, every category is scaled by award / request (largest remainder, so the scaled lines
  add up to the award to the cent); the page says so. A proposal without a budget (drafted before
  budgets existed) has a budget of zero in every category, and the page says that too.
- Actual: the sum of the spending stated in the grant's *accepted* milestone reports. Reports under
  review are shown separately ("pending") and do not count; reports sent back never count.
- Variance: actual - budget, in cents (positive: more spent than budgeted) and in percent of the
  budget (none when the budget is zero).
- Flag: |variance| > 10 % of the budget, strictly (exactly 10 % is not flagged). For a zero budget
  any spending is flagged (an unbudgeted cost) and no spending is not. The variance is against the
  whole budget, so spending below budget is expected, and flagged, while milestones remain.

Pure functions over plain numbers, plus `grant_budget`, the one query function (two queries
whatever the number of reports).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from facility.extensions import db
from facility.grants.models import Grant, MilestoneReport, ReportSpendingLine, ReportStatus, Tranche
from facility.proposals.models import BUDGET_CATEGORIES, BudgetCategory, ProposalBudgetLine

FLAG_THRESHOLD_PCT = 10
"""A variance is flagged when it is more than this percentage of the category's budget."""


@dataclass(frozen=True)
class BudgetRow:
    """One category (or the total, `category=None`): budget, actual, pending, variance and its flag."""

    category: BudgetCategory | None
    budget_cents: int
    actual_cents: int
    pending_cents: int
    variance_cents: int
    variance_pct: float | None
    flagged: bool


@dataclass(frozen=True)
class GrantBudget:
    """Budget against actual for one grant; `scaled` when the award differs from the request."""

    rows: list[BudgetRow]
    total: BudgetRow
    requested_cents: int
    awarded_cents: int
    has_budget: bool
    scaled: bool

    @property
    def flagged_rows(self) -> list[BudgetRow]:
        return [row for row in self.rows if row.flagged]

    @property
    def threshold_pct(self) -> int:
        return FLAG_THRESHOLD_PCT


# --- pure functions -----------------------------------------------------------------------

def scale_budget(budget: Mapping[BudgetCategory, int], requested_cents: int,
                 awarded_cents: int) -> dict[BudgetCategory, int]:
    """Rule: the budget shown for a grant is the proposal's, scaled by award / request when they differ.

    Every category appears (zero when not given). Scaling floors each share and hands the cents
    left over to the largest remainders (ties in the categories' order), so a budget that added up
    to the request adds up to the award exactly.
    """
    full = {category: int(budget.get(category, 0)) for category in BUDGET_CATEGORIES}
    if requested_cents <= 0 or requested_cents == awarded_cents:
        return full
    target = sum(full.values()) * awarded_cents // requested_cents
    shares = {category: divmod(amount * awarded_cents, requested_cents) for category, amount in full.items()}
    scaled = {category: share[0] for category, share in shares.items()}
    left = target - sum(scaled.values())
    by_remainder = sorted(BUDGET_CATEGORIES, key=lambda category: -shares[category][1])
    for category in by_remainder[:left]:
        scaled[category] += 1
    return scaled


def variance(budget_cents: int, actual_cents: int) -> tuple[int, float | None]:
    """Rule: variance = actual - budget, in cents and in percent of the budget (one decimal;
    None when the budget is zero, where a percentage means nothing)."""
    difference = actual_cents - budget_cents
    if budget_cents <= 0:
        return difference, None
    return difference, round(difference * 100 / budget_cents, 1)


def is_flagged(budget_cents: int, actual_cents: int, *, threshold_pct: int = FLAG_THRESHOLD_PCT) -> bool:
    """Rule: flagged when |actual - budget| is more than `threshold_pct` % of the budget (integer
    maths, strictly more); with a zero budget, when anything was spent."""
    if budget_cents <= 0:
        return actual_cents > 0
    return abs(actual_cents - budget_cents) * 100 > budget_cents * threshold_pct


def compare_row(category: BudgetCategory | None, budget_cents: int, actual_cents: int,
                pending_cents: int = 0) -> BudgetRow:
    """One row of the comparison from its three numbers."""
    cents, pct = variance(budget_cents, actual_cents)
    return BudgetRow(category=category, budget_cents=budget_cents, actual_cents=actual_cents,
                     pending_cents=pending_cents, variance_cents=cents, variance_pct=pct,
                     flagged=is_flagged(budget_cents, actual_cents))


def compare(budget: Mapping[BudgetCategory, int], actual: Mapping[BudgetCategory, int],
            pending: Mapping[BudgetCategory, int] | None = None) -> tuple[list[BudgetRow], BudgetRow]:
    """Every category's row in the categories' order, and the total row (the same rules on the sums)."""
    pending = pending or {}
    rows = [compare_row(category, budget.get(category, 0), actual.get(category, 0), pending.get(category, 0))
            for category in BUDGET_CATEGORIES]
    total = compare_row(None, sum(r.budget_cents for r in rows), sum(r.actual_cents for r in rows),
                        sum(r.pending_cents for r in rows))
    return rows, total


# --- the query ------------------------------------------------------------------------------

def _spending_by_status(grant_id: int) -> dict[ReportStatus, dict[BudgetCategory, int]]:
    """Spending stated in the grant's reports, summed per report status and category (one query)."""
    rows = db.session.execute(
        sa.select(MilestoneReport.status, ReportSpendingLine.category, sa.func.sum(ReportSpendingLine.amount_cents))
        .join(MilestoneReport, MilestoneReport.id == ReportSpendingLine.report_id)
        .join(Tranche, Tranche.id == MilestoneReport.tranche_id)
        .where(Tranche.grant_id == grant_id,
               MilestoneReport.status.in_((ReportStatus.ACCEPTED, ReportStatus.SUBMITTED)))
        .group_by(MilestoneReport.status, ReportSpendingLine.category)
    ).all()
    sums: dict[ReportStatus, dict[BudgetCategory, int]] = {ReportStatus.ACCEPTED: {}, ReportStatus.SUBMITTED: {}}
    for status, category, amount in rows:
        sums[status][category] = int(amount or 0)
    return sums


def grant_budget(grant: Grant) -> GrantBudget:
    """Budget against actual for `grant` (two queries, whatever the number of reports). The caller
    has checked that the viewer may see the grant (`grants.policy.can_view_grant`)."""
    lines = db.session.execute(
        sa.select(ProposalBudgetLine.category, ProposalBudgetLine.amount_cents)
        .where(ProposalBudgetLine.proposal_id == grant.proposal_id)
    ).all()
    proposed = {category: int(amount) for category, amount in lines}
    requested = grant.proposal.requested_cents
    budget = scale_budget(proposed, requested, grant.amount_cents)
    spending = _spending_by_status(grant.id)
    rows, total = compare(budget, spending[ReportStatus.ACCEPTED], spending[ReportStatus.SUBMITTED])
    return GrantBudget(rows=rows, total=total, requested_cents=requested, awarded_cents=grant.amount_cents,
                       has_budget=bool(proposed), scaled=bool(proposed) and requested != grant.amount_cents)


# --- the API's view ----------------------------------------------------------------------------

def _row_data(row: BudgetRow) -> dict[str, Any]:
    return {"category": row.category.value if row.category else None, "budget_cents": row.budget_cents,
            "actual_cents": row.actual_cents, "pending_cents": row.pending_cents,
            "variance_cents": row.variance_cents, "variance_pct": row.variance_pct, "flagged": row.flagged}


def budget_data(grant: Grant) -> dict[str, Any]:
    """`budget` in the grant's full API view: the basis, one entry per category, and the total."""
    result = grant_budget(grant)
    basis = "scaled_to_award" if result.scaled else ("proposal" if result.has_budget else "none")
    return {"basis": basis, "requested_cents": result.requested_cents, "awarded_cents": result.awarded_cents,
            "flag_threshold_pct": FLAG_THRESHOLD_PCT,
            "categories": [_row_data(row) for row in result.rows], "total": _row_data(result.total)}
