"""Milestone evidence: the grantee reports a tranche's milestone; a fund manager accepts the report
(the tranche may then be paid) or sends it back.

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits. Statuses move only through `TRANCHE_TRANSITIONS` and `REPORT_TRANSITIONS`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import COMMENT_CHARS, REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.core.uploads import store_upload, validate_upload
from facility.extensions import db
from facility.grants.models import (
    REPORT_TRANSITIONS,
    TRANCHE_TRANSITIONS,
    EvidenceFile,
    MilestoneReport,
    ReportSpendingLine,
    ReportStatus,
    Tranche,
    TrancheStatus,
)
from facility.grants.policy import can_report, can_review
from facility.grants.queries import fund_managers
from facility.proposals.budgets import clean_budget
from facility.proposals.models import BudgetCategory

EVIDENCE_AREA = "uploads/evidence"  # under the instance folder
MAX_KPIS = 50
KPI_NAME_CHARS = 100
REPORT_CHARS = COMMENT_CHARS
"""A milestone report's text: longer free text."""
RETURN_COMMENT_CHARS = REASON_CHARS
"""Why a report is sent back: a short comment."""


def _kpi_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={"kpi_values": [message]})


def clean_kpis(kpi_values: Any) -> dict[str, float | int]:
    """Rule: KPI values map at most MAX_KPIS names (1 to KPI_NAME_CHARS characters) to finite numbers."""
    if kpi_values in (None, ""):
        return {}
    if not isinstance(kpi_values, dict):
        raise _kpi_error(_("KPI values must map names to numbers."))
    if len(kpi_values) > MAX_KPIS:
        raise _kpi_error(ngettext("Give at most %(n)s KPI value.", "Give at most %(n)s KPI values.", MAX_KPIS, n=MAX_KPIS))
    cleaned: dict[str, float | int] = {}
    for name, value in kpi_values.items():
        label = " ".join(str(name).split())
        if not label or len(label) > KPI_NAME_CHARS:
            raise _kpi_error(ngettext("KPI names have 1 to %(n)s character.",
                                      "KPI names have 1 to %(n)s characters.", KPI_NAME_CHARS, n=KPI_NAME_CHARS))
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _kpi_error(_("The value of %(name)s must be a number.", name=label))
        cleaned[label] = value
    return cleaned


def _report_fields(text: Any, kpi_values: Any, files: list[tuple[str, bytes]],
                   spending: Any) -> tuple[str, dict[str, float | int], dict[BudgetCategory, int]]:
    """The report's text, KPIs and spending, or one ValidationFailed naming every field that needs attention."""
    errors: dict[str, list[str]] = {}
    # Every category is stated, zero allowed: a report that leaves one out says nothing about it.
    spent = clean_budget(spending, errors, field="spending", required=True)
    cleaned_text = ""
    try:
        cleaned_text = clean_text(text, "text", limit=REPORT_CHARS, required=True, multiline=True)
    except ValidationFailed as error:
        errors.update(error.errors)
    try:
        kpis = clean_kpis(kpi_values)
    except ValidationFailed as error:
        errors.update(error.errors)
        kpis = {}
    for filename, data in files:
        try:
            validate_upload(filename, data)
        except ValidationFailed as error:
            errors.setdefault("files", []).extend(error.errors.get("files", [error.detail]))
    if errors:
        raise ValidationFailed(_("The report needs attention."), errors=errors)
    return cleaned_text, kpis, spent


def submit_milestone_report(
    *, tranche: Tranche, actor: User, text: str, spending: dict[str, Any] | None,
    kpi_values: dict[str, Any] | None = None, files: Iterable[tuple[str, bytes]] = (),
) -> MilestoneReport:
    """Rule: the grantee's innovators report a pending milestone of an active grant (`policy.can_report`),
    with a description, what was spent in the period per budget category (`spending`, the
    `{"personnel_cents": ..., ...}` shape of `proposals.budgets`: every category, zero allowed),
    optional KPI values and evidence files; the tranche then awaits review.
    """
    tranche = lock_row(Tranche, tranche.id, missing=_("Not found."))
    require(can_report(actor, tranche))
    files = list(files)
    text, kpis, spent = _report_fields(text, kpi_values, files, spending)
    report = MilestoneReport(tranche_id=tranche.id, submitted_by_id=actor.id, text=text, kpi_values=kpis,
                             status=ReportStatus.SUBMITTED, created_at=utcnow())
    report.spending_lines.extend(ReportSpendingLine(category=category, amount_cents=amount)
                                 for category, amount in spent.items())
    for filename, data in files:
        stored = store_upload(EVIDENCE_AREA, filename, data)
        report.files.append(EvidenceFile(
            original_filename=stored.original_filename, content_type=stored.content_type,
            size_bytes=stored.size_bytes, sha256=stored.sha256, storage_key=stored.storage_key,
        ))
    tranche.reports.append(report)
    TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.EVIDENCE_SUBMITTED)
    db.session.flush()
    record("milestone.reported", actor=actor, obj=report, details={
        "tranche_id": tranche.id, "grant_id": tranche.grant_id, "files": [f.sha256 for f in report.files],
        "spending": {category.value: amount for category, amount in spent.items()},
    })
    notify(fund_managers(), "grants/report_arrived", report=report)
    return report


def _review(report: MilestoneReport, actor: User, to: ReportStatus, tranche_to: TrancheStatus) -> MilestoneReport:
    """Move a locked, reviewable report and its tranche, and say who reviewed it when."""
    REPORT_TRANSITIONS.move(report, to)
    TRANCHE_TRANSITIONS.move(report.tranche, tranche_to)
    report.reviewed_by_id = actor.id
    report.reviewed_at = utcnow()
    return report


def accept_milestone_report(*, report: MilestoneReport, actor: User) -> MilestoneReport:
    """Rule: a fund manager accepts a submitted report (`policy.can_review`); its tranche may then be paid."""
    require(can_review(actor, report))  # the role before taking a lock
    report = lock_row(MilestoneReport, report.id, missing=_("Not found."))
    require(can_review(actor, report))
    _review(report, actor, ReportStatus.ACCEPTED, TrancheStatus.ACCEPTED)
    record("milestone.accepted", actor=actor, obj=report, details={"tranche_id": report.tranche_id})
    db.session.flush()
    return report


def return_milestone_report(*, report: MilestoneReport, actor: User, comment: str) -> MilestoneReport:
    """Rule: a fund manager sends a submitted report back with a comment (`policy.can_review`);
    the milestone is pending again."""
    require(can_review(actor, report))
    comment = clean_text(comment, "comment", limit=RETURN_COMMENT_CHARS, required=True, multiline=True)
    report = lock_row(MilestoneReport, report.id, missing=_("Not found."))
    require(can_review(actor, report))
    _review(report, actor, ReportStatus.RETURNED, TrancheStatus.PENDING)
    report.reviewer_comment = comment
    record("milestone.returned", actor=actor, obj=report, details={"tranche_id": report.tranche_id,
                                                                    "comment": comment})
    db.session.flush()
    return report
