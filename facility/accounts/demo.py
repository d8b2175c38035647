"""Demo users and organisations for every role."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind, OrgType, Role, User
from facility.accounts.services import hash_password
from facility.extensions import db

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
        user = User(email=email, name=label, password_hash=password_hash, organization=orgs[org_key] if org_key else None)
        for role in roles:
            user.add_role(role)
        db.session.add(user)
        users[email] = user
    state["orgs"] = orgs
    state["users"] = users
