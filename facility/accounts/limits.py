"""Rate limits on sign-in, sign-up and password reset, one counter across the pages and the API.

Rules (Flask-Limiter, counters in Redis; each limit is a *shared* limit, so the sign-in page and
`POST /api/v1/auth/tokens` count in the same bucket):
- Sign-in (`signin_limits`): per account *from one address* (`SIGNIN_LIMIT_PER_ACCOUNT`, 5 per 15 minutes),
  per address (`SIGNIN_LIMIT_PER_ADDRESS`) and per account from everywhere (`SIGNIN_LIMIT_PER_ACCOUNT_GLOBAL`,
  50 per hour, against guessing spread over many addresses). Only failed attempts count: a right password
  never uses up the allowance, and a stranger's wrong guesses from their address do not lock the owner out
  from theirs.
- Sign-up (`signup_limits`): per address (`SIGNUP_LIMIT_PER_ADDRESS`), every attempt counts.
- Password reset (`reset_limits`): per address and per target address (`RESET_LIMIT_PER_ADDRESS`,
  `RESET_LIMIT_PER_ACCOUNT`), every attempt counts, whether or not an account uses the address (the limit
  itself must not tell).
The client's address is the one the trusted proxies report (`TRUSTED_PROXIES`, `facility._trust_proxies`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from flask.wrappers import Response
from flask_login import current_user

from facility.accounts import signin_flow
from facility.accounts.services import normalise_email
from facility.extensions import client_address, limiter

View = TypeVar("View", bound=Callable[..., Any])


def _submitted_email() -> str:
    """The account an attempt is against: on the second sign-in step the pending person, on the step-up page the
    signed-in person (never a form field the caller could change), else the e-mail a form or JSON body names."""
    pending = signin_flow.pending_user()
    if pending is not None:
        return pending.email
    if current_user.is_authenticated:
        return str(current_user.email)
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return normalise_email(str(email or ""))


def _account_key() -> str:
    """Per account from one address: a stranger's failures are counted apart from the owner's."""
    return f"account:{_submitted_email()}|address:{client_address()}"


def _account_global_key() -> str:
    """Per account from every address (distributed guessing)."""
    return "account:" + _submitted_email()


def _config(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


def failed(response: Response) -> bool:
    """A sign-in attempt counts when it did not succeed (a refusal by the limit itself is not another attempt)."""
    return response.status_code >= 400 and response.status_code != 429


def signin_limits(view: View) -> View:
    """Sign-in attempts (password or second-factor code, page or API) are limited per account and
    address, per address and per account; only failures count (POST only)."""
    common: dict[str, Any] = {"methods": ["POST"], "deduct_when": failed}
    limited = limiter.shared_limit(_config("SIGNIN_LIMIT_PER_ACCOUNT"), scope="signin-account",
                                   key_func=_account_key, **common)(view)
    limited = limiter.shared_limit(_config("SIGNIN_LIMIT_PER_ACCOUNT_GLOBAL"), scope="signin-account-global",
                                   key_func=_account_global_key, **common)(limited)
    return limiter.shared_limit(_config("SIGNIN_LIMIT_PER_ADDRESS"), scope="signin-address",  # type: ignore[return-value]
                                **common)(limited)


def signup_limits(view: View) -> View:
    """Sign-ups (page or API) are limited per address; every attempt counts (POST only)."""
    return limiter.shared_limit(_config("SIGNUP_LIMIT_PER_ADDRESS"), scope="signup-address",  # type: ignore[return-value]
                                methods=["POST"])(view)


def reset_limits(view: View) -> View:
    """Password-reset requests are limited per address and per target e-mail address; every
    attempt counts, known address or not (POST only)."""
    limited = limiter.shared_limit(_config("RESET_LIMIT_PER_ACCOUNT"), scope="reset-account",
                                   key_func=_account_global_key, methods=["POST"])(view)
    return limiter.shared_limit(_config("RESET_LIMIT_PER_ADDRESS"), scope="reset-address",  # type: ignore[return-value]
                                methods=["POST"])(limited)
