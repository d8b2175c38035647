"""The audit trail's pages: search it, read one event, check the chain, export the search as CSV.

Read only, for fund managers, admins and auditors (`policy.can_view_audit`). Nothing here writes:
every route is a GET, and the trail itself is append-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.audit import forms, policy, queries
from facility.audit.models import AuditEvent
from facility.audit.services import ChainProblem, verify_chain
from facility.core.exports import Column, csv_response
from facility.core.inputs import page_arg
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.views import register_dashboard_panel
from facility.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")

PROBLEMS_SHOWN = 50

CSV_COLUMNS = (Column("id", "int"), Column("occurred_at", "datetime"), Column("actor_id", "int"),
               Column("actor_email", "text"), Column("actor_name", "text"), Column("action", "text"),
               Column("object_type", "text"), Column("object_id", "text"), Column("ip_address", "text"),
               Column("details", "text"), Column("hash", "text"))
"""queries.EXPORT_COLUMNS, with machine-readable headers that stay the same in every language."""


OBJECT_PAGES = {
    "Challenge": ("challenges.show", "challenge_id"), "Proposal": ("proposals.show", "proposal_id"),
    "Grant": ("grants.grant", "grant_id"), "Contribution": ("grants.contribution", "contribution_id"),
    "Disbursement": ("disbursements.show", "disbursement_id"), "City": ("cities.show", "city_id"),
    "MilestoneReport": ("grants.report", "report_id"),
}
"""The page of each kind of object the trail names (by endpoint: the audit package imports no other)."""


def object_url(event: AuditEvent) -> str | None:
    """The page of the event's object, when it has one and its id is a number."""
    page = OBJECT_PAGES.get(event.object_type)
    if page is None or not event.object_id.isdecimal():
        return None
    endpoint, argument = page
    values: dict[str, Any] = {argument: int(event.object_id)}
    return url_for(endpoint, **values)


@dataclass(frozen=True)
class ChainStatus:
    """The outcome of one walk of the whole chain, and when it was made."""

    checked_at: datetime
    events: int
    problems: list[ChainProblem]

    @property
    def verifies(self) -> bool:
        return not self.problems


def _check_chain() -> ChainStatus:
    """Walk the whole chain now (on demand: it reads every event, so it is not run on every visit)."""
    events = db.session.execute(sa.select(sa.func.count(AuditEvent.id))).scalar_one()
    return ChainStatus(checked_at=utcnow(), events=int(events), problems=verify_chain())


def _allowed() -> None:
    require(policy.can_view_audit(current_user))


@bp.route("")
@login_required
def index() -> ResponseReturnValue:
    _allowed()
    criteria, form = forms.criteria(request.args)
    form.action.render_kw = {"list": "audit-actions"}  # the recorded actions, suggested without JavaScript
    page = queries.search(criteria, page=page_arg())
    chain = _check_chain() if request.args.get("verify") == "1" else None
    return render_template("audit/index.html", form=form, page=page, criteria=criteria, chain=chain,
                           problems_shown=PROBLEMS_SHOWN, actions=queries.known_actions())


@bp.route("/events.csv")
@login_required
def export() -> ResponseReturnValue:
    """The search's events as CSV, newest first, streamed (the same criteria as the page; bad ones are left out)."""
    _allowed()
    criteria, _form = forms.criteria(request.args)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return csv_response(CSV_COLUMNS, queries.export_rows(criteria), f"audit-trail-{stamp}.csv")


@bp.route("/events/<int:event_id>")
@login_required
def event(event_id: int) -> ResponseReturnValue:
    _allowed()
    row = queries.get_event(event_id)
    return render_template("audit/event.html", row=row, event=row.event, related=queries.object_events(row.event),
                           object_url=object_url(row.event))


# --- what the package adds to the rest of the app ---------------------------------------

def dashboard_panel(user: Any) -> dict[str, Any] | None:
    """The readers' dashboard panel: how long the trail is, its latest record, and where to look."""
    if policy.can_view_audit(user) is not None:
        return None
    return {"title": _("Audit trail"), "template": "audit/_panel.html", "summary": queries.trail_summary()}


def register(app: Flask) -> None:
    """Wire the audit trail into the app: the dashboard panel of fund managers, admins and auditors."""
    register_dashboard_panel(app, dashboard_panel)
