"""The grants package's dashboard panels: a donor's contributions, a grantee's grants and what waits for
fund managers (awards to make and approve, reports to review, wires to confirm). Each figure is one query
(`grants.queries`)."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.core.dashboard import work_item
from facility.grants import policy, queries
from facility.grants.models import GrantStatus, TrancheStatus
from facility.ledger.balances import facility_totals


def donor_panel(user: Any) -> dict[str, Any] | None:
    """A donor's contributions by status, and what the facility has funded (the ledger's totals)."""
    if policy.can_pledge(user) is not None:
        return None
    return {"title": _("Your contributions"), "template": "grants/_panel_donor.html",
            "contributions": queries.recent_contributions(user), "by_status": queries.contributions_by_status(user),
            "totals": facility_totals(), "funded": queries.funded_since_counts()}


def _to_grant(figures: Any, fallback: str) -> str:
    return url_for("grants.grant", grant_id=figures.first_id) if figures.first_id else url_for(fallback)


def grantee_panel(user: Any) -> dict[str, Any] | None:
    """An innovator's grants: agreements to accept, payout details to give, milestones due, reports sent back."""
    rows = queries.grantee_grants(user)
    if not rows:
        return None
    org = user.organization_id
    items = [
        work_item(_("Grant agreements to accept"), (offered := queries.agreements_to_accept(org)),
                  _to_grant(offered, "grants.grants")),
        work_item(_("Payout details to give"), (payout := queries.payout_details_to_give(org)),
                  url_for("grants.payout", grant_id=payout.first_id) if payout.first_id else url_for("grants.grants")),
        work_item(_("Milestones to report"), (due := queries.milestones_due(org)), _to_grant(due, "grants.grants"),
                  _("next due")),
        work_item(_("Reports sent back to you"), (back := queries.reports_returned(org)),
                  _to_grant(back, "grants.grants")),
    ]
    grants = [{"grant": item, "next": next((t for t in item.tranches if t.status == TrancheStatus.PENDING), None)}
              for item in rows]
    return {"title": _("Your grants"), "template": "grants/_panel_grantee.html", "items": items, "grants": grants,
            "offered": GrantStatus.OFFERED}


def fund_manager_panel(user: Any) -> dict[str, Any] | None:
    """Awards to make, milestone reports to review and wires to confirm, each with the oldest waiting."""
    if policy.can_see_money_queues(user) is not None:
        return None
    awards = queries.awards_to_make()
    items = [
        work_item(_("Awards to make (recommended, no grant yet)"), awards,
                  url_for("grants.award", proposal_id=awards.first_id) if awards.first_id else url_for("grants.grants")),
        work_item(_("Milestone reports to review"), queries.reports_to_review(), url_for("grants.evidence_queue")),
        work_item(_("Wire transfers to confirm"), queries.wires_to_confirm(), url_for("grants.pending_wires")),
    ]
    if user.has_role(Role.FUND_MANAGER):  # auditors read the queues but approve nothing
        to_approve = queries.awards_to_approve(user)
        items.insert(1, work_item(_("Awards to approve"), to_approve, _to_grant(to_approve, "grants.grants")))
    return {"title": _("Awards, reports and money in"), "template": "grants/_panel_fund_manager.html", "items": items}
