"""Bearer-token authentication for the API.

API requests never use the cookie session: the user comes only from the
`Authorization: Bearer` header, so a browser's cookies cannot be ridden
through the (CSRF-exempt) API.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app, g, request
from flask_login import current_user

from facility.accounts import totp
from facility.accounts.factors import note_factor_verified
from facility.accounts.models import ApiToken, Role, User, hash_token
from facility.accounts.policy import must_enrol, read_only_reason
from facility.accounts.services import user_for_api_token
from facility.core.inputs import refuse_unstorable_text
from facility.extensions import db, login_manager

# What an enrol-only token (or a person who must enrol) may still call.
ENROLMENT_ENDPOINTS = frozenset({"api_accounts.me", "api_accounts.start_totp", "api_accounts.confirm_totp"})

View = TypeVar("View", bound=Callable)


class ApiError(Exception):
    """Raised inside API handlers; answered as problem JSON."""

    def __init__(self, status: int, detail: str, errors: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors


def public(view: View) -> View:
    """Marks an API endpoint that anonymous callers may use; every other one needs a bearer token.

    Put it right under `@blp.route(...)`, above `@blp.arguments`, so that it marks the view
    Flask calls.
    """
    from flask_smorest import Blueprint

    view = Blueprint.doc(security=[])(view)  # the OpenAPI document: no token needed here
    view.public = True  # type: ignore[attr-defined]
    return view


def load_bearer_user() -> None:
    """before_request for API blueprints: set Flask-Login's user from the bearer token.

    Then, before the body or query is parsed: 401 for an anonymous caller of an endpoint that is
    not `@public`, and 422 for text the database cannot store (NUL characters).
    """
    header = request.headers.get("Authorization", "")
    user = None
    enrol_only = False
    if header[:7].lower() == "bearer ":
        plain = header[7:].strip()
        user = user_for_api_token(plain)
        g.api_bad_token = user is None
        enrol_only = user is not None and _is_enrol_only(plain)
    g._login_user = user if user is not None else login_manager.anonymous_user()
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method != "OPTIONS" and not getattr(view, "public", False):
        require_user()
    if user is not None:
        _enrolment_gate(user, enrol_only)
        _step_up_from_header(user)
    refuse_unstorable_text()


def _is_enrol_only(plain: str) -> bool:
    return bool(db.session.execute(
        sa.select(ApiToken.enrol_only).where(ApiToken.token_hash == hash_token(plain))).scalar())


def _enrolment_gate(user: User, enrol_only: bool) -> None:
    """Rule: a token issued before enrolment, or a person who must enrol, may only enrol (and read /me)."""
    if (enrol_only or must_enrol(user)) and request.endpoint not in ENROLMENT_ENDPOINTS and request.method != "OPTIONS":
        raise ApiError(403, "Enrol a second factor first: POST /api/v1/me/mfa/totp with your password, then "
                            "POST /api/v1/me/mfa/totp/confirm with a code; then ask for a new token with the code.")


def _step_up_from_header(user: User) -> None:
    """Rule: a valid `X-OTP` code proves a fresh second factor for this request; an invalid one is refused (403).

    The accepted code's step is committed at once, so it cannot be replayed even if the request then fails."""
    code = request.headers.get("X-OTP")
    if code is None:
        return
    if not totp.verify_code(user, code[:64]):
        raise ApiError(403, "The X-OTP code is wrong or was already used; send the current code from your app.")
    db.session.commit()
    note_factor_verified(user)


def require_user() -> User:
    if not current_user.is_authenticated:
        if g.get("api_bad_token"):
            raise ApiError(401, "The bearer token is invalid, expired or revoked.")
        raise ApiError(401, "Send 'Authorization: Bearer TOKEN'; get a token from POST /api/v1/auth/tokens.")
    return current_user._get_current_object()


def require_role(*roles: Role | str) -> User:
    user = require_user()
    if not user.has_role(*roles):
        names = ", ".join(Role(r).value for r in roles)
        if user.has_role(Role.AUDITOR):
            raise ApiError(403, f"{read_only_reason()} This needs the role {names}.")
        raise ApiError(403, f"This needs the role {names}.")
    return user
