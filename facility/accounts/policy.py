"""Who a user is, for every package's policy: the one place that decides "is a fund manager"."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import PasskeyCredential, Role
from facility.core.policy import Decision, conflict, forbidden, hidden
from facility.extensions import db


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


def is_auditor(user: Any) -> bool:
    """A signed-in auditor: reads everything, changes nothing (never staff, never a fund manager)."""
    return has_role(user, Role.AUDITOR)


def reads_everything(user: Any) -> bool:
    """Fund managers, admins and auditors: the people who may *read* every object.

    Read checks (`can_view_*`, `get_visible_*`, lists) ask this; write checks ask `is_staff` or
    `is_fund_manager`, which stay false for an auditor, so an auditor is refused every change."""
    return has_role(user, Role.FUND_MANAGER, Role.ADMIN, Role.AUDITOR)


def read_only_reason() -> str:
    """What an auditor is told when a change is refused."""
    return str(_("Auditors can read everything but change nothing."))


def role_refusal(user: Any, message: str) -> Decision:
    """A role refusal (403) whose reason tells an auditor why, and everyone else `message`."""
    return forbidden(read_only_reason() if is_auditor(user) else message)


def is_member_of(user: Any, organization_id: int | None) -> bool:
    """A signed-in member of the organisation `organization_id`."""
    return is_signed_in(user) and organization_id is not None and user.organization_id == organization_id


def require_fund_manager(user: Any) -> Decision:
    """Refused unless `user` is a fund manager: the role check that opens most staff policies."""
    return None if is_fund_manager(user) else role_refusal(user, _("Only fund managers may do this."))


def require_signed_in(user: Any) -> Decision:
    return None if is_signed_in(user) else forbidden(_("Please sign in first."))


# --- account actions ------------------------------------------------------------------------------

def can_edit_organization(user: Any, organization: Any) -> Decision:
    """Members edit their own organisation; admins edit any. Others may not know it exists."""
    if is_member_of(user, organization.id) or is_admin(user):
        return None
    return hidden(_("There is no such organisation."))


def can_edit_profile(user: Any, person: Any) -> Decision:
    """A person edits their own profile; admins edit anyone's."""
    if is_signed_in(user) and (user.id == person.id or is_admin(user)):
        return None
    return forbidden(_("You may only edit your own profile."))


def can_list_users(user: Any) -> Decision:
    """Admins list and search every account; auditors read the list (and change no role)."""
    return None if is_admin(user) or is_auditor(user) else forbidden(_("Only administrators see the list of users."))


def can_manage_roles(user: Any, person: Any) -> Decision:
    """Admins change anyone's roles (that they cannot drop their own admin role is `can_set_roles`)."""
    return None if is_admin(user) else role_refusal(user, _("Only administrators change roles."))


def can_set_roles(user: Any, person: Any, roles: set[Role]) -> Decision:
    """`can_manage_roles`, and an admin cannot remove their own administrator role (no lock-out)."""
    refusal = can_manage_roles(user, person)
    if refusal is not None:
        return refusal
    if user.id == person.id and Role.ADMIN not in roles:
        return conflict(_("You cannot remove your own administrator role."))
    return None


def can_revoke_token(user: Any, token: Any) -> Decision:
    """The token's owner or an admin revokes it; others may not know it exists."""
    if is_signed_in(user) and (user.id == token.user_id or is_admin(user)):
        return None
    return hidden(_("No such token."))


# --- passkeys (accounts.passkeys) -----------------------------------------------------------------

def can_manage_passkeys(user: Any, person: Any) -> Decision:
    """A person lists, adds and uses only their own passkeys (nobody, not even an admin, adds one for another)."""
    if is_signed_in(user) and user.id == person.id:
        return None
    return forbidden(_("You may only manage your own passkeys."))


def can_remove_passkey(user: Any, passkey: Any) -> Decision:
    """The owner removes their passkey (others may not know it exists); the last second factor of
    someone whose role needs one (`factors.needs_mfa`: fund managers, admins, auditors) stays."""
    if not is_signed_in(user) or user.id != passkey.user_id:
        return hidden(_("No such passkey."))
    # Same roles as factors.MFA_ROLES (factors imports this module, so it cannot be imported here).
    if has_role(user, Role.FUND_MANAGER, Role.ADMIN, Role.AUDITOR) and other_factors(user, passkey) == 0:
        return conflict(_("This is your last second factor and your role needs one: add another passkey or "
                          "an authenticator app first, then remove this one."))
    return None


def other_factors(person: Any, passkey: Any = None, *, without_totp: bool = False) -> int:
    """How many second factors `person` has besides `passkey` (or besides TOTP, `without_totp`): their
    passkeys, and TOTP when it is turned on. Turning TOTP off asks `other_factors(person, without_totp=True)`."""
    query = sa.select(sa.func.count()).select_from(PasskeyCredential).where(PasskeyCredential.user_id == person.id)
    if passkey is not None:
        query = query.where(PasskeyCredential.id != passkey.id)
    passkeys = int(db.session.scalar(query) or 0)
    totp_on = person.totp_secret_encrypted is not None and person.mfa_enrolled_at is not None
    return passkeys + (1 if totp_on and not without_totp else 0)
