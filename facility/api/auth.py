"""Bearer-token authentication for the API.

API requests never use the cookie session: the user comes only from the
`Authorization: Bearer` header, so a browser's cookies cannot be ridden
through the (CSRF-exempt) API.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request
from flask_login import current_user

from facility.accounts.models import Role, User
from facility.accounts.policy import read_only_reason
from facility.accounts.services import user_for_api_token
from facility.core.inputs import refuse_unstorable_text
from facility.extensions import login_manager

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
    if header[:7].lower() == "bearer ":
        user = user_for_api_token(header[7:].strip())
        g.api_bad_token = user is None
    g._login_user = user if user is not None else login_manager.anonymous_user()
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method != "OPTIONS" and not getattr(view, "public", False):
        require_user()
    refuse_unstorable_text()


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
