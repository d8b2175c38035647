"""A draft proposal's milestone indicators: which catalogue indicator each milestone moves, from what baseline
to what target, in what unit and how it is measured (`facility.challenges.indicators`).

Every service enforces one rule (its docstring says which), takes `actor=`, flushes and never commits.
`clean_value` and `clean_terms` are the one reading of indicator numbers and terms, also used by `grants`.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges.indicators import is_indicator
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import clean_text
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.indicator_models import (
    METHOD_CHARS,
    UNIT_CHARS,
    VALUE_SCALE,
    Direction,
    MilestoneIndicator,
    scaled,
)
from facility.proposals.models import Proposal
from facility.proposals.policy import can_edit

MAX_ABS_VALUE = Decimal(10) ** 12
"""Values up to a trillion in size, four decimal places."""
MAX_PER_MILESTONE = 10


def clean_value(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    """Rule: an indicator value is a finite decimal number below a trillion in size with at most four decimal
    places (a comma is not a decimal separator); the error goes in `errors[field]`."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        errors.setdefault(field, []).append(_("This is required."))
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        errors.setdefault(field, []).append(_("Give a number, such as 42 or 12.5."))
        return None
    if abs(number) >= MAX_ABS_VALUE:
        errors.setdefault(field, []).append(_("Give a number below a trillion in size."))
        return None
    if number * VALUE_SCALE != (number * VALUE_SCALE).to_integral_value():
        errors.setdefault(field, []).append(_("Give at most four decimal places."))
        return None
    return number


def clean_terms(*, code: Any, unit: Any, baseline: Any, target: Any, direction: Any, method: Any) -> dict[str, Any]:
    """Rule: an indicator names a catalogue code, a direction (increase or decrease), a baseline and a target that
    differ, and the direction goes from one to the other; unit and method are optional short texts.
    One ValidationFailed names every field that needs attention."""
    errors: dict[str, list[str]] = {}
    if not is_indicator(code):
        errors["code"] = [_("Choose an indicator from the catalogue.")]
    try:
        chosen = Direction(direction)
    except ValueError:
        chosen = None
        errors["direction"] = [_("Choose increase or decrease.")]
    base = clean_value(baseline, "baseline", errors)
    goal = clean_value(target, "target", errors)
    if base is not None and goal is not None and chosen is not None and (
            base == goal or chosen.reached(base, goal)):
        errors.setdefault("target", []).append(
            _("The target must be above the baseline to increase, below it to decrease."))
    texts = {}
    for field, limit in (("unit", UNIT_CHARS), ("method", METHOD_CHARS)):
        try:
            texts[field] = clean_text(unit if field == "unit" else method, field, limit=limit,
                                      multiline=field == "method")
        except ValidationFailed as error:
            errors.update(error.errors)
    if errors:
        raise ValidationFailed(_("The indicator needs attention."), errors=errors)
    assert base is not None and goal is not None and chosen is not None
    return {"code": code, "unit": texts["unit"], "baseline_scaled": scaled(base), "target_scaled": scaled(goal),
            "direction": chosen, "method": texts["method"]}


def add_milestone_indicator(*, proposal: Proposal, actor: User, milestone_position: Any, code: Any, unit: Any = "",
                            baseline: Any, target: Any, direction: Any, method: Any = "") -> MilestoneIndicator:
    """Rule: the applicant's innovators name an indicator for one of a draft's milestones (`policy.can_edit`),
    at most MAX_PER_MILESTONE per milestone and each code once per milestone."""
    proposal = lock_row(Proposal, proposal.id, missing=_("Not found."))
    require(can_edit(actor, proposal))
    positions = {m.position for m in proposal.milestones}
    errors: dict[str, list[str]] = {}
    position = milestone_position if isinstance(milestone_position, int) and not isinstance(
        milestone_position, bool) else None
    if position not in positions:
        errors["milestone_position"] = [_("Choose one of the proposal's milestones.")]
    try:
        terms = clean_terms(code=code, unit=unit, baseline=baseline, target=target, direction=direction,
                            method=method)
    except ValidationFailed as error:
        errors.update(error.errors)
        terms = {}
    if not errors:
        taken = [i for i in proposal.milestone_indicators if i.milestone_position == position]
        if any(i.code == code for i in taken):
            errors["code"] = [_("This milestone already names this indicator.")]
        elif len(taken) >= MAX_PER_MILESTONE:
            errors["code"] = [_("A milestone names at most %(n)s indicators.", n=MAX_PER_MILESTONE)]
    if errors:
        raise ValidationFailed(_("The indicator needs attention."), errors=errors)
    item = MilestoneIndicator(proposal_id=proposal.id, milestone_position=position, **terms)
    proposal.milestone_indicators.append(item)
    db.session.flush()
    record("proposal.indicator_added", actor=actor, obj=proposal,
           details={"milestone_position": position, "code": item.code})
    return item


def remove_milestone_indicator(*, proposal: Proposal, actor: User, indicator_id: Any) -> None:
    """Rule: the applicant's innovators remove a milestone indicator of a draft (`policy.can_edit`); an id that is
    not one of the proposal's indicators is refused on `indicator_id`."""
    proposal = lock_row(Proposal, proposal.id, missing=_("Not found."))
    require(can_edit(actor, proposal))
    item = next((i for i in proposal.milestone_indicators if i.id == indicator_id), None)
    if item is None:
        message = _("This proposal has no such indicator.")
        raise ValidationFailed(message, errors={"indicator_id": [message]})
    proposal.milestone_indicators.remove(item)
    db.session.flush()
    record("proposal.indicator_removed", actor=actor, obj=proposal,
           details={"milestone_position": item.milestone_position, "code": item.code})


def snapshot_indicators(proposal: Proposal) -> list[dict[str, Any]]:
    """The milestone indicators as the submission snapshot freezes them (plain JSON)."""
    return [{"milestone_position": i.milestone_position, "code": i.code, "unit": i.unit,
             "baseline": str(i.baseline), "target": str(i.target), "direction": i.direction.value,
             "method": i.method} for i in proposal.milestone_indicators]


def follow_milestones(proposal: Proposal, old_titles: dict[int, str]) -> None:
    """Rule: when a draft's milestone list is replaced (saving renumbers it 1..n), each indicator follows its
    milestone, found by its title (`old_titles`: position -> title before the save), to the milestone's new
    position; an indicator whose milestone is gone, or whose title no longer names exactly one milestone, is
    removed, so that none names a milestone that is not there or lands on another one."""
    new_positions: dict[str, list[int]] = {}
    for milestone in proposal.milestones:
        new_positions.setdefault(milestone.title, []).append(milestone.position)
    moves: list[tuple[MilestoneIndicator, int]] = []
    for item in list(proposal.milestone_indicators):
        found = new_positions.get(old_titles.get(item.milestone_position, ""), [])
        if len(found) == 1 and (found[0], item.code) not in {(p, i.code) for i, p in moves}:
            moves.append((item, found[0]))
        else:
            proposal.milestone_indicators.remove(item)
    # Two steps, so that swapped positions never meet the (proposal, position, code) unique constraint.
    for item, _position in moves:
        item.milestone_position = -item.id if item.id else -1
    db.session.flush()
    for item, position in moves:
        item.milestone_position = position
    db.session.flush()
