"""Who may see a solution and who may start a replication challenge from one.

One `can_<action>` per action, asked alike by the pages, the API and the service (`solutions.replication`).
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.accounts.policy import has_role, role_refusal
from facility.challenges import policy as challenge_policy
from facility.challenges.models import Challenge
from facility.cities import policy as city_policy
from facility.cities.models import City
from facility.core.policy import Decision, conflict, hidden
from facility.grants.models import Grant


def can_view_solution(user: Any, grant: Grant, *, is_solution: bool) -> Decision:
    """Anyone sees a solution (its grant's public record); a grant that is not one is no solution (404)."""
    if not is_solution:
        return hidden(_("There is no such solution."))
    return None


def can_see_replication(user: Any, challenge: Challenge) -> Decision:
    """A replication is shown where its challenge may be seen: published and finished ones to everyone,
    drafts and pending ones to the city's officials, facility staff and auditors (`challenges.policy.can_view`)."""
    return challenge_policy.can_view(user, challenge)


def can_replicate(user: Any, grant: Grant, city: City | None, *, is_solution: bool) -> Decision:
    """Rule: a city official of a verified city (`cities.policy.can_draft_challenge`, the create-challenge
    permission) starts a replication of a solution piloted in another city."""
    if not has_role(user, Role.CITY_OFFICIAL):
        return role_refusal(user, _("Only city officials start replication challenges."))
    if city is None:
        return conflict(_("Create your city's profile first."))
    refusal = city_policy.can_draft_challenge(user, city)
    if refusal is not None:
        return refusal
    if not is_solution:
        return conflict(_("Only a solution (a grant whose milestones were all accepted) can be replicated."))
    if grant.challenge.city_id == city.id:
        return conflict(_("This solution was piloted in your city; a replication takes it to another city."))
    return None
