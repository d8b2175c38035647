"""The grants API: contributions and wires, awards and pools, grants, payout accounts, milestone evidence."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards
from facility.grants.models import (
    Contribution,
    ContributionStatus,
    Grant,
)
from facility.ledger.balances import facility_totals
from facility.proposals.models import ProposalStatus
from tests.conftest import PASSWORD
from tests.factories.grants import NO_SPENDING

# The grants fixtures (closed challenges, proposals, funded pools, the shared scenes), for this module only.
from tests.grants.conftest import (  # noqa: F401
    active_grant,
    donor,
    fund,
    grant_setup,
    make_challenge,
    make_proposal,
    setup,
)

ACCOUNT = "GB82WEST12345698765432"  # a valid example IBAN


def _count(model):
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_api_award_and_grant(client, app, setup, api_headers, make_user, make_org):
    challenge, proposal, manager, grantee = setup
    response = client.post(f"/api/v1/proposals/{proposal.id}/award", json={"amount_cents": 3_000_000},
                           headers=api_headers(manager))
    assert response.status_code == 201, response.json
    grant = response.json
    assert grant["status"] == "offered" and [t["amount_cents"] for t in grant["tranches"]] == [1_000_000, 2_000_000]
    assert grant["tranches"][0]["status"] == "pending"

    stranger = make_user("innovator", organization=make_org(name="Stranger"))
    # Anyone else gets the grant's public view: no agreement, no payout account, no reports.
    for headers in (api_headers(stranger), {}, api_headers(make_user("donor"))):
        public = client.get(f"/api/v1/grants/{grant['id']}", headers=headers)
        assert public.status_code == 200 and "payout_account" not in public.json and "agreement_text" not in public.json
        assert "reports" not in public.json["tranches"][0]
    assert client.get(f"/api/v1/grants/{grant['id']}", headers=api_headers(manager)).status_code == 200
    mine = client.get(f"/api/v1/grants/{grant['id']}", headers=api_headers(grantee))
    assert mine.status_code == 200 and mine.json["payout_account"] is None
    assert client.get("/api/v1/grants?mine=true", headers=api_headers(grantee)).json["total"] == 1
    assert client.get("/api/v1/grants?mine=true", headers=api_headers(stranger)).json["total"] == 0
    assert client.get("/api/v1/grants", headers=api_headers(stranger)).json["total"] == 1  # the public register

    assert client.post(f"/api/v1/grants/{grant['id']}/accept", headers=api_headers(manager)).status_code == 403
    accepted = client.post(f"/api/v1/grants/{grant['id']}/accept", headers=api_headers(grantee))
    assert accepted.status_code == 200 and accepted.json["status"] == "active"
    assert client.post(f"/api/v1/grants/{grant['id']}/accept", headers=api_headers(grantee)).status_code == 409


def test_api_grant_lists_its_disbursements(client, setup, api_headers):
    """The grant's API view carries its payments (none yet), asked of disbursements directly."""
    _, proposal, manager, _ = setup
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    db.session.commit()
    body = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(manager)).json
    assert body["disbursements"] == []


def test_api_award_refusals(client, setup, api_headers, make_challenge, make_proposal):
    challenge, proposal, manager, grantee = setup
    url = f"/api/v1/proposals/{proposal.id}/award"
    assert client.post(url, json={"amount_cents": 3_000_000}).status_code == 401
    assert client.post(url, json={"amount_cents": 3_000_000}, headers=api_headers(grantee)).status_code == 403
    response = client.post(url, json={"amount_cents": 2_000_000, "tranches": [{"title": "A", "amount_cents": 1}]},
                           headers=api_headers(manager))
    assert response.status_code == 422 and "tranches" in response.json["errors"]
    response = client.post(url, json={"amount_cents": 2_000_000, "tranches": [{"title": "", "amount_cents": -1}]},
                           headers=api_headers(manager))
    assert response.status_code == 422
    assert {"tranches.0.title", "tranches.0.amount_cents"} <= set(response.json["errors"])
    poor = make_proposal(make_challenge())
    response = client.post(f"/api/v1/proposals/{poor.id}/award", json={"amount_cents": 3_000_000},
                           headers=api_headers(manager))
    assert response.status_code == 409 and "pool" in response.json["detail"]
    assert client.post("/api/v1/proposals/999999/award", json={"amount_cents": 1},
                       headers=api_headers(manager)).status_code == 404
    db.session.expire_all()
    assert _count(Grant) == 0


def test_api_release_pool(client, setup, api_headers):
    challenge, proposal, manager, grantee = setup
    proposal.status = ProposalStatus.DECLINED
    db.session.commit()
    url = f"/api/v1/challenges/{challenge.id}/release-pool"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=api_headers(grantee)).status_code == 403
    response = client.post(url, headers=api_headers(manager))
    assert response.status_code == 200 and response.json["amount_cents"] == 5_000_000
    assert client.post(url, headers=api_headers(manager)).status_code == 409


def test_api_wire_pledge_and_confirm(client, app, donor, make_user, api_headers):
    response = client.post("/api/v1/contributions", json={"amount_cents": 1_000_000, "method": "wire"},
                           headers=api_headers(donor))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "pledged" and body["reference"].startswith("UIF-C-")
    assert body["wire_instructions"]["reference"] == body["reference"]
    assert body["checkout_url"] is None

    manager = make_user("fund_manager")
    headers = api_headers(manager)
    listing = client.get("/api/v1/contributions/pending-wires", headers=headers).json
    assert [item["id"] for item in listing["items"]] == [body["id"]]
    confirm = {"amount_cents": 1_000_000, "received_on": utcnow().date().isoformat(), "bank_reference": "FT-9"}
    response = client.post(f"/api/v1/contributions/{body['id']}/confirm", json=confirm, headers=headers)
    assert response.status_code == 200 and response.json["status"] == "received"
    response = client.post(f"/api/v1/contributions/{body['id']}/confirm", json=confirm, headers=headers)
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    db.session.expire_all()
    assert facility_totals()["raised"] == 1_000_000


def test_api_card_pledge_links_to_checkout(client, donor, api_headers, stripe_on):
    """A card pledge is answered with the checkout URL of the payments blueprint, and no wire instructions."""
    response = client.post("/api/v1/contributions", json={"amount_cents": 5_000, "method": "stripe"},
                           headers=api_headers(donor))
    assert response.status_code == 201
    assert response.json["status"] == "checkout_open"
    assert response.json["wire_instructions"] is None
    assert response.json["checkout_url"] == f"/contributions/{response.json['id']}/checkout"


@pytest.mark.parametrize("body, field", [
    ({"amount_cents": "ten", "method": "wire"}, "amount_cents"),
    ({"amount_cents": 1000, "method": "cheque"}, "method"),
    ({"amount_cents": 10, "method": "wire"}, "amount_cents"),
    ({"method": "wire"}, "amount_cents"),
])
def test_api_pledge_422_per_field(client, donor, api_headers, body, field):
    response = client.post("/api/v1/contributions", json=body, headers=api_headers(donor))
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert db.session.execute(sa.select(sa.func.count(Contribution.id))).scalar_one() == 0


def test_api_contribution_permissions(client, donor, make_user, make_org, api_headers):
    body = {"amount_cents": 1_000, "method": "wire"}
    assert client.post("/api/v1/contributions", json=body).status_code == 401
    assert client.post("/api/v1/contributions", json=body, headers=api_headers(make_user("innovator"))).status_code == 403
    created = client.post("/api/v1/contributions", json=body, headers=api_headers(donor)).json
    other_donor = make_user("donor", organization=make_org(name="Other", kind=OrgKind.DONOR))
    assert client.get(f"/api/v1/contributions/{created['id']}", headers=api_headers(other_donor)).status_code == 404
    assert client.get(f"/api/v1/contributions/{created['id']}", headers=api_headers(donor)).status_code == 200
    assert client.get(f"/api/v1/contributions/{created['id']}").status_code == 401
    assert client.get("/api/v1/contributions", headers=api_headers(other_donor)).json["total"] == 0
    confirm = {"amount_cents": 1_000, "received_on": utcnow().date().isoformat(), "bank_reference": "FT"}
    assert client.post(f"/api/v1/contributions/{created['id']}/confirm", json=confirm,
                       headers=api_headers(donor)).status_code == 403
    assert client.post(f"/api/v1/contributions/{created['id']}/confirm", json=confirm).status_code == 401
    assert client.get("/api/v1/contributions/pending-wires", headers=api_headers(donor)).status_code == 403
    db.session.expire_all()
    assert db.session.get(Contribution, created["id"]).status == ContributionStatus.PLEDGED


def test_api_payout_account(client, grant_setup, api_headers, make_user):
    grant, manager, grantee = grant_setup
    url = f"/api/v1/grants/{grant.id}/payout-account"
    body = {"rail": "manual", "account_holder": "WaterWatch", "bank_name": "DBBL", "iban": ACCOUNT,
            "swift": "DBBLBDDH"}
    assert client.put(url, json=body).status_code == 401
    assert client.put(url, json=body, headers=api_headers(manager)).status_code == 403
    assert client.put(url, json=body, headers=api_headers(make_user("innovator"))).status_code == 404
    response = client.put(url, json=body, headers=api_headers(grantee))
    assert response.status_code == 200, response.json
    assert ACCOUNT not in response.get_data(as_text=True) and response.json["masked_account"] == "•••• 5432"
    grant_body = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(manager)).get_data(as_text=True)
    assert ACCOUNT not in grant_body and "5432" in grant_body
    response = client.put(url, json=dict(body, iban="GB33BUKB20201555555555"), headers=api_headers(grantee))
    assert response.status_code == 422 and "confirm_password" in response.json["errors"]
    response = client.put(url, json=dict(body, iban="GB33BUKB20201555555555", confirm_password=PASSWORD),
                          headers=api_headers(grantee))
    assert response.status_code == 200 and response.json["masked_account"] == "•••• 5555"
    response = client.put(url, json={"rail": "manual", "confirm_password": PASSWORD}, headers=api_headers(grantee))
    assert response.status_code == 422
    assert {"account_holder", "bank_name", "account_number"} <= set(response.json["errors"])


def test_api_evidence(client, grant_setup, api_headers, make_user, make_org):
    grant, manager, grantee = grant_setup
    awards.accept_grant(grant=grant, actor=grantee)
    db.session.commit()
    url = f"/api/v1/tranches/{grant.tranches[0].id}/evidence"
    body = {"text": "Delivered", "kpi_values": {"households": 42}, "spending": NO_SPENDING}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=api_headers(make_user("innovator", organization=make_org(
        name="Other")))).status_code == 404
    assert client.post(url, json=body, headers=api_headers(manager)).status_code == 403
    response = client.post(url, json={"text": "", "kpi_values": {"x": "y"}}, headers=api_headers(grantee))
    assert response.status_code == 422 and {"text", "kpi_values.x.value"} <= set(response.json["errors"])
    response = client.post(url, json=body, headers=api_headers(grantee))
    assert response.status_code == 201 and response.json["status"] == "submitted"
    report_id = response.json["id"]
    assert client.post(url, json=body, headers=api_headers(grantee)).status_code == 409
    assert client.post(f"/api/v1/milestone-reports/{report_id}/accept",
                       headers=api_headers(grantee)).status_code == 403
    response = client.post(f"/api/v1/milestone-reports/{report_id}/return", json={"comment": ""},
                           headers=api_headers(manager))
    assert response.status_code == 422 and "comment" in response.json["errors"]
    response = client.post(f"/api/v1/milestone-reports/{report_id}/accept", headers=api_headers(manager))
    assert response.status_code == 200 and response.json["status"] == "accepted"
    grant_body = client.get(f"/api/v1/grants/{grant.id}", headers=api_headers(grantee)).json
    assert grant_body["tranches"][0]["status"] == "accepted"


def test_api_facility_totals_and_counts(client, grant_setup, make_challenge, make_proposal):
    grant, manager, grantee = grant_setup
    make_challenge(country="FJI")
    make_challenge(country="FJI")
    response = client.get("/api/v1/facility")
    assert response.status_code == 200
    body = response.json
    assert body["target_cents"] == 100_000_000_000
    assert body["raised_cents"] == 5_000_000 and body["committed_cents"] == 3_000_000
    assert body["allocated_cents"] == 2_000_000 and body["unallocated_cents"] == 0 and body["disbursed_cents"] == 0
    assert not [key for key in body if key in ("target", "raised", "unallocated", "allocated", "committed", "disbursed")]
    assert (body["countries"], body["cities"], body["technology_companies"]) == (2, 3, 1)


def test_a_refused_move_is_a_409_in_the_api(client, active_grant, api_headers):
    grant, manager, grantee = active_grant
    response = client.post(f"/api/v1/grants/{grant.id}/accept", headers=api_headers(grantee))  # active -> active
    assert response.status_code == 409
    assert response.headers["Content-Type"].startswith("application/problem+json")
    response = client.post(f"/api/v1/tranches/{grant.tranches[0].id}/evidence", json={"text": "x", "spending": NO_SPENDING},
                           headers=api_headers(grantee))
    report_id = response.json["id"]
    assert client.post(f"/api/v1/milestone-reports/{report_id}/accept", headers=api_headers(manager)).status_code == 200
    again = client.post(f"/api/v1/milestone-reports/{report_id}/accept", headers=api_headers(manager))
    assert again.status_code == 409  # accepted -> accepted
