"""The review package's dashboard panels: what waits for reviewers, city officials, fund managers and
applicants. Every figure comes from `review.progress` (one query each)."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from facility.accounts.models import Role
from facility.accounts.policy import is_fund_manager
from facility.cities.queries import city_of_official
from facility.core.dashboard import Waiting, WorkItem, work_item
from facility.review import progress, queries


def reviewer_panel(user: Any) -> dict[str, Any] | None:
    """A reviewer's rounds with deadline and progress (n of m submitted), and the assignments not begun."""
    if not user.has_role(Role.REVIEWER):
        return None
    done, total = queries.queue_progress(user)
    fresh = progress.assignments_not_started(user)
    href = url_for("review.review", assignment_id=fresh.first_id) if fresh.first_id else url_for("review.queue")
    items = [work_item(_("Assignments not begun: read, then review or declare a conflict"), fresh, href,
                       _("first due"))]
    return {"title": _("Your reviews"), "template": "review/_dashboard.html", "done": done, "total": total,
            "rounds": progress.reviewer_rounds(user), "items": items}


def city_panel(user: Any) -> dict[str, Any] | None:
    """A city official's challenges by stage, with proposals submitted and review progress."""
    if not user.has_role(Role.CITY_OFFICIAL):
        return None
    city = city_of_official(user)
    if city is None:
        return None
    return {"title": _("Your city's challenges"), "template": "review/_dashboard_city.html",
            "rows": progress.city_challenges(city.id)}


def _to_challenge(endpoint: str, figures: Waiting, fallback: str) -> str:
    return url_for(endpoint, challenge_id=figures.first_id) if figures.first_id else url_for(fallback)


def fund_manager_panel(user: Any) -> dict[str, Any] | None:
    """Panels short of reviewers, rounds closing, rankings ready and decisions to release; each count
    links to the challenge that has waited longest (or closes first)."""
    if not is_fund_manager(user):
        return None
    short, closing = progress.panels_short_of_reviewers(), progress.rounds_closing_soon()
    ready, pending = progress.rankings_ready(), progress.decisions_to_release()
    items: list[WorkItem] = [
        work_item(ngettext("Panels with fewer than %(n)d reviewer",
                           "Panels with fewer than %(n)d reviewers", progress.ENOUGH_REVIEWERS,
                           n=progress.ENOUGH_REVIEWERS), short,
                  _to_challenge("review.panel", short, "challenges.index"), _("first closes")),
        work_item(_("Review rounds closing within 7 days"), closing,
                  _to_challenge("review.panel", closing, "challenges.index"), _("first closes")),
        work_item(_("Rankings ready for decisions"), ready,
                  _to_challenge("review.ranking", ready, "challenges.index"), _("round closed")),
        work_item(_("Decisions to release"), pending,
                  _to_challenge("review.ranking", pending, "challenges.index")),
    ]
    return {"title": _("Reviews and decisions"), "template": "review/_dashboard_staff.html", "items": items}


def applicant_panel(user: Any) -> dict[str, Any] | None:
    """An innovator's proposals past draft and where each really stands (the released decision)."""
    if not user.has_role(Role.INNOVATOR) or user.organization_id is None:
        return None
    rows = progress.organization_standings(user.organization_id)
    if not rows:
        return None
    return {"title": _("Your submitted proposals"), "template": "review/_dashboard_applicant.html", "rows": rows}


PROVIDERS = (fund_manager_panel, city_panel, reviewer_panel, applicant_panel)
