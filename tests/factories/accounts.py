"""Organisations and users."""
from __future__ import annotations

import itertools
import time

import pyotp
import sqlalchemy as sa

from facility.accounts import totp
from facility.accounts.models import Organization, OrgKind, OrgType, User, UserSession
from facility.accounts.policy import MFA_ROLES
from facility.accounts.services import hash_password
from facility.core.models import utcnow
from facility.extensions import db
from tests.factories import PASSWORD

# Every enrolled test user's TOTP secret (base32): `fresh_code(user)` gives a code that is accepted now.
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

_numbers = itertools.count(1)


def reset_numbers() -> None:
    """Number users from 1 again (the root conftest does this before each test)."""
    global _numbers
    _numbers = itertools.count(1)


def make_org(name: str = "Test Org", kind: OrgKind = OrgKind.INNOVATOR, org_type: OrgType | None = OrgType.STARTUP,
             country: str = "KEN") -> Organization:
    org = Organization(name=name, kind=kind, org_type=org_type if kind == OrgKind.INNOVATOR else None,
                       country=country)
    db.session.add(org)
    db.session.commit()
    return org


def make_user(*roles: str, email: str | None = None, name: str | None = None,
              organization: Organization | None = None, password: str = PASSWORD,
              enrolled: bool | None = None) -> User:
    """A user with `roles` (default: innovator), numbered per test: user1-innovator@example.org.

    Fund managers, admins and auditors have two-step sign-in on (`TEST_TOTP_SECRET`) unless
    `enrolled=False`; `enrolled=True` turns it on for anyone."""
    n = next(_numbers)
    roles = roles or ("innovator",)
    user = User(
        email=email or f"user{n}-{roles[0]}@example.org",
        name=name or f"Test {roles[0]} {n}",
        password_hash=hash_password(password),
        organization=organization,
    )
    for role in roles:
        user.add_role(role)
    if enrolled is None:
        enrolled = any(role in {r.value for r in MFA_ROLES} for role in roles)
    if enrolled:
        enrol(user)
    db.session.add(user)
    db.session.commit()
    return user


def enrol(user: User, secret: str = TEST_TOTP_SECRET) -> None:
    """Two-step sign-in on for `user` with `secret` (no recovery codes; tests that need them make them)."""
    totp.store_secret(user, secret)
    user.mfa_enrolled_at = user.totp_enabled_at = utcnow()


def fresh_code(user_or_email: User | str) -> str:
    """The TOTP code the user's app shows now, made acceptable: if a code of this 30-second step was already
    used (tests sign in faster than people), the replay guard is reset directly in the database (test-only)."""
    email = getattr(user_or_email, "email", user_or_email)
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
    db.session.refresh(user)
    secret = totp.secret_of(user)
    assert secret is not None, f"{email} has no second factor"
    step = int(time.time() // totp.STEP_SECONDS)
    if user.totp_last_step is not None and user.totp_last_step >= step - totp.DRIFT_STEPS:
        db.session.execute(sa.update(User).where(User.id == user.id).values(totp_last_step=None))
        db.session.commit()
    return pyotp.TOTP(secret).at(step * totp.STEP_SECONDS)


def prove_factor(user: User) -> None:
    """Every open session of `user` proved a second factor just now (the step-up page's effect, for tests)."""
    db.session.execute(db.update(UserSession).where(UserSession.user_id == user.id).values(factor_verified_at=utcnow()))
    db.session.commit()


def stale_factor(user: User) -> None:
    """Every open session of `user` proved its second factor too long ago for a step-up action (its sign-in code
    counts as fresh for `STEP_UP_SECONDS`)."""
    db.session.execute(db.update(UserSession).where(UserSession.user_id == user.id).values(factor_verified_at=None))
    db.session.commit()

