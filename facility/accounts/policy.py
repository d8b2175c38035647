"""Who a user is, for every package's policy: the one place that decides "is a fund manager"."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import Role
from facility.core.policy import Decision, forbidden


def is_signed_in(user: Any) -> bool:
    """A real, signed-in user (not None, not Flask-Login's anonymous user)."""
    return bool(user is not None and getattr(user, "is_authenticated", False))


def has_role(user: Any, *roles: Role | str) -> bool:
    """A signed-in user holding one of `roles`."""
    return is_signed_in(user) and bool(user.has_role(*roles))


def is_fund_manager(user: Any) -> bool:
    """A signed-in fund manager: the facility's staff who approve, award and pay."""
    return has_role(user, Role.FUND_MANAGER)


def is_staff(user: Any) -> bool:
    """Fund managers and admins: the facility's people who see every object."""
    return has_role(user, Role.FUND_MANAGER, Role.ADMIN)


def is_admin(user: Any) -> bool:
    return has_role(user, Role.ADMIN)


def is_member_of(user: Any, organization_id: int | None) -> bool:
    """A signed-in member of the organisation `organization_id`."""
    return is_signed_in(user) and organization_id is not None and user.organization_id == organization_id


def require_fund_manager(user: Any) -> Decision:
    """Refused unless `user` is a fund manager: the role check that opens most staff policies."""
    return None if is_fund_manager(user) else forbidden(_("Only fund managers may do this."))


def require_signed_in(user: Any) -> Decision:
    return None if is_signed_in(user) else forbidden(_("Please sign in first."))
