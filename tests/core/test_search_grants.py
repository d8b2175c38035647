"""Full-text search of grants: the caller's own (`mine=true`), by the words of their proposal."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the grants tests
from __future__ import annotations

from facility.extensions import db
from tests.grants.conftest import (  # noqa: F401
    fund,
    grant_setup,
    make_challenge,
    make_proposal,
    setup,
)


def test_grant_search_through_the_api(client, setup, api_headers, make_user, make_org):
    _, proposal, manager, grantee = setup
    proposal.title, proposal.approach = "Solar kiosks for Kisumu", "Pay-as-you-go lanterns."
    db.session.commit()
    response = client.post(f"/api/v1/proposals/{proposal.id}/award", json={"amount_cents": 3_000_000},
                           headers=api_headers(manager))
    assert response.status_code == 201, response.json
    grant_id = response.json["id"]
    stranger = make_user("innovator", organization=make_org(name="Stranger"))

    def ids(user, q):
        response = client.get("/api/v1/grants", query_string={"mine": "true", "q": q}, headers=api_headers(user))
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    for user in (grantee, manager):
        assert ids(user, "KISUMU solar") == [grant_id]
        assert ids(user, "lanterns") == [grant_id]
        assert ids(user, "lanterns drought") == []
        assert ids(user, 'NEAR( "') == []
    assert ids(stranger, "kisumu") == []

    def public_ids(q):
        response = client.get("/api/v1/grants", query_string={"q": q})
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    # The public register is searched by what its rows show (the proposal's title, the grantee, the challenge),
    # never by the proposal's private text.
    assert public_ids("KISUMU solar") == [grant_id]
    assert public_ids(grantee.organization.name.split()[0]) == [grant_id]
    assert public_ids("lanterns") == []
    assert public_ids('50%_ NEAR( "') == []
