"""Sign-in rate limits, shared by the sign-in page and the API's token endpoint."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

from facility.accounts.services import normalise_email
from facility.extensions import limiter

View = TypeVar("View", bound=Callable[..., Any])


def _account_key() -> str:
    """Rate-limit key per account: the e-mail being signed in to, from a form or JSON body."""
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return "account:" + normalise_email(str(email or ""))


def _per_account() -> str:
    return str(current_app.config["SIGNIN_LIMIT_PER_ACCOUNT"])


def _per_address() -> str:
    return str(current_app.config["SIGNIN_LIMIT_PER_ADDRESS"])


def signin_limits(view: View) -> View:
    """Sign-in attempts are limited per account and per address (POST only)."""
    limited = limiter.limit(_per_account, key_func=_account_key, methods=["POST"], scope="signin-account")(view)
    return limiter.limit(_per_address, methods=["POST"], scope="signin-address")(limited)  # type: ignore[return-value]
