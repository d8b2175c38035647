"""The public summary of an accepted milestone: a short account the grantee writes for the public
grant page, separate from the private milestone report (which only the grantee and staff see).

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits.
"""
from __future__ import annotations

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.inputs import clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.extensions import db
from facility.grants.models import MilestoneReport
from facility.grants.policy import can_write_public_summary

SUMMARY_CHARS = 1_000  # a short paragraph: the public page lists one per milestone


def write_public_summary(*, report: MilestoneReport, actor: User, text: str) -> MilestoneReport:
    """Rule: the grantee's innovators write the public summary of an accepted milestone, 1 to 1,000
    characters of plain text (tidied, never truncated); writing again replaces it."""
    require(can_write_public_summary(actor, report))
    summary = clean_text(text, "public_summary", limit=SUMMARY_CHARS, required=True, multiline=True)
    report.public_summary = summary
    report.public_summary_at = utcnow()
    record("milestone.public_summary", actor=actor, obj=report, details={"chars": len(summary)})
    db.session.flush()
    return report
