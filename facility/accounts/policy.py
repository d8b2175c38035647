"""Who a user is, for every package's policy: the one place that decides "is a fund manager"."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_login import current_user

from facility.accounts.models import PasskeyCredential, Role, RoleRequestStatus
from facility.core.policy import Decision, conflict, first, forbidden, hidden
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


def _role_phrases() -> list[tuple[Role, str]]:
    # The most telling role first: a fund manager who also reviews is shown as a fund manager.
    return [(Role.FUND_MANAGER, _("a fund manager")), (Role.ADMIN, _("an administrator")),
            (Role.AUDITOR, _("an auditor")), (Role.REVIEWER, _("a reviewer")),
            (Role.CITY_OFFICIAL, _("a city official")), (Role.DONOR, _("a donor")),
            (Role.INNOVATOR, _("an innovator"))]


def role_phrase(person: Any) -> str:
    """What a person is, not who ("a fund manager"); "someone" for an account without a role."""
    for role, phrase in _role_phrases():
        if person is not None and person.has_role(role):
            return phrase
    return str(_("someone"))


def sees_people(viewer: Any) -> bool:
    """Whether `viewer` may see who (names, e-mails, ids) staff and reviewers are: fund managers,
    admins and auditors (the facility and its auditors); nobody outside the facility."""
    return reads_everything(viewer)


def shown_name(viewer: Any, person: Any) -> str:
    """Rule: the facility's people (staff, reviewers) are shown by name only to staff and auditors
    (`sees_people`); everyone else sees their role ("a fund manager", "a reviewer"), never a name,
    e-mail or id. Everyone sees their own name. None (the system acted) is "the facility"."""
    if person is None:
        return str(_("the facility"))
    if sees_people(viewer) or (is_signed_in(viewer) and getattr(viewer, "id", None) == person.id):
        return str(person.name or person.email)
    return role_phrase(person)


def shown_name_filter(person: Any) -> str:
    """`{{ person|shown_name }}` in templates: `shown_name` for the signed-in viewer (wired in create_app)."""
    return shown_name(current_user, person)


def read_only_reason() -> str:
    """What an auditor is told when a change is refused."""
    return str(_("Auditors can read everything but change nothing."))


def role_refusal(user: Any, message: str) -> Decision:
    """A role refusal (403) whose reason tells an auditor why, and everyone else `message`."""
    return forbidden(read_only_reason() if is_auditor(user) else message)


def is_member_of(user: Any, organization_id: int | None) -> bool:
    """A signed-in member of the organisation `organization_id`."""
    return is_signed_in(user) and organization_id is not None and user.organization_id == organization_id


# --- second factor: who must have one (accounts.factors re-exports these and adds step-up) ---------

MFA_ROLES = (Role.FUND_MANAGER, Role.ADMIN, Role.AUDITOR)


def needs_mfa(user: Any) -> bool:
    """Fund managers, admins and auditors must have a second factor."""
    return has_role(user, *MFA_ROLES)


def is_enrolled(user: Any) -> bool:
    """The person has turned a second factor on."""
    return is_signed_in(user) and getattr(user, "mfa_enrolled_at", None) is not None


def must_enrol(user: Any) -> bool:
    """A person who needs a second factor and has none yet: they may only enrol."""
    return needs_mfa(user) and not is_enrolled(user)


def mfa_refusal(user: Any) -> Decision:
    """Refused (403) while the person must enrol a second factor and has not."""
    if must_enrol(user):
        return forbidden(_("Your role needs a second factor: set up an authenticator app first "
                           "(Account, then Two-step sign-in)."))
    return None


def fund_manager_refusal(user: Any, message: str) -> Decision:
    """Refused unless `user` is a fund manager with a second factor (`message` says who may, to the wrong role):
    the check that opens every staff write policy, so services refuse an un-enrolled fund manager too."""
    if not is_fund_manager(user):
        return role_refusal(user, message)
    return mfa_refusal(user)


def require_fund_manager(user: Any) -> Decision:
    """`fund_manager_refusal` with the general message."""
    return fund_manager_refusal(user, _("Only fund managers may do this."))


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
    """Admins with a second factor change other people's roles (what they may change is `can_set_roles`)."""
    if not is_admin(user):
        return role_refusal(user, _("Only administrators change roles."))
    return mfa_refusal(user)


def can_set_roles(user: Any, person: Any, roles: set[Role] | None = None) -> Decision:
    """`can_manage_roles`, and nobody changes their own roles (separation of duties: an administrator cannot
    make themselves a fund manager, nor drop their own administrator role)."""
    refusal = can_manage_roles(user, person)
    if refusal is not None:
        return refusal
    if user.id == person.id:
        return forbidden(_("You cannot change your own roles; another administrator must."))
    return None


def can_view_role_requests(user: Any) -> Decision:
    """Admins see the role requests awaiting a second administrator; auditors read them."""
    return None if is_admin(user) or is_auditor(user) else forbidden(
        _("Only administrators see role requests."))


def _pending(role_request: Any) -> Decision:
    if role_request.status is not RoleRequestStatus.PENDING:
        return conflict(_("This role request was already decided or withdrawn."))
    return None


def can_decide_role_request(user: Any, role_request: Any) -> Decision:
    """Four eyes on staff roles: an administrator other than the requester, and other than the person who
    would get the roles, approves or rejects a pending role request."""
    def second_admin() -> Decision:
        if user.id == role_request.requested_by_id:
            return forbidden(_("You asked for this; a second administrator must decide it."))
        if user.id == role_request.person_id:
            return forbidden(_("You cannot decide a request for your own roles."))
        return None

    return first(lambda: can_manage_roles(user, role_request.person), second_admin, lambda: _pending(role_request))


def can_withdraw_role_request(user: Any, role_request: Any) -> Decision:
    """The administrator who asked withdraws their own pending role request."""
    def requester() -> Decision:
        if user.id != role_request.requested_by_id:
            return forbidden(_("Only the administrator who asked withdraws a role request."))
        return None

    return first(lambda: can_manage_roles(user, role_request.person), requester, lambda: _pending(role_request))


# --- personal approval limits (accounts.roles: ApprovalLimitRequest) -------------------------------

def can_view_limit_requests(user: Any) -> Decision:
    """Admins see the approval limit changes awaiting a second administrator; auditors read them."""
    return None if is_admin(user) or is_auditor(user) else forbidden(
        _("Only administrators see approval limit changes."))


def can_propose_limit(user: Any, person: Any) -> Decision:
    """An administrator with a second factor proposes a fund manager's new approval limit; nobody changes their
    own limit (a second administrator approves it: `can_decide_limit_request`)."""
    def other_fund_manager() -> Decision:
        if user.id == person.id:
            return forbidden(_("You cannot change your own approval limit; another administrator must."))
        if not person.has_role(Role.FUND_MANAGER):
            return conflict(_("Only fund managers have an approval limit."))
        return None

    def admin() -> Decision:
        if not is_admin(user):
            return role_refusal(user, _("Only administrators change approval limits."))
        return mfa_refusal(user)

    return first(admin, other_fund_manager)


def _limit_pending(limit_request: Any) -> Decision:
    if limit_request.status is not RoleRequestStatus.PENDING:
        return conflict(_("This approval limit change was already decided or withdrawn."))
    return None


def can_decide_limit_request(user: Any, limit_request: Any) -> Decision:
    """Four eyes on authority: an administrator other than the proposer, and other than the fund manager
    whose limit it is, approves or rejects a pending approval limit change."""
    def second_admin() -> Decision:
        if not is_admin(user):
            return role_refusal(user, _("Only administrators decide approval limit changes."))
        if user.id == limit_request.requested_by_id:
            return forbidden(_("You proposed this; a second administrator must decide it."))
        if user.id == limit_request.person_id:
            return forbidden(_("You cannot decide a change of your own approval limit."))
        return mfa_refusal(user)

    return first(second_admin, lambda: _limit_pending(limit_request))


def can_withdraw_limit_request(user: Any, limit_request: Any) -> Decision:
    """The administrator who proposed it withdraws their own pending approval limit change."""
    def proposer() -> Decision:
        if not is_admin(user):
            return role_refusal(user, _("Only administrators change approval limits."))
        if user.id != limit_request.requested_by_id:
            return forbidden(_("Only the administrator who proposed it withdraws an approval limit change."))
        return mfa_refusal(user)

    return first(proposer, lambda: _limit_pending(limit_request))


def can_deactivate(user: Any, person: Any) -> Decision:
    """Admins deactivate another person's account (which ends all their sessions and tokens); never their own."""
    def active_other() -> Decision:
        if user.id == person.id:
            return forbidden(_("You cannot deactivate your own account; another administrator must."))
        if not person.active:
            return conflict(_("This account is already deactivated."))
        return None

    return first(lambda: can_manage_roles(user, person), active_other)


def can_reactivate(user: Any, person: Any) -> Decision:
    """Admins reactivate another person's deactivated account."""
    def inactive_other() -> Decision:
        if user.id == person.id:
            return forbidden(_("You cannot reactivate your own account."))
        if person.active:
            return conflict(_("This account is active."))
        return None

    return first(lambda: can_manage_roles(user, person), inactive_other)


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
    totp_on = bool(getattr(person, "totp_on", False))
    return passkeys + (1 if totp_on and not without_totp else 0)
