"""Time-based one-time codes (RFC 6238, pyotp): the secret at rest, codes accepted once, recovery codes.

Rules:
- The secret is stored encrypted (`core.crypto`, the payout-details key), never in the clear.
- A code is accepted at most once: the 30-second step of the last accepted code is kept, and a code
  for that step or an earlier one is refused (no replay within its window). One step of clock drift
  either way is allowed.
- Recovery codes are ten random codes shown once; only their digests are stored, and each works once.
"""
from __future__ import annotations

import hmac
import secrets
import time

import pyotp
import sqlalchemy as sa

from facility.accounts.models import RecoveryCode, User, hash_token
from facility.core import crypto
from facility.core.models import utcnow
from facility.extensions import db

ISSUER = "Urban Innovation Facility"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def store_secret(user: User, secret: str) -> None:
    """Keep `secret` (encrypted) as the user's pending or active TOTP secret; the last-step counter resets."""
    user.totp_secret_encrypted = crypto.encrypt_json({"totp": secret})
    user.totp_last_step = None


def secret_of(user: User) -> str | None:
    if not user.totp_secret_encrypted:
        return None
    return str(crypto.decrypt_json(user.totp_secret_encrypted)["totp"])


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _normalise(code: str | None) -> str:
    return "".join(str(code or "").split()).replace("-", "")


def verify_code(user: User, code: str | None, *, at: float | None = None) -> bool:
    """True when `code` is the user's current TOTP code and no code of its step was accepted before.

    On success the step is remembered (flushed with the caller's transaction), so the same code
    fails the second time."""
    secret = secret_of(user)
    code = _normalise(code)
    if secret is None or not (code.isascii() and code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed
            user.totp_last_step = step
            return True
    return False


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; the plain codes are returned once."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    for code in codes:
        db.session.add(RecoveryCode(user_id=user.id, code_hash=hash_token(_normalise(code))))
    db.session.flush()
    return codes


def use_recovery_code(user: User, code: str | None) -> bool:
    """True (and the code spent) when `code` is one of the user's unused recovery codes."""
    digest = hash_token(_normalise(code).lower())
    row = db.session.execute(
        sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == digest,
                                      RecoveryCode.used_at.is_(None)).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        return False
    row.used_at = utcnow()
    db.session.flush()
    return True
