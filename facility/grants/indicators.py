"""A tranche's indicators: copied from its milestone at award, made payment conditions by a fund manager,
measured by the grantee and verified by a fund manager.

Every service enforces one rule (its docstring says which; the policies are in `grants.indicator_policy`),
takes `actor=`, flushes and never commits. Readings move only through `READING_TRANSITIONS`.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.extensions import db
from facility.grants.indicator_models import READING_TRANSITIONS, IndicatorReading, ReadingStatus, TrancheIndicator
from facility.grants.indicator_policy import (
    can_report_reading,
    can_review_reading,
    can_set_condition,
    can_verify_reading,
)
from facility.grants.milestones import submit_milestone_report
from facility.grants.models import Grant, MilestoneReport, Tranche
from facility.grants.policy import can_report
from facility.proposals.indicator_models import scaled
from facility.proposals.indicators import clean_value

NOTE_CHARS = REASON_CHARS


def copy_milestone_indicators(*, grant: Grant) -> None:
    """Rule: at award each tranche made from a milestone takes that milestone's indicators (by position), none
    of them a payment condition yet; tranches not made from a milestone take none."""
    by_position: dict[int, list[Any]] = {}
    for item in getattr(grant.proposal, "milestone_indicators", []):
        by_position.setdefault(item.milestone_position, []).append(item)
    positions = {m.id: m.position for m in grant.proposal.milestones}
    for tranche in grant.tranches:
        position = positions.get(tranche.milestone_id) if tranche.milestone_id else None
        for item in by_position.get(position, []) if position is not None else []:
            tranche.indicators.append(TrancheIndicator(
                code=item.code, unit=item.unit, baseline_scaled=item.baseline_scaled,
                target_scaled=item.target_scaled, direction=item.direction, method=item.method, is_condition=False))
    db.session.flush()


def indicator_of(tranche: Tranche, code: Any) -> TrancheIndicator:
    """The tranche's indicator named `code` (ValidationFailed on `code` when it has none)."""
    found: TrancheIndicator | None = next((i for i in tranche.indicators if i.code == code), None)
    if found is None:
        message = _("This tranche has no such indicator.")
        raise ValidationFailed(message, errors={"code": [message]})
    return found


def _locked(indicator: TrancheIndicator) -> TrancheIndicator:
    """The indicator's tranche locked (readings of one tranche are decided one at a time), the indicator fresh."""
    lock_row(Tranche, indicator.tranche_id, missing=_("Not found."))
    locked: TrancheIndicator = lock_row(TrancheIndicator, indicator.id, missing=_("Not found."))
    return locked


def set_condition(*, indicator: TrancheIndicator, actor: User, is_condition: bool) -> TrancheIndicator:
    """Rule: a fund manager makes an indicator a payment condition of its unpaid tranche, or not
    (`can_set_condition`)."""
    require(can_set_condition(actor, indicator))
    indicator = _locked(indicator)
    require(can_set_condition(actor, indicator))
    indicator.is_condition = bool(is_condition)
    record("indicator.condition_set", actor=actor, obj=indicator.tranche.grant,
           details={"tranche_id": indicator.tranche_id, "code": indicator.code, "is_condition": indicator.is_condition})
    db.session.flush()
    return indicator


def report_reading(*, indicator: TrancheIndicator, actor: User, value: Any, note: Any = "") -> IndicatorReading:
    """Rule: the grantee reports a measured value (`can_report_reading`) with a note; its evidence is the
    tranche's latest milestone report (its files), when there is one."""
    require(can_report_reading(actor, indicator))
    errors: dict[str, list[str]] = {}
    number = clean_value(value, "value", errors)
    try:
        note = clean_text(note, "note", limit=NOTE_CHARS, multiline=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    if errors:
        raise ValidationFailed(_("The value needs attention."), errors=errors)
    assert number is not None
    indicator = _locked(indicator)
    require(can_report_reading(actor, indicator))
    reports = indicator.tranche.reports
    reading = IndicatorReading(value_scaled=scaled(number), note=note, reported_by_id=actor.id, reported_at=utcnow(),
                               report_id=reports[-1].id if reports else None, status=ReadingStatus.SUBMITTED)
    indicator.readings.append(reading)
    db.session.flush()
    record("indicator.reported", actor=actor, obj=indicator.tranche.grant,
           details={"tranche_id": indicator.tranche_id, "code": indicator.code, "value": str(number),
                    "reading_id": reading.id})
    return reading


def _decide(reading: IndicatorReading, actor: User, to: ReadingStatus, comment: Any, *, required: bool) -> IndicatorReading:
    require(can_verify_reading(actor, reading))
    comment = clean_text(comment, "comment", limit=REASON_CHARS, required=required, multiline=True)
    _locked(reading.indicator)
    reading = lock_row(IndicatorReading, reading.id, missing=_("Not found."))
    require(can_verify_reading(actor, reading))
    READING_TRANSITIONS.move(reading, to)
    reading.verified_by_id, reading.verified_at, reading.comment = actor.id, utcnow(), comment
    indicator = reading.indicator
    record(f"indicator.{to.value}", actor=actor, obj=indicator.tranche.grant,
           details={"tranche_id": indicator.tranche_id, "code": indicator.code, "value": str(reading.value),
                    "reading_id": reading.id, "comment": comment})
    db.session.flush()
    return reading


def verify_reading(*, reading: IndicatorReading, actor: User, comment: Any = "") -> IndicatorReading:
    """Rule: a fund manager other than the reporter verifies a submitted value (`can_verify_reading`)."""
    return _decide(reading, actor, ReadingStatus.VERIFIED, comment, required=False)


def reject_reading(*, reading: IndicatorReading, actor: User, comment: Any) -> IndicatorReading:
    """Rule: a fund manager other than the reporter rejects a submitted value with a comment saying why
    (`can_verify_reading`); the grantee may then report a new value."""
    return _decide(reading, actor, ReadingStatus.REJECTED, comment, required=True)


def review_pending(*, indicator: TrancheIndicator, actor: User, verify: bool, comment: Any = "") -> IndicatorReading:
    """The indicator's reading awaiting verification verified (`verify`) or rejected: what pages and API post."""
    require(can_review_reading(actor, indicator))
    reading = indicator.pending_reading
    assert reading is not None  # can_review_reading refuses otherwise
    return verify_reading(reading=reading, actor=actor, comment=comment) if verify else \
        reject_reading(reading=reading, actor=actor, comment=comment)


def shown_value(value: Decimal | None, unit: str) -> str:
    """A value with its unit, for pages and open data."""
    if value is None:
        return ""
    return f"{value:f} {unit}".strip()


def report_milestone_with_values(*, tranche: Tranche, actor: User, values: dict[str, Any] | None,
                                 **report: Any) -> MilestoneReport:
    """Rule: the grantee reports a milestone (`milestones.submit_milestone_report`) and, with it, the measured
    value of any of the tranche's indicators (by code; an empty value is left out); the report is their
    evidence. A value that is not a number, or a code the tranche does not measure, refuses the whole report."""
    require(can_report(actor, tranche))  # the permission and the tranche's state before the body is read
    given = {code: value for code, value in (values or {}).items() if value not in (None, "")}
    errors: dict[str, list[str]] = {}
    for code, value in given.items():
        if not any(item.code == code for item in tranche.indicators):
            errors.setdefault("indicator_values", []).append(_("This tranche has no indicator %(code)s.", code=code))
            continue
        problems: dict[str, list[str]] = {}
        clean_value(value, "value", problems)
        for message in problems.get("value", []):
            errors.setdefault("indicator_values", []).append(f"{code}: {message}")
    if errors:
        raise ValidationFailed(_("The report needs attention."), errors=errors)
    made = submit_milestone_report(tranche=tranche, actor=actor, **report)
    for code, value in given.items():
        # No note: the reading links the report, which the pages show as its evidence (in the reader's language).
        report_reading(indicator=indicator_of(made.tranche, code), actor=actor, value=value)
    return made
