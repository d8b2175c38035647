"""Demo users and organisations for every role."""
from __future__ import annotations

from typing import Any

import pyotp
import sqlalchemy as sa

from facility.accounts import totp
from facility.accounts.models import Organization, OrgKind, OrgType, Role, User
from facility.accounts.policy import MFA_ROLES
from facility.accounts.services import hash_password
from facility.core.models import utcnow
from facility.extensions import db

# The demo's staff (fund managers, admin, auditor) have two-step sign-in on with this published secret:
# add it to an authenticator app, or print the current code with `flask --app wsgi facility demo-otp EMAIL`.
# A demo only: a real deployment's people enrol with their own secrets.
DEMO_TOTP_SECRET = "DEMOFACILITYSEEDDEMOFACILITYSEED"  # noqa: S105 - published on purpose (demo only)

# email, label, roles, organisation key
DEMO_USERS = [
    ("admin@demo.facility", "Administrator", [Role.ADMIN], "facility"),
    ("fund.manager@demo.facility", "Fund manager", [Role.FUND_MANAGER], "facility"),
    ("fund.manager2@demo.facility", "Second fund manager", [Role.FUND_MANAGER], "facility"),
    # Confirms manual-rail payments: neither their requester nor an approver (separation of duties).
    ("finance@demo.facility", "Finance officer", [Role.FUND_MANAGER], "facility"),
    ("official@kampala.demo", "City official (Kampala)", [Role.CITY_OFFICIAL], None),
    ("official@suva.demo", "City official (Suva)", [Role.CITY_OFFICIAL], None),
    ("official@lyon.demo", "City official (Lyon)", [Role.CITY_OFFICIAL], None),
    ("founder@solarkiosk.demo", "Innovator (start-up)", [Role.INNOVATOR], "solarkiosk"),
    ("lead@waterwatch.demo", "Innovator (community org.)", [Role.INNOVATOR], "waterwatch"),
    ("reviewer1@demo.facility", "Reviewer", [Role.REVIEWER], None),
    ("reviewer2@demo.facility", "Reviewer", [Role.REVIEWER], None),
    ("reviewer3@demo.facility", "Reviewer", [Role.REVIEWER], None),
    ("donor@foundation.demo", "Donor", [Role.DONOR], "foundation"),
    ("auditor@demo.facility", "Auditor", [Role.AUDITOR], None),  # reads everything, changes nothing
]

# The fund managers' personal approval limits (accounts.authority; in cents): the first holds a senior limit
# (USD 5,000,000, so the top tier's senior approval), the second the default (USD 500,000), the finance officer
# USD 100,000.
DEMO_APPROVAL_LIMITS = {
    "fund.manager@demo.facility": 500_000_000,
    "fund.manager2@demo.facility": None,
    "finance@demo.facility": 10_000_000,
}

DEMO_ORGS: dict[str, dict[str, Any]] = {
    "facility": dict(name="Urban Innovation Facility", kind=OrgKind.FACILITY, country=None),
    "solarkiosk": dict(name="SolarKiosk Labs", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="KEN",
                       org_identifier="KE-RCO-PVT-DEMO1234"),  # published as its org-id in the open data
    "waterwatch": dict(name="WaterWatch Collective", kind=OrgKind.INNOVATOR,
                       org_type=OrgType.COMMUNITY_ORGANIZATION, country="BGD"),
    "foundation": dict(name="Open Cities Foundation", kind=OrgKind.DONOR, country="NOR"),
}


def demo_users_exist() -> bool:
    return db.session.execute(sa.select(User.id).where(User.email == DEMO_USERS[0][0])).first() is not None


def seed(state: dict) -> None:
    password_hash = hash_password(state["password"])
    orgs = {key: Organization(**values) for key, values in DEMO_ORGS.items()}
    db.session.add_all(orgs.values())
    users = {}
    for email, label, roles, org_key in DEMO_USERS:
        user = User(email=email, name=label, password_hash=password_hash, organization=orgs[org_key] if org_key else None,
                    approval_limit_cents=DEMO_APPROVAL_LIMITS.get(email))
        for role in roles:
            user.add_role(role)
        if any(role in MFA_ROLES for role in roles):
            totp.store_secret(user, DEMO_TOTP_SECRET)
            user.mfa_enrolled_at = user.totp_enabled_at = utcnow()
        db.session.add(user)
        users[email] = user
    state["orgs"] = orgs
    state["users"] = users


def demo_code(email: str) -> str | None:
    """The current TOTP code of a demo account with two-step sign-in on (None for anyone else)."""
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is None or user.mfa_enrolled_at is None or email not in {e for e, *_ in DEMO_USERS}:
        return None
    secret = totp.secret_of(user)
    return pyotp.TOTP(secret).now() if secret else None
