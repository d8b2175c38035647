"""Turning the TOTP second factor on and off, and checking a code: the services pages and the API share.

Rules:
- Starting enrolment asks the password again; it keeps a new (pending) secret and answers it once.
  A person who already has a second factor turns it off first (or keeps it): an active secret is never
  replaced silently.
- Enrolment is turned on (`users.mfa_enrolled_at`) only by a valid code from the pending secret; ten new
  recovery codes are answered once.
- New recovery codes and turning the factor off each ask a current code (or a recovery code);
  turning it off is refused to people whose role needs a second factor (`policy.needs_mfa`).
- A code is accepted once (`totp.verify_code`); a recovery code works once (`totp.use_recovery_code`).
Each change is audited; nothing here commits.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts import services, totp
from facility.accounts.models import RecoveryCode, User
from facility.accounts.policy import needs_mfa, other_factors
from facility.audit.services import record
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.extensions import db

TOTP = "totp"
RECOVERY = "recovery"


def wrong_code_message() -> str:
    return str(_("This code is wrong or was already used. Enter the current code from your app."))


def check_second_factor(user: User, code: str | None, *, allow_recovery: bool = True) -> str | None:
    """The factor `code` proves for an enrolled `user` ("totp" or "recovery"), else None.

    A TOTP code is accepted once; a recovery code is spent. The caller audits a failure where it keeps one."""
    if user.mfa_enrolled_at is not None:
        if user.totp_on and totp.verify_code(user, code):
            db.session.flush()
            return TOTP
        if allow_recovery and totp.use_recovery_code(user, code):
            record("user.recovery_code_used", actor=user, obj=user)
            return RECOVERY
    return None


def start_enrolment(*, user: User, password: str) -> str:
    """Rule: the password again, and no second factor yet. Keeps a new pending secret and returns it."""
    if not services.verify_password(user, password or ""):
        raise ValidationFailed(_("This is not your password."),
                               errors={"password": [_("This is not your password.")]})
    if user.totp_on:
        raise Conflict(_("Two-step sign-in is already on. Turn it off first to use another app."))
    secret = totp.new_secret()
    totp.store_secret(user, secret)
    record("user.mfa_enrolment_started", actor=user, obj=user)
    db.session.flush()
    return secret


def confirm_enrolment(*, user: User, code: str | None) -> list[str]:
    """Rule: a valid code from the pending secret turns two-step sign-in on; returns ten recovery codes."""
    if user.totp_on:
        raise Conflict(_("Two-step sign-in is already on."))
    if totp.secret_of(user) is None:
        raise Conflict(_("Start again: ask for a new secret first."))
    if not totp.verify_code(user, code):
        raise ValidationFailed(wrong_code_message(), errors={"otp": [wrong_code_message()]})
    user.totp_enabled_at = utcnow()
    user.mfa_enrolled_at = user.mfa_enrolled_at or user.totp_enabled_at  # a passkey may have come first
    codes = totp.new_recovery_codes(user)
    record("user.mfa_enabled", actor=user, obj=user, details={"factor": TOTP})
    db.session.flush()
    return codes


def regenerate_recovery_codes(*, user: User, code: str | None) -> list[str]:
    """Rule: a current code (or an unused recovery code) replaces the ten recovery codes."""
    if user.mfa_enrolled_at is None:
        raise Conflict(_("Turn two-step sign-in on first."))
    if check_second_factor(user, code) is None:
        raise ValidationFailed(wrong_code_message(), errors={"otp": [wrong_code_message()]})
    codes = totp.new_recovery_codes(user)
    record("user.mfa_recovery_codes_replaced", actor=user, obj=user)
    db.session.flush()
    return codes


def turn_off(*, user: User, code: str | None) -> None:
    """Rule: with a current code, the authenticator app is turned off, unless it is the last second factor of a
    person whose role needs one (`policy.other_factors`: a passkey may stay)."""
    others = other_factors(user, without_totp=True)
    if needs_mfa(user) and others == 0:
        raise PermissionDenied(_("Your role needs two-step sign-in: it cannot be turned off."))
    if not user.totp_on:
        raise Conflict(_("Two-step sign-in is already off."))
    if check_second_factor(user, code) is None:
        raise ValidationFailed(wrong_code_message(), errors={"otp": [wrong_code_message()]})
    user.totp_enabled_at = None
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    if others == 0:  # nothing is left: no second factor, and no recovery codes to use
        user.mfa_enrolled_at = None
        db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record("user.mfa_disabled", actor=user, obj=user)
    db.session.flush()
