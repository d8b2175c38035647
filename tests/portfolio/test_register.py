"""The public grants register: `/grants` and `GET /api/v1/grants` for everyone, filters, pagination,
nothing private, a query count that does not grow with the rows."""
from __future__ import annotations

import sqlalchemy as sa

from facility.extensions import db
from facility.grants.models import Grant, GrantStatus
from tests.factories.proposals import make_proposal
from tests.portfolio import public_scene


def test_anonymous_sees_every_grant_with_its_facts(client, clock):
    scene = public_scene.build(clock)
    page = client.get("/grants")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    grant = scene.grant
    for fact in (grant.proposal.title, "SolarKiosk", "Start-up", "Kenya", scene.challenge.title, "Kampala", "Uganda",
                 "USD 30,000.00", "The urban poor", "Women", grant.awarded_at.date().isoformat(), "11.2", "3.6", "Active"):
        assert fact in html, fact
    assert f'href="/grants/{grant.id}"' in html


def test_api_anonymous_gets_the_same_public_view(client, clock):
    scene = public_scene.build(clock)
    body = client.get("/api/v1/grants").json
    assert body["total"] == 1 and body["page"] == 1
    item = body["items"][0]
    assert item["id"] == scene.grant.id and item["amount_cents"] == 3_000_000
    assert item["grantee"] == {"name": "SolarKiosk", "org_type": "startup", "country": "KEN"}
    assert item["challenge"]["title"] == scene.challenge.title and item["city"]["country"] == "UGA"
    assert sorted(item["sdg_targets"]) == ["11.2", "3.6"] and item["status"] == "active"


def test_nothing_private_in_the_html_or_json(client, clock):
    scene = public_scene.build(clock)
    # A draft proposal of the same organisation must not show anywhere.
    draft = make_proposal(scene.challenge, via="models", org=scene.grantee.organization, title="Secret draft plan",
                          status="draft")
    texts = [client.get(path).get_data(as_text=True) for path in
             ("/grants", f"/grants/{scene.grant.id}", "/api/v1/grants", f"/api/v1/grants/{scene.grant.id}")]
    for text in texts:
        assert "@example.org" not in text  # no e-mail address
        for private in ("GB82WEST", "Dutch-Bangla", "DBBLBDDH", "WaterWatch", "iban", "swift", "masked_account",
                        "payout", "Done, see the photos", "kpi", "reviewer", "score", draft.title,
                        "BANK-REF-0001", "agreement_text", "phone numbers", "WIRE-0001"):
            assert private.lower() not in text.lower(), private


def test_filters(client, clock):
    scene = public_scene.build(clock)
    fiji = public_scene.extra_grants(2, country="FJI")
    db.session.execute(sa.update(Grant).where(Grant.id == fiji[0].id).values(status=GrantStatus.CANCELLED))
    db.session.commit()

    def ids(query):
        return {item["id"] for item in client.get("/api/v1/grants?" + query).json["items"]}

    everything = {scene.grant.id, *(g.id for g in fiji)}
    assert ids("") == everything
    assert ids("country=FJI") == {g.id for g in fiji}
    assert ids("country_group=SIDS") == {g.id for g in fiji}
    assert ids("country_group=LDC") == {scene.grant.id}
    assert ids("focus_area=inclusive_innovation") == everything
    assert ids("sdg_target=3.6") == {scene.grant.id}
    assert ids("status=cancelled") == {fiji[0].id}
    assert ids(f"year={scene.grant.awarded_at.year}") == everything
    assert ids(f"year={scene.grant.awarded_at.year - 1}") == set()
    html = client.get("/grants?status=cancelled").get_data(as_text=True)
    assert "Cancelled" in html and scene.grant.proposal.title not in html
    # Bad values: shown on the page, ignored, never a 500.
    for bad in ("country=ZZZ", "year=abc", "status=nope", "sdg_target=99.99", "page=-3", "year=99999999999999"):
        assert client.get("/grants?" + bad).status_code == 200, bad
    assert client.get("/api/v1/grants?status=nope").status_code == 422


def test_pagination(client, clock):
    public_scene.extra_grants(30, country="FJI")
    first = client.get("/grants").get_data(as_text=True)
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = client.get("/grants?page=2&country=FJI").get_data(as_text=True)
    assert "Page 2 of 2" in second
    body = client.get("/api/v1/grants?per_page=10&page=3").json
    assert body["total"] == 30 and len(body["items"]) == 10 and body["page"] == 3


def test_query_count_does_not_grow_with_rows(client, clock, count_queries):
    public_scene.extra_grants(2, country="FJI")
    with count_queries() as few:
        assert client.get("/grants").status_code == 200
    public_scene.extra_grants(20, country="UGA")
    with count_queries() as many:
        assert client.get("/grants").status_code == 200
    assert many() == few()
    with count_queries() as api_many:
        assert client.get("/api/v1/grants").status_code == 200
    public_scene.extra_grants(2, country="KEN")
    with count_queries() as api_more:
        assert client.get("/api/v1/grants").status_code == 200
    assert api_many() == api_more()


def test_signed_in_grantee_and_staff_keep_their_lists(client, login, clock, api_headers):
    scene = public_scene.build(clock)
    public_scene.extra_grants(1, country="FJI")
    login(client, scene.grantee)
    html = client.get("/grants/mine").get_data(as_text=True)
    assert scene.grant.proposal.title in html and "Project FJI 0" not in html
    mine = client.get("/api/v1/grants?mine=true", headers=api_headers(scene.grantee)).json
    assert [item["id"] for item in mine["items"]] == [scene.grant.id]
    assert client.get("/api/v1/grants?mine=true").status_code == 401  # "mine" needs a caller
    assert client.get("/api/v1/grants", headers=api_headers(scene.manager)).json["total"] == 2
