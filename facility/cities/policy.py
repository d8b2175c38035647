"""Who may do what to a city profile, and when: one `can_<action>(user, city)` per action."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.accounts.policy import (
    fund_manager_refusal,
    has_role,
    is_admin,
    is_member_of,
    reads_everything,
    role_refusal,
)
from facility.cities.models import City
from facility.core.policy import Decision, conflict, hidden


def is_official(user: Any, city: City) -> bool:
    """A city official whose organisation is this city's."""
    return has_role(user, Role.CITY_OFFICIAL) and is_member_of(user, city.organization_id)


def can_view(user: Any, city: City) -> Decision:
    """Verified cities are public; unverified ones only to their officials, facility staff and auditors."""
    if city.is_verified or is_official(user, city) or reads_everything(user):
        return None
    return hidden(_("There is no such city."))


def can_create(user: Any) -> Decision:
    """A city official who belongs to no organisation yet creates their city's profile."""
    if not has_role(user, Role.CITY_OFFICIAL):
        return role_refusal(user, _("Only city officials create city profiles."))
    if user.organization_id is not None:
        return conflict(_("You already belong to an organisation; a city official represents one city."))
    return None


def can_edit(user: Any, city: City) -> Decision:
    """The city's officials and admins edit the profile (verified or not)."""
    if is_official(user, city) or is_admin(user):
        return None
    return role_refusal(user, _("Only the city's officials edit its profile."))


def can_verify(user: Any, city: City) -> Decision:
    """Fund managers verify a city, once."""
    if (refusal := fund_manager_refusal(user, _("Only fund managers verify cities."))) is not None:
        return refusal
    if city.is_verified:
        return conflict(_("This city is already verified."))
    return None


def can_draft_challenge(user: Any, city: City) -> Decision:
    """The city's officials draft challenges once the facility has verified the city."""
    if not is_official(user, city):
        return role_refusal(user, _("Only the city's officials draft its challenges."))
    if not city.is_verified:
        return conflict(_("The facility has not verified this city yet; challenges can be drafted once it has."))
    return None
