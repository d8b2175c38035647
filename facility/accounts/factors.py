"""Second factors: who must have one, and whether the current request proved one recently.

Rules (each package's policy asks these; nothing else decides them):
- `needs_mfa`: fund managers, admins and auditors must enrol a second factor (TOTP or a passkey);
  everyone else may.
- `mfa_refusal`: a person who must enrol and has not may only enrol: every other action is refused
  with a reason that says so (pages send them to the enrolment page; the API answers 403).
- `require_fresh_factor`: step-up actions (approving a payment whose tier needs several approvals,
  revealing bank details, changing roles) need a factor proved within `STEP_UP_SECONDS`
  (default 300) by the session or request doing them.

Where freshness comes from: a page request's server-side session (`UserSession.factor_verified_at`,
set at sign-in with a code and by the step-up page); an API request sending a valid code in the
`X-OTP` header. The request loaders put the time in `g.factor_verified_at`; `note_factor_verified`
is the one way to set it. Outside a request (a command on the server's shell) there is no one to ask,
and the operator's shell is trusted.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import gettext as _

from facility.accounts.models import UserSession
from facility.accounts.policy import MFA_ROLES, is_enrolled, mfa_refusal, must_enrol, needs_mfa  # decided in policy
from facility.core.errors import StepUpRequired
from facility.core.models import utcnow
from facility.core.policy import Decision, Refusal

__all__ = ["MFA_ROLES", "has_fresh_factor", "is_enrolled", "mfa_refusal", "must_enrol", "needs_mfa",
           "note_factor_verified", "note_session_factor", "require_fresh_factor", "step_up_seconds"]


def step_up_seconds() -> int:
    return int(current_app.config.get("STEP_UP_SECONDS", 300))


def has_fresh_factor(user: Any) -> bool:
    """This request proved a second factor of `user` within `STEP_UP_SECONDS` (always true outside a request)."""
    if not has_request_context():
        return True
    verified_at: datetime | None = g.get("factor_verified_at")
    if verified_at is None or g.get("factor_user_id") != getattr(user, "id", None):
        return False
    return verified_at >= utcnow() - timedelta(seconds=step_up_seconds())


def require_fresh_factor(user: Any) -> Decision:
    """Refused (403) unless a second factor was proved in the last few minutes (step-up)."""
    if has_fresh_factor(user):
        return None
    return Refusal(_("Confirm it is you: enter a fresh code from your authenticator app (or use your passkey), "
                     "then try again."), StepUpRequired)


def note_factor_verified(user: Any, *, session_row: UserSession | None = None) -> None:
    """Record that `user` has just proved a second factor: for this request, and for the session when given."""
    now = utcnow()
    if session_row is not None:
        session_row.factor_verified_at = now
    if has_request_context():
        g.factor_verified_at = now
        g.factor_user_id = getattr(user, "id", None)


def note_session_factor(user: Any, session_row: UserSession) -> None:
    """The session loader's half: a page request inherits its session's last proof."""
    if has_request_context() and session_row.factor_verified_at is not None:
        g.factor_verified_at = session_row.factor_verified_at
        g.factor_user_id = getattr(user, "id", None)
