"""Account rules: sign-up, sessions, API tokens (role changes are `accounts.roles`).

Services flush but never commit; the view, job or command that calls them
commits once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

import pycountry
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from facility.accounts import policy
from facility.accounts.factors import MFA_ROLES, note_session_factor
from facility.accounts.models import (
    SELF_SIGNUP_ROLES,
    ApiToken,
    Organization,
    OrgKind,
    OrgType,
    Role,
    User,
    UserSession,
    hash_token,
)
from facility.accounts.orgids import normalise_org_identifier, org_identifier_problem
from facility.accounts.passwords import (  # noqa: F401 (re-exported: the accounts API of passwords)
    MIN_PASSWORD_LENGTH,
    common_passwords,
    hash_password,
    password_problems,
    verify_password,
)
from facility.audit.services import record
from facility.core.errors import NotFound, ValidationFailed
from facility.core.inputs import NAME_CHARS, REASON_CHARS, clean_text
from facility.core.labels import label
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.queue import job

EMAIL_CHARS = 320
"""The longest e-mail address (RFC 3696 with its errata): the form, the API schema and the services agree."""
WEBSITE_CHARS = 300
TOKEN_NAME_CHARS = 100


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def email_problem(email: str | None) -> str | None:
    """Why `email` is not an e-mail address we accept, or None: the one rule for the sign-up page,
    the API and the command line.

    The syntax is checked (email-validator); whether the domain receives mail is not (no DNS
    look-up), and the names reserved for testing (`.test`) are accepted like any other domain,
    as the API and the CLI always did. Other special-use names (`localhost`, `.local`,
    `.invalid`) are refused: no mail reaches them.
    """
    address = normalise_email(email or "")
    if not address:
        return str(_("Enter a valid e-mail address."))
    if len(address) > EMAIL_CHARS:
        return str(_("At most %(n)s characters; this has %(got)s.", n=EMAIL_CHARS, got=len(address)))
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return str(_("Enter a valid e-mail address."))
    return None


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def _check_country(code: str | None) -> str | None:
    if not code:
        return None
    country = pycountry.countries.get(alpha_3=code.upper())
    return country.alpha_3 if country else None


@dataclass
class _SignUp:
    """What a sign-up would write, once `_check_signup` found nothing wrong."""

    email: str
    name: str
    role: Role | None
    organization: Organization | None


def _check_signup(errors: dict[str, list[str]], *, email: str, password: str, name: str, role: str,
                  organization: dict[str, Any] | None, actor: User | None) -> _SignUp:
    """Every rule of a sign-up, each problem collected into `errors` (all fields at once); the
    organisation is built (not added) only when nothing is wrong."""
    email = normalise_email(email)
    name = _collect(errors, name, "name", limit=NAME_CHARS)
    try:
        role_value: Role | None = Role(role)
    except ValueError:
        role_value = None
        errors.setdefault("role", []).append(_("Unknown role."))
    admin_acting = actor is not None and actor.has_role(Role.ADMIN)
    if role_value is not None and role_value not in SELF_SIGNUP_ROLES and not admin_acting:
        errors.setdefault("role", []).append(
            _("You cannot sign yourself up as %(role)s; the facility grants that role.", role=label(role_value))
        )
    problem = email_problem(email)
    if problem is not None:
        errors.setdefault("email", []).append(problem)
    elif find_user_by_email(email) is not None:
        errors.setdefault("email", []).append(_("An account with this e-mail address already exists."))
    if not name and "name" not in errors:
        errors.setdefault("name", []).append(_("Enter your name."))
    problems = password_problems(password or "", email=email)
    if problems:
        errors["password"] = problems

    org = None
    if role_value == Role.INNOVATOR and not organization:
        errors.setdefault("organization", []).append(_("An innovator registers an organisation."))
    if organization and role_value in (Role.INNOVATOR, Role.DONOR):
        org_name = _collect(errors, organization.get("name"), "organization.name", limit=NAME_CHARS)
        country = _check_country(organization.get("country"))
        org_type = organization.get("org_type")
        if not org_name and "organization.name" not in errors:
            errors.setdefault("organization.name", []).append(_("Enter the organisation's name."))
        if country is None:
            errors.setdefault("organization.country", []).append(
                _("Choose a country (its three-letter code, like UGA for Uganda)."))
        kind = OrgKind.INNOVATOR if role_value == Role.INNOVATOR else OrgKind.DONOR
        if kind == OrgKind.INNOVATOR:
            try:
                org_type = OrgType(org_type)
            except ValueError:
                errors.setdefault("organization.org_type", []).append(_("Choose the type of organisation."))
        else:
            org_type = None
        if not errors:
            org = Organization(name=org_name, kind=kind, org_type=org_type, country=country)
    return _SignUp(email=email, name=name, role=role_value, organization=org)


def signup_problems(*, email: str, password: str, name: str, role: str,
                    organization: dict[str, Any] | None = None, actor: User | None = None) -> dict[str, list[str]]:
    """Every reason `register_user` would refuse these values (field -> messages; empty when none);
    writes nothing. For a page or API whose own checks failed: the person sees every problem at once."""
    errors: dict[str, list[str]] = {}
    _check_signup(errors, email=email, password=password, name=name, role=role, organization=organization,
                  actor=actor)
    return errors


def register_user(
    *,
    email: str,
    password: str,
    name: str,
    role: str,
    organization: dict[str, Any] | None = None,
    actor: User | None = None,
) -> User:
    """Create an account. Self sign-up only as innovator, city official or donor.

    An innovator brings an organisation (`name`, `country` ISO alpha-3,
    `org_type`); a donor may bring one. Every problem is reported at once.
    """
    errors: dict[str, list[str]] = {}
    signup = _check_signup(errors, email=email, password=password, name=name, role=role,
                           organization=organization, actor=actor)
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)

    assert signup.role is not None  # an unknown role was refused above
    if signup.organization is not None:
        db.session.add(signup.organization)
    user = User(email=signup.email, name=signup.name, password_hash=hash_password(password),
                organization=signup.organization)
    user.add_role(signup.role)
    db.session.add(user)
    db.session.flush()
    record("user.signed_up", actor=actor or user, obj=user, details={"role": signup.role.value})
    return user


def create_user(*, email: str, password: str, name: str, roles: list[str], actor: User | None = None) -> User:
    """Create an account with any roles (commands and admins). The password rules still apply."""
    email = normalise_email(email)
    errors: dict[str, list[str]] = {}
    problem = email_problem(email)
    if problem is not None:
        errors["email"] = [problem]
    elif find_user_by_email(email) is not None:
        errors["email"] = [_("An account with this e-mail address already exists.")]
    problems = password_problems(password, email=email)
    if problems:
        errors["password"] = problems
    bad_roles = [r for r in roles if r not in {role.value for role in Role}]
    if bad_roles:
        errors["role"] = [_("Unknown role: %(r)s", r=", ".join(bad_roles))]
    name = _collect(errors, name, "name", limit=NAME_CHARS)
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    user = User(email=email, name=name or email.split("@")[0], password_hash=hash_password(password))
    for role in roles:
        user.add_role(role)
    db.session.add(user)
    db.session.flush()
    record("user.created", actor=actor, obj=user, details={"roles": sorted(roles)})
    return user


def authenticate(*, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None. Rule: the same work whatever the reason
    (unknown e-mail, disabled account, wrong password): one look-up, one argon2 verification
    (`verify_password`), one audit record; the look-up loads no related rows (a known account's roles
    would cost one more query), they load when used."""
    user = db.session.execute(
        sa.select(User).where(User.email == normalise_email(email)).options(sa.orm.lazyload("*"))
    ).scalar_one_or_none()
    right = verify_password(user, password or "")
    if not right or user is None or not user.active:
        record("user.sign_in_failed", actor=None, object_type="User", object_id=user.id if user else "",
               details={"email": normalise_email(email)[:320]})
        return None
    return user


def start_session(*, user: User) -> str:
    """Open a server-side session for `user` and return its token (kept in the cookie session)."""
    token = secrets.token_urlsafe(32)
    ip = (request.remote_addr or "") if has_request_context() else ""
    agent = (request.user_agent.string or "")[:300] if has_request_context() else ""
    db.session.add(UserSession(user_id=user.id, token_hash=hash_token(token), ip_address=ip, user_agent=agent))
    user.last_sign_in_at = utcnow()
    user._session_token = token  # type: ignore[misc]  # per instance: this sign-in's token
    record("user.signed_in", actor=user, obj=user)
    db.session.flush()
    return token


SESSION_TOUCH = timedelta(minutes=1)
"""`UserSession.last_seen_at` is written at most this often (not on every request)."""


def session_expiry(row: UserSession, now: datetime | None = None) -> datetime:
    """When the session `row` ends unless it is used again. Rule: `SESSION_IDLE_MINUTES_MONEY_ROLES` after it
    was last seen for fund managers, admins and auditors, `SESSION_IDLE_MINUTES` for everyone else, and never
    later than `SESSION_ABSOLUTE_HOURS` after sign-in."""
    config = current_app.config
    money_role = row.user.has_role(*MFA_ROLES)
    idle = timedelta(minutes=config["SESSION_IDLE_MINUTES_MONEY_ROLES" if money_role else "SESSION_IDLE_MINUTES"])
    absolute = row.created_at + timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])
    return min(row.last_seen_at + idle, absolute)


def load_session_user(token: str) -> User | None:
    """The user of a live session token, or None when it was ended, expired or its user disabled.

    Rules: an expired session (`session_expiry`: idle or absolute timeout) is deleted; a live one has its
    `last_seen_at` moved on at most once a `SESSION_TOUCH`. This is the request's session loader, not an
    action: when the look-up began the request's transaction, the touch (or the deletion) is its only change
    and is committed here, so that reading pages keeps a session alive; otherwise the request's own commit
    carries it.
    """
    own_transaction = not db.session().in_transaction()
    row = db.session.execute(
        sa.select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is None:
        return None
    now = utcnow()
    if not row.user.active or session_expiry(row) <= now:
        db.session.delete(row)
        if own_transaction:
            db.session.commit()
        return None
    user = row.user
    if row.last_seen_at <= now - SESSION_TOUCH:
        row.last_seen_at = now
        if own_transaction:
            db.session.commit()
    user._session_token = token  # type: ignore[misc]  # per instance: this request's token
    note_session_factor(user, row)
    return user


def end_session(*, user: User, token: str | None) -> None:
    """Sign out: the session row is deleted, so the old cookie is worthless even if replayed."""
    if token:
        db.session.execute(sa.delete(UserSession).where(UserSession.token_hash == hash_token(token)))
    record("user.signed_out", actor=user, obj=user)


def end_all_sessions(*, user: User, actor: User | None = None) -> None:
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))
    db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    record("user.sessions_ended", actor=actor or user, obj=user)


def issue_api_token(*, user: User, name: str = "", days: int | None = 90) -> tuple[ApiToken, str]:
    """A new API token; the plain value is returned once and only its digest is stored."""
    plain = "ufi_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=clean_text(name, "name", limit=TOKEN_NAME_CHARS),
        token_hash=hash_token(plain),
        prefix=plain[:12],
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    db.session.add(token)
    db.session.flush()
    record("api_token.issued", actor=user, obj=token)
    return token, plain


def user_for_api_token(plain: str) -> User | None:
    token = db.session.execute(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(plain))
    ).scalar_one_or_none()
    if token is None or not token.is_usable or not token.user.active:
        return None
    now = utcnow()
    # Touch at most once a minute: a read request should not write on every call.
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def revoke_api_token(*, token_id: int, actor: User) -> ApiToken:
    """Rule `policy.can_revoke_token`: the owner or an admin; others get 404, as if it did not exist."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(_("No such token."))
    require(policy.can_revoke_token(actor, token))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("api_token.revoked", actor=actor, obj=token)
    return token


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def password_reset_token(user: User) -> str:
    # The hash fragment makes the link single-use: it stops matching once the password changes.
    return _reset_serializer().dumps({"uid": user.id, "ph": user.password_hash[-16:]})


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except (BadSignature, SignatureExpired):
        return None
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.active or user.password_hash[-16:] != data.get("ph"):
        return None
    return user


def request_password_reset(*, email: str) -> None:
    """Ask for a reset link to `email`. Rule: the request does the same work whether or not an account
    uses the address (it only queues `send_password_reset`, after the commit), so neither the answer nor
    its time tells; the job e-mails the link when an active account has that address."""
    send_password_reset.delay(normalise_email(email)[:EMAIL_CHARS])


@job("emails")
def send_password_reset(email: str) -> None:
    """The job behind `request_password_reset`: e-mail a reset link to the active account using `email`,
    if there is one (and record it); nothing otherwise."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    notify([user], "accounts/password_reset", token=password_reset_token(user))
    record("user.password_reset_requested", actor=user, obj=user)
    db.session.commit()


def change_password(*, user: User, new_password: str, actor: User | None = None) -> None:
    """Set a new password (rules apply) and end every session and API token of the user."""
    problems = password_problems(new_password, email=user.email)
    if problems:
        raise ValidationFailed(_("Choose another password."), errors={"password": problems})
    user.password_hash = hash_password(new_password)
    end_all_sessions(user=user, actor=actor or user)
    record("user.password_changed", actor=actor or user, obj=user)


def update_profile(*, user: User, actor: User, name: str, locale: str | None, timezone_name: str) -> User:
    """Rule `policy.can_edit_profile`: a person edits their own profile (admins may edit anyone's)."""
    require(policy.can_edit_profile(actor, user))
    errors: dict[str, list[str]] = {}
    name = _collect(errors, name, "name", limit=NAME_CHARS)
    if not name and "name" not in errors:
        errors["name"] = [_("Enter your name.")]
    if locale and locale not in current_app.config["LANGUAGES"]:
        errors["locale"] = [_("Choose one of the offered languages.")]
    if timezone_name not in available_timezones() and timezone_name != "UTC":
        errors["timezone"] = [_("Choose a time zone from the list.")]
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    user.name = name
    user.locale = locale or None
    user.timezone = timezone_name
    return user


def set_reminder_preference(*, user: User, actor: User, optional_reminders: bool) -> User:
    """Rule `policy.can_edit_profile`: a person turns their optional reminders on or off (admins may for anyone);
    the essential ones always go out (`core.reminders.KINDS` says which are which)."""
    require(policy.can_edit_profile(actor, user))
    if not isinstance(optional_reminders, bool):
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"optional_reminders": [_("Choose on or off.")]})
    user.optional_reminders = optional_reminders
    return user


def _collect(errors: dict[str, list[str]], value: Any, field: str, *, limit: int, multiline: bool = False) -> str:
    """`core.inputs.clean_text`, its refusal collected into `errors` (every field is reported at once)."""
    try:
        return clean_text(value, field, limit=limit, multiline=multiline)
    except ValidationFailed as error:
        errors.setdefault(field, []).extend(error.errors[field])
        return ""


def update_organization(*, organization: Organization, actor: User, name: str, website: str | None,
                        description: str | None, org_identifier: str | None = None) -> Organization:
    """Rule `policy.can_edit_organization`: members edit their own organisation, admins any; an
    organisation identifier, when given, is an org-id (`orgids.org_identifier_problem`)."""
    require(policy.can_edit_organization(actor, organization))
    errors: dict[str, list[str]] = {}
    clean_name = _collect(errors, name, "name", limit=NAME_CHARS)
    if not clean_name and "name" not in errors:
        errors["name"] = [_("Enter the organisation's name.")]
    clean_website = _collect(errors, website, "website", limit=WEBSITE_CHARS)
    clean_description = _collect(errors, description, "description", limit=REASON_CHARS, multiline=True)
    clean_identifier = normalise_org_identifier(org_identifier)
    if (problem := org_identifier_problem(clean_identifier)) is not None:
        errors["org_identifier"] = [problem]
    if errors:
        raise ValidationFailed(_("Some fields need your attention."), errors=errors)
    organization.name = clean_name
    organization.website = clean_website or None
    organization.description = clean_description
    organization.org_identifier = clean_identifier or None
    record("organization.updated", actor=actor, obj=organization)
    return organization
