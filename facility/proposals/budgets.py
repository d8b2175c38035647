"""A proposal's budget by category: the one reading of budget input (proposals' drafts and milestone
reports' spending use the same shape) and how a budget is stored and shown.

The shape, in forms' service data and the API: `{"personnel_cents": 1200000, "equipment_cents": 0, ...}`,
one key per `BudgetCategory`, integer US cents of zero or more.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.core.inputs import MAX_CENTS
from facility.proposals.models import BUDGET_CATEGORIES, BudgetCategory, Proposal, ProposalBudgetLine, budget_key


def clean_budget(value: Any, errors: dict[str, list[str]], *, field: str = "budget",
                 required: bool = False) -> dict[BudgetCategory, int]:
    """Rule: a budget maps `<category>_cents` (personnel, equipment, services, travel, other) to whole
    cents of zero or more; `null` or a left-out category means "not given" (unless `required`, when
    every category must be stated, zero allowed). Problems are collected into `errors` by field."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        errors.setdefault(field, []).append(_("Give an amount for each category."))
        return {}
    known = {budget_key(category): category for category in BUDGET_CATEGORIES}
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        errors.setdefault(field, []).append(_("Unknown category: %(names)s.", names=", ".join(unknown)))
    amounts: dict[BudgetCategory, int] = {}
    for key, category in known.items():
        amount = value.get(key)
        if amount is None:
            if required:
                errors.setdefault(f"{field}.{key}", []).append(_("Give an amount (zero if none)."))
            continue
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0 or amount > MAX_CENTS:
            errors.setdefault(f"{field}.{key}", []).append(_("Enter an amount of zero or more."))
            continue
        amounts[category] = amount
    return amounts


def replace_budget(proposal: Proposal, amounts: dict[BudgetCategory, int]) -> None:
    """The budget given replaces the old one; lines are changed in place so that the unique
    (proposal, category) pair never holds twice within one flush."""
    existing = {line.category: line for line in proposal.budget_lines}
    for category, line in existing.items():
        if category in amounts:
            line.amount_cents = amounts[category]
        else:
            proposal.budget_lines.remove(line)
    for category in BUDGET_CATEGORIES:
        if category in amounts and category not in existing:
            proposal.budget_lines.append(ProposalBudgetLine(category=category, amount_cents=amounts[category]))
