"""The page sign-in in two steps: the password, then (for people with a second factor) a code or a passkey.

Between the two steps the cookie session holds only `PENDING_KEY` (the user id, where to go next
and when the password was accepted); nobody is signed in until `finish_sign_in`. The pending
step expires after `PENDING_SECONDS`. TOTP (`accounts.views`) and passkeys (`accounts.passkeys`)
both end with `finish_sign_in(user, factor=...)`.
"""
from __future__ import annotations

import time

from flask import session
from flask_login import login_user

from facility.accounts import services
from facility.accounts.factors import note_factor_verified
from facility.accounts.models import User, UserSession, hash_token
from facility.extensions import db

PENDING_KEY = "signin_pending"
PENDING_SECONDS = 300


def begin_second_factor(user: User, next_url: str) -> None:
    """The password was right and the person has a second factor: remember them for the second step only."""
    session.clear()  # nothing from before (fixation) survives
    session[PENDING_KEY] = {"uid": user.id, "next": next_url, "at": int(time.time())}


def pending_user() -> User | None:
    """The person between the two steps, or None (none pending, expired, or the account was disabled)."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or int(pending.get("at", 0)) < time.time() - PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("uid"))
    return user if user is not None and user.active else None


def pending_next() -> str:
    pending = session.get(PENDING_KEY)
    return str(pending.get("next") or "/") if isinstance(pending, dict) else "/"


def sign_in(user: User, *, factor: str | None = None) -> UserSession:
    """Open the server-side session and sign the person in; `factor` ("totp", "recovery", "passkey") when a
    second factor was just proved, so the session starts fresh for step-up actions."""
    session.clear()
    token = services.start_session(user=user)
    login_user(user)
    session.permanent = True
    row = db.session.execute(
        db.select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).scalar_one()
    if factor is not None:
        note_factor_verified(user, session_row=row)
    return row


def current_session_row(user: User) -> UserSession | None:
    """The server-side session of this page request (the step-up page marks it fresh)."""
    token = getattr(user, "_session_token", None) or session.get("_user_id")
    if not token:
        return None
    return db.session.execute(
        db.select(UserSession).where(UserSession.token_hash == hash_token(str(token)))
    ).scalar_one_or_none()
