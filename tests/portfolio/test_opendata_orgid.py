"""The organisation identifier (org-id.guide) a grantee may give, and that the open data publishes."""
from __future__ import annotations

import json

import pytest

from facility.accounts import services
from facility.accounts.models import Organization, OrgKind, OrgType
from facility.accounts.orgids import normalise_org_identifier, org_identifier_problem
from facility.core.errors import NotFound, ValidationFailed
from facility.extensions import db
from tests.conftest import get_csrf


@pytest.mark.parametrize("value", ["GB-CHC-1234567", "XI-IATI-EXAMPLE", "KE-RCO-PVT.2011_12-3", "US-EIN-12-3456789"])
def test_an_org_id_is_accepted(value):
    assert org_identifier_problem(value) is None


@pytest.mark.parametrize("value", ["1234567", "GB-1234567", "GBR-CHC-1", "GB-CHC-", "GB-CHC-12/34", "GB-CHC-1&2",
                                   "GB-CHC-1 2", "GB-CHC-1?", "GB-CHC-" + "9" * 60, "GB-CHC-é1"])
def test_anything_else_is_refused(value):
    assert org_identifier_problem(value)


def test_the_list_prefix_is_written_in_capitals():
    assert normalise_org_identifier("  gb-chc-abc123 ") == "GB-CHC-abc123"
    assert normalise_org_identifier(None) == ""


@pytest.fixture
def grantee(app, make_user):
    org = Organization(name="SolarKiosk Labs", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP, country="KEN")
    db.session.add(org)
    member = make_user("innovator", organization=org)
    db.session.commit()
    return org, member


def test_a_member_sets_it_on_the_organisation_page(client, grantee, login):
    org, member = grantee
    login(client, member)
    page = client.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert 'for="org_identifier"' in page
    response = client.post(f"/organizations/{org.id}", data={
        "name": org.name, "org_identifier": "gb-chc-1234567", "csrf_token": get_csrf(client, f"/organizations/{org.id}"),
        "submit": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, org.id).org_identifier == "GB-CHC-1234567"


def test_a_bad_one_is_a_form_error_and_nothing_changes(client, grantee, login):
    org, member = grantee
    org.org_identifier = "GB-CHC-1"
    db.session.commit()
    login(client, member)
    response = client.post(f"/organizations/{org.id}", data={
        "name": "Renamed", "org_identifier": "GB/CHC/1", "csrf_token": get_csrf(client, f"/organizations/{org.id}"),
        "submit": "1"})
    assert response.status_code == 200
    assert "org-id.guide" in response.get_data(as_text=True)
    db.session.expire_all()
    saved = db.session.get(Organization, org.id)
    assert (saved.name, saved.org_identifier) == ("SolarKiosk Labs", "GB-CHC-1")


def test_clearing_it_removes_it(grantee):
    org, member = grantee
    services.update_organization(organization=org, actor=member, name=org.name, website=None, description=None,
                                 org_identifier="GB-CHC-1")
    services.update_organization(organization=org, actor=member, name=org.name, website=None, description=None,
                                 org_identifier="  ")
    assert org.org_identifier is None


def test_only_members_and_admins_set_it(grantee, make_user):
    org, _member = grantee
    for outsider in (make_user("innovator"), make_user("fund_manager"), make_user("auditor")):
        with pytest.raises(NotFound):
            services.update_organization(organization=org, actor=outsider, name=org.name, website=None,
                                         description=None, org_identifier="GB-CHC-1")
    db.session.rollback()
    assert db.session.get(Organization, org.id).org_identifier is None
    services.update_organization(organization=org, actor=make_user("admin"), name=org.name, website=None,
                                 description=None, org_identifier="GB-CHC-1")
    assert org.org_identifier == "GB-CHC-1"


def test_the_service_refuses_a_bad_one(grantee):
    org, member = grantee
    with pytest.raises(ValidationFailed) as refused:
        services.update_organization(organization=org, actor=member, name=org.name, website=None, description=None,
                                     org_identifier="not an id")
    assert "org_identifier" in refused.value.errors


def test_the_api_shows_it(client, grantee, api_headers):
    org, member = grantee
    org.org_identifier = "GB-CHC-7"
    db.session.commit()
    body = json.loads(client.get("/api/v1/me", headers=api_headers(member)).get_data())
    assert body["organization"]["org_identifier"] == "GB-CHC-7"


def test_anonymous_cannot_set_it(client, grantee):
    org, _member = grantee
    response = client.post(f"/organizations/{org.id}", data={"name": org.name, "org_identifier": "GB-CHC-1"})
    assert response.status_code in (302, 400)
    db.session.expire_all()
    assert db.session.get(Organization, org.id).org_identifier is None
