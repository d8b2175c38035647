"""No raw enum value (`inclusive_innovation`, `urban_poor`, `pending_approval`) reaches a page of the
marketplace: every status, focus area, group, type and size is shown by its label."""
from __future__ import annotations

import re

from facility.accounts.models import OrgType, Role
from facility.challenges.models import ChallengeStatus, FocusArea
from facility.cities.models import SizeClass
from facility.extensions import db
from facility.proposals.models import BeneficiaryGroup, ProposalStatus

# Values that are not plain words (a page may well say "draft" or "open" in a sentence).
RAW = {m.value for enum in (ChallengeStatus, FocusArea, BeneficiaryGroup, OrgType, SizeClass, ProposalStatus, Role)
       for m in enum if "_" in m.value or m.value in {"startup", "sme", "ngo"}}
assert "inclusive_innovation" in RAW and "urban_poor" in RAW and "pending_approval" in RAW


def _text(response) -> str:
    """What a person reads: the page without its tags and attribute values."""
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\S+@\S+", " ", text)  # test users' addresses and names carry their role
    return re.sub(r"Test \w+ \d+", " ", text)


def _raw_values(text: str) -> set[str]:
    return {value for value in RAW if re.search(rf"\b{re.escape(value)}\b", text)}


def test_marketplace_pages_show_labels(app, challenge, make_proposal, innovator, official, fund_manager, login,
                                       make_user):
    challenge.eligible_org_types = [OrgType.STARTUP.value, OrgType.COMMUNITY_ORGANIZATION.value]
    db.session.commit()
    proposal = make_proposal(challenge, submit=True)
    client = app.test_client()
    pages = [f"/challenges/{challenge.id}", "/challenges", f"/cities/{challenge.city_id}"]
    for path in pages:
        assert _raw_values(_text(client.get(path))) == set(), path
    login(client, innovator)
    for path in (f"/proposals/{proposal.id}", "/dashboard", f"/organizations/{innovator.organization_id}"):
        assert _raw_values(_text(client.get(path))) == set(), path
    staff = app.test_client()
    login(staff, fund_manager)
    for path in (f"/challenges/{challenge.id}/proposals", "/challenges/approvals", "/cities/verification"):
        assert _raw_values(_text(staff.get(path))) == set(), path
    admin = app.test_client()
    login(admin, make_user(Role.ADMIN.value))
    users_page = _text(admin.get("/admin/users"))
    assert _raw_values(users_page) == set() and "Fund manager" in users_page
    assert "High" in _text(client.get(f"/cities/{challenge.city_id}"))  # ClimateRisk.HIGH by its label
