"""The audit trail's pages: search it, read one event, check the chain, export the search as CSV; and the
public list of the chain's anchors.

Read only, for fund managers, admins and auditors (`policy.can_view_audit`), except the anchors, which
are published to everyone (`policy.can_view_anchors`) so that outsiders can keep them. Nothing here
writes: every route is a GET, and the trail itself is append-only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.audit import actions, forms, policy, queries
from facility.audit.models import AuditAnchor, AuditEvent
from facility.audit.services import ChainProblem, verify_chain
from facility.core.exports import Column, csv_response
from facility.core.inputs import page_arg
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.views import register_dashboard_panel
from facility.extensions import db

bp = Blueprint("audit", __name__)  # /audit/... for readers, and the public /opendata/audit-anchors.json

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


@bp.route("/audit")
@login_required
def index() -> ResponseReturnValue:
    _allowed()
    criteria, form = forms.criteria(request.args)
    form.action.render_kw = {"list": "audit-actions"}  # the recorded actions, suggested without JavaScript
    page = queries.search(criteria, page=page_arg())
    chain = _check_chain() if request.args.get("verify") == "1" else None
    return render_template("audit/index.html", form=form, page=page, criteria=criteria, chain=chain,
                           problems_shown=PROBLEMS_SHOWN, actions=queries.known_actions())


@bp.route("/audit/events.csv")
@login_required
def export() -> ResponseReturnValue:
    """The search's events as CSV, newest first, streamed (the same criteria as the page; bad ones are left out)."""
    _allowed()
    criteria, _form = forms.criteria(request.args)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return csv_response(CSV_COLUMNS, queries.export_rows(criteria), f"audit-trail-{stamp}.csv")


@bp.route("/audit/events/<int:event_id>")
@login_required
def event(event_id: int) -> ResponseReturnValue:
    _allowed()
    row = queries.get_event(event_id)
    return render_template("audit/event.html", row=row, event=row.event, related=queries.object_events(row.event),
                           object_url=object_url(row.event))


ANCHORS_CACHE_SECONDS = 60


def _anchor_json(anchor: AuditAnchor) -> dict[str, Any]:
    return {"id": anchor.id, "anchored_at": anchor.anchored_at.isoformat().replace("+00:00", "Z"),
            "last_event_id": anchor.last_event_id, "row_count": anchor.row_count, "head_hash": anchor.head_hash,
            "key_id": anchor.key_id}


@bp.route("/opendata/audit-anchors.json")
def anchors() -> ResponseReturnValue:
    """The chain's anchors, newest first, a page at a time (`?page=`, AUDIT_ANCHORS_PER_PAGE), for everyone: keep
    them, and `flask --app wsgi facility audit-verify --anchors FILE` shows whether the trail was cut or rewritten
    since. Cacheable for a minute (anchors are hourly)."""
    require(policy.can_view_anchors(current_user))
    per_page = max(1, int(current_app.config.get("AUDIT_ANCHORS_PER_PAGE") or 100))
    number = page_arg()
    page = queries.anchors_page(number, per_page)
    body = {
        "description": _("Anchors of the facility's audit trail: each is the chain's head (the last record's id "
                         "and HMAC-SHA256) and the number of records up to it, at one moment."),
        "algorithm": "HMAC-SHA256",
        "page": number, "per_page": per_page, "total": page.total,
        "next": url_for("audit.anchors", page=number + 1, _external=True) if page.has_next else None,
        "anchors": [_anchor_json(anchor) for anchor in page.items],
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={ANCHORS_CACHE_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- what the package adds to the rest of the app ---------------------------------------

def dashboard_panel(user: Any) -> dict[str, Any] | None:
    """The readers' dashboard panel: how long the trail is, its latest record, and where to look."""
    if policy.can_view_audit(user) is not None:
        return None
    return {"title": _("Audit trail"), "template": "audit/_panel.html", "summary": queries.trail_summary()}


def register(app: Flask) -> None:
    """Wire the audit trail into the app: the dashboard panel of fund managers, admins and auditors, and the
    words for actions and objects (`action_label`, `object_label` filters)."""
    register_dashboard_panel(app, dashboard_panel)
    app.jinja_env.filters["action_label"] = actions.action_label
    app.jinja_env.filters["object_label"] = actions.object_label
