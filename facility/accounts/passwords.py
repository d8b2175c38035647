"""Passwords: the strength rule every sign-up, reset and change asks, and hashing with argon2id.

Rules:
- `password_problems`: at least `MIN_PASSWORD_LENGTH` characters, not only spaces nor one character repeated,
  not one of the common passwords shipped with the project, not the e-mail address, and a zxcvbn score of at
  least `MIN_PASSWORD_SCORE` (its advice is shown).
- `verify_password` costs one argon2 verify whether or not the account exists (the unknown path checks a dummy
  hash made once), so the answer's time does not tell who has an account.
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from zxcvbn import zxcvbn

from facility.accounts.models import User

MIN_PASSWORD_LENGTH = 12
MIN_PASSWORD_SCORE = 3
"""zxcvbn's estimate (0 to 4) a password must reach: 3 is "safely unguessable: moderate protection from an
offline slow-hash scenario" (about 10^10 guesses)."""
_ESTIMATED_CHARS = 100  # zxcvbn's cost grows with the length; the first 100 characters decide
_COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """Why a password is refused (empty when it is acceptable).

    Rules: at least `MIN_PASSWORD_LENGTH` characters; not one character repeated (twelve spaces,
    `aaaaaaaaaaaa`); not on the common list; not the e-mail address; and hard enough to guess by
    zxcvbn's estimate (score >= `MIN_PASSWORD_SCORE`, knowing the e-mail address and name), whose
    warning and suggestions are shown.
    """
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(ngettext("Use at least %(n)d character.",
                                 "Use at least %(n)d characters.", MIN_PASSWORD_LENGTH, n=MIN_PASSWORD_LENGTH))
    lowered = password.lower()
    if password and not password.strip():
        problems.append(_("A password of spaces only is easy to guess; use words and other characters."))
    elif password and len(set(lowered)) == 1:
        problems.append(_("A password of one character repeated is easy to guess; choose another."))
    if lowered in common_passwords():
        problems.append(_("This password is one of the most common ones; choose another."))
    if email and lowered == email.lower():
        problems.append(_("The password must not be your e-mail address."))
    if not problems:
        problems.extend(_strength_problems(password, email=email, name=name))
    return problems


def _strength_problems(password: str, *, email: str, name: str) -> list[str]:
    """zxcvbn's verdict: too easy to guess, with its own warning and suggestions (in English: they are
    the estimator's words, not ours)."""
    hints = [hint for hint in (email, email.split("@")[0], name, *name.split()) if hint]
    estimate = zxcvbn(password[:_ESTIMATED_CHARS], user_inputs=hints)
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return []
    feedback = estimate.get("feedback") or {}
    problem = str(_("This password is too easy to guess; add more words or characters that are hard to guess."))
    details = [text for text in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])] if text]
    return [" ".join([problem, *details])]


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST"],
                          parallelism=config["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# Verified against when the e-mail is unknown, so both answers cost one argon2 verification: computed once
# per cost setting (the first unknown e-mail pays for it once, never again).
_DUMMY_HASH: dict[str, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = f"{hasher.time_cost}:{hasher.memory_cost}:{hasher.parallelism}"
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH[key]


def verify_password(user: User | None, password: str) -> bool:
    """Whether `password` is `user`'s. Rule: one argon2 verification whoever asks (no user, a disabled
    one, a wrong or a right password), so the time taken does not tell whether an account exists; a right
    password hashed with an old cost is hashed again."""
    hasher = _hasher()
    stored = user.password_hash if user is not None else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True
