"""Organisations and users."""
from __future__ import annotations

import itertools

from facility.accounts.models import Organization, OrgKind, OrgType, User, UserSession
from facility.accounts.services import hash_password
from facility.core.models import utcnow
from facility.extensions import db
from tests.factories import PASSWORD

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
              organization: Organization | None = None, password: str = PASSWORD) -> User:
    """A user with `roles` (default: innovator), numbered per test: user1-innovator@example.org."""
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
    db.session.add(user)
    db.session.commit()
    return user


def prove_factor(user: User) -> None:
    """Every open session of `user` proved a second factor just now (the step-up page's effect, for tests)."""
    db.session.execute(db.update(UserSession).where(UserSession.user_id == user.id).values(factor_verified_at=utcnow()))
    db.session.commit()
