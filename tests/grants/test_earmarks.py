"""Earmarked contributions and co-funding: validation, the fund created at receipt, approval drawing the
eligible funds in order, co-funding a published challenge straight into its pool, who may co-fund."""
from __future__ import annotations

import pytest

from facility.challenges import funding
from facility.challenges import services as challenge_services
from facility.challenges.models import ChallengeStatus
from facility.core.errors import PermissionDenied, ValidationFailed
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import contributions
from facility.grants.models import Contribution
from facility.ledger.balances import balance, fund_balances
from facility.ledger.models import Fund, LedgerTransaction
from facility.ledger.services import GENERAL_FUND, UNALLOCATED, pool_code
from facility.ledger.verify import verify_ledger
from tests import factories


def _received(actor, manager, cents, earmark, method="wire"):
    contribution = contributions.pledge_contribution(actor=actor, amount_cents=cents, method=method, earmark=earmark)
    db.session.commit()
    contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=cents,
                                            received_on=utcnow().date(), bank_reference=f"FT-{contribution.id}")
    db.session.commit()
    return contribution


def _held(code):
    """The funds holding money in the purpose `code` (shares at zero left out)."""
    return {fund_id: cents for fund_id, cents in fund_balances(code).items() if cents}


def _city(name, country="UGA"):
    """A verified city with its official (made through the services)."""
    return factories.cities.make_city(name=name, country=country)


def _pending(city, official, *, focus_area="inclusive_innovation", pool=1_000_000):
    challenge = factories.challenges.make_challenge(city, official, state="pending_approval",
                                                    focus_area=focus_area, prize_pool_cents=pool,
                                                    max_award_cents=pool)
    db.session.commit()
    return challenge


@pytest.fixture
def manager(make_user):
    return make_user("fund_manager")


@pytest.mark.parametrize("earmark, field", [
    ({"focus_area": "rockets"}, "earmark.focus_area"),
    ({"country_group": "G7"}, "earmark.country_group"),
    ({"region": "Atlantis"}, "earmark.region"),
    ({"challenge_id": 999_999}, "earmark.challenge_id"),
    ({"challenge_id": "3"}, "earmark.challenge_id"),
    ({"colour": "blue"}, "earmark.colour"),
    ({"focus_area": "inclusive_innovation", "region": "Africa"}, "earmark"),
    ("Africa", "earmark"),
])
def test_bad_earmarks_are_refused_per_field(app, donor, earmark, field):
    with pytest.raises(ValidationFailed) as caught:
        contributions.pledge_contribution(actor=donor, amount_cents=500_000, method="wire", earmark=earmark)
    assert field in caught.value.errors


def test_earmark_values_are_normalised(app):
    assert funding.parse_earmark({"country_group": "ldc"}) == (funding.EarmarkKind.COUNTRY_GROUP, "LDC")
    assert funding.parse_earmark({"country_group": "Global_South"}) == (funding.EarmarkKind.COUNTRY_GROUP,
                                                                        "global_south")
    assert funding.parse_earmark({"region": "002"}) == (funding.EarmarkKind.REGION, "Africa")
    assert funding.parse_earmark({"region": "asia"}) == (funding.EarmarkKind.REGION, "Asia")
    assert funding.parse_earmark(None) is None and funding.parse_earmark({}) is None


def test_fund_is_created_at_receipt_and_holds_the_money(app, donor, manager):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=700_000, method="wire",
                                                     earmark={"focus_area": "public_interest_tech"})
    db.session.commit()
    assert contribution.earmark == {"focus_area": "public_interest_tech"} and contribution.fund_id is None
    assert db.session.query(Fund).count() == 0  # a pledge holds no money, so no fund yet
    contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=650_000,
                                            received_on=utcnow().date(), bank_reference="FT-1")
    db.session.commit()
    fund = db.session.get(Fund, contribution.fund_id)
    assert (fund.earmark_kind, fund.earmark_value) == ("focus_area", "public_interest_tech")
    assert _held(UNALLOCATED) == {fund.id: 650_000}
    assert balance(UNALLOCATED) == 650_000
    assert balance(f"donor:{donor.organization_id}:contributions") == -650_000
    assert verify_ledger() == []


def test_approval_draws_eligible_earmarks_first_then_general(app, donor, manager):
    city, official = _city("Kampala", "UGA")  # Uganda: LDC, LLDC, Africa
    factories.ledger.fund_facility(5_000_000)
    tech = _received(donor, manager, 300_000, {"focus_area": "public_interest_tech"})
    ldc = _received(donor, manager, 200_000, {"country_group": "LDC"})
    asia = _received(donor, manager, 400_000, {"region": "Asia"})
    challenge = _pending(city, official, focus_area="inclusive_innovation", pool=1_000_000)

    plan = funding.drawing_plan(challenge)
    assert plan.funds == [ldc.fund_id, GENERAL_FUND]  # not the tech fund (other focus area), not Asia
    challenge_services.approve_challenge(challenge=challenge, actor=manager)
    db.session.commit()
    assert _held(pool_code(challenge.id)) == {ldc.fund_id: 200_000, GENERAL_FUND: 800_000}
    assert _held(UNALLOCATED) == {GENERAL_FUND: 4_200_000, tech.fund_id: 300_000, asia.fund_id: 400_000}
    paid = {item.fund_id: item.amount_cents for item in funding.pool_funding(challenge)}
    assert paid == {ldc.fund_id: 200_000, None: 800_000}
    tx = db.session.query(LedgerTransaction).filter_by(key=f"approve-challenge:{challenge.id}").one()
    assert tx.meta["funds"] == [[ldc.fund_id, 200_000], [None, 800_000]]
    assert verify_ledger() == []


def test_cofunding_before_approval_waits_and_is_drawn_first(app, donor, manager):
    city, official = _city("Dhaka", "BGD")
    factories.ledger.fund_facility(5_000_000)
    early = _received(donor, manager, 100_000, {"focus_area": "inclusive_innovation"})
    challenge = _pending(city, official, pool=1_000_000)
    cofund = _received(official, manager, 250_000, {"challenge_id": challenge.id})
    assert cofund.donor_organization_id == city.organization_id
    assert _held(UNALLOCATED)[cofund.fund_id] == 250_000  # waits in its fund
    assert funding.drawing_plan(challenge).funds == [cofund.fund_id, early.fund_id, GENERAL_FUND]
    challenge_services.approve_challenge(challenge=challenge, actor=manager)
    db.session.commit()
    assert _held(pool_code(challenge.id)) == {cofund.fund_id: 250_000, early.fund_id: 100_000,
                                                       GENERAL_FUND: 650_000}


def test_cofunding_more_than_the_prize_pool_all_goes_to_the_pool(app, donor, manager):
    city, official = _city("Apia", "WSM")
    challenge = _pending(city, official, pool=100_000)
    cofund = _received(official, manager, 300_000, {"challenge_id": challenge.id})
    challenge_services.approve_challenge(challenge=challenge, actor=manager)
    db.session.commit()
    assert _held(pool_code(challenge.id)) == {cofund.fund_id: 300_000}


def test_cofunding_a_published_challenge_goes_straight_to_its_pool(app, donor, manager):
    city, official = _city("Nairobi", "KEN")
    factories.ledger.fund_facility(5_000_000)
    challenge = _pending(city, official, pool=1_000_000)
    challenge_services.approve_challenge(challenge=challenge, actor=manager)
    db.session.commit()
    assert challenge.status == ChallengeStatus.PUBLISHED
    cofund = _received(donor, manager, 400_000, {"challenge_id": challenge.id})
    assert cofund.fund_id not in _held(UNALLOCATED)
    assert _held(pool_code(challenge.id)) == {GENERAL_FUND: 1_000_000, cofund.fund_id: 400_000}
    assert db.session.query(LedgerTransaction).filter_by(key=f"cofund:{cofund.id}").one().kind == "cofunding"
    paid = {item.fund_id: item.amount_cents for item in funding.pool_funding(challenge)}
    assert paid == {None: 1_000_000, cofund.fund_id: 400_000}
    assert verify_ledger() == []


def test_card_cofunding_moves_on_the_webhook(app, donor, manager, stripe_on):
    city, official = _city("Lima", "PER")
    factories.ledger.fund_facility(5_000_000)
    challenge = _pending(city, official, pool=1_000_000)
    challenge_services.approve_challenge(challenge=challenge, actor=manager)
    db.session.commit()
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=50_000, method="stripe",
                                                     earmark={"challenge_id": challenge.id})
    db.session.commit()
    contributions.record_card_contribution(checkout_session_id="cs_test_1", contribution_id=contribution.id,
                                           amount_cents=50_000)
    db.session.commit()
    assert _held(pool_code(challenge.id))[contribution.fund_id] == 50_000


def test_who_may_cofund(app, donor, manager, make_user):
    city, official = _city("Accra", "GHA")
    other_city, other_official = _city("Kumasi", "GHA")
    challenge = _pending(city, official)
    # Another city's official and an innovator may not; a donor may not see a pending challenge.
    with pytest.raises(PermissionDenied):
        contributions.pledge_contribution(actor=other_official, amount_cents=500_000, method="wire",
                                          earmark={"challenge_id": challenge.id})
    with pytest.raises(PermissionDenied):
        contributions.pledge_contribution(actor=make_user("innovator"), amount_cents=500_000, method="wire",
                                          earmark={"challenge_id": challenge.id})
    with pytest.raises(ValidationFailed) as caught:
        contributions.pledge_contribution(actor=donor, amount_cents=500_000, method="wire",
                                          earmark={"challenge_id": challenge.id})
    assert "earmark.challenge_id" in caught.value.errors
    # A city's official pledges only to co-fund: no plain or other earmark.
    with pytest.raises(PermissionDenied):
        contributions.pledge_contribution(actor=official, amount_cents=500_000, method="wire")
    with pytest.raises(PermissionDenied):
        contributions.pledge_contribution(actor=official, amount_cents=500_000, method="wire",
                                          earmark={"region": "Africa"})
    mine = contributions.pledge_contribution(actor=official, amount_cents=500_000, method="wire",
                                             earmark={"challenge_id": challenge.id})
    assert mine.earmark == {"challenge_id": challenge.id}


def test_api_pledge_echoes_the_earmark_and_refuses_bad_ones(client, app, donor, api_headers, make_user):
    response = client.post("/api/v1/contributions", headers=api_headers(donor),
                           json={"amount_cents": 500_000, "method": "wire", "earmark": {"country_group": "SIDS"}})
    assert response.status_code == 201, response.json
    assert response.json["earmark"] == {"country_group": "SIDS"} and response.json["fund_id"] is None
    again = client.get(f"/api/v1/contributions/{response.json['id']}", headers=api_headers(donor))
    assert again.json["earmark"] == {"country_group": "SIDS"}
    plain = client.post("/api/v1/contributions", headers=api_headers(donor),
                        json={"amount_cents": 500_000, "method": "wire", "earmark": None})
    assert plain.status_code == 201 and plain.json["earmark"] is None
    bad = client.post("/api/v1/contributions", headers=api_headers(donor),
                      json={"amount_cents": 500_000, "method": "wire", "earmark": {"focus_area": "x"}})
    assert bad.status_code == 422 and "earmark.focus_area" in bad.json["errors"]
    both = client.post("/api/v1/contributions", headers=api_headers(donor),
                       json={"amount_cents": 5, "method": "wire", "earmark": {"region": "Mars"}})
    assert both.status_code == 422 and {"earmark.region", "amount_cents"} <= set(both.json["errors"])
    assert client.post("/api/v1/contributions", json={"amount_cents": 500_000, "method": "wire"}).status_code == 401
    innovator = client.post("/api/v1/contributions", headers=api_headers(make_user("innovator")),
                            json={"amount_cents": 500_000, "method": "wire", "earmark": {"region": "Africa"}})
    assert innovator.status_code == 403


# --- pages ---------------------------------------------------------------------------------------

def test_pledge_page_takes_an_earmark(client, app, donor):
    from tests.conftest import get_csrf, sign_in

    sign_in(client, donor)
    page = client.get("/contributions").get_data(as_text=True)
    assert "What may your money pay for?" in page and 'name="earmark_region"' in page
    assert '<label for="earmark_region"' in page
    token = get_csrf(client, "/contributions")
    response = client.post("/contributions", data={"amount": "1,000", "method": "wire", "csrf_token": token,
                                                   "earmark_kind": "region", "earmark_region": "Oceania",
                                                   "earmark_focus_area": "public_interest_tech"})
    assert response.status_code == 302
    contribution = db.session.query(Contribution).one()
    assert contribution.earmark == {"region": "Oceania"}
    shown = client.get(f"/contributions/{contribution.id}").get_data(as_text=True)
    assert "Region: Oceania" in shown
    bad = client.post("/contributions", data={"amount": "1,000", "method": "wire", "csrf_token": token,
                                              "earmark_kind": "challenge", "earmark_challenge": "424242"})
    assert bad.status_code == 422 and "No challenge 424242" in bad.get_data(as_text=True)
    assert db.session.query(Contribution).count() == 1


def test_cofund_link_and_page_for_the_city_official(client, app, manager, donor, make_user):
    from tests.conftest import get_csrf, sign_in

    city, official = _city("Suva", "FJI")
    factories.ledger.fund_facility(5_000_000)
    challenge = _pending(city, official, pool=1_000_000)
    sign_in(client, official)
    assert "Co-fund this challenge" in client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    page = client.get(f"/contributions?challenge={challenge.id}")
    assert page.status_code == 200 and "Co-fund the challenge" in page.get_data(as_text=True)
    token = get_csrf(client, f"/contributions?challenge={challenge.id}")
    response = client.post(f"/contributions?challenge={challenge.id}", data={
        "amount": "500", "method": "wire", "csrf_token": token, "earmark_kind": "challenge",
        "earmark_challenge": str(challenge.id)})
    assert response.status_code == 302
    assert db.session.query(Contribution).one().earmark == {"challenge_id": challenge.id}
    client.get("/signout")
    # Another city's official may not co-fund it; a donor does not see a pending challenge.
    _other, other_official = _city("Lautoka", "FJI")
    sign_in(client, other_official)
    assert client.get(f"/contributions?challenge={challenge.id}").status_code == 403
    assert "Co-fund this challenge" not in client.get(f"/challenges/{challenge.id}").get_data(as_text=True)


def test_staff_see_which_funds_paid_into_the_pool(client, app, manager, donor):
    from tests.conftest import sign_in

    city, official = _city("Kigali", "RWA")
    factories.ledger.fund_facility(5_000_000)
    earmarked = _received(donor, manager, 200_000, {"country_group": "LLDC"})
    challenge = _pending(city, official, pool=1_000_000)
    challenge_services.approve_challenge(challenge=challenge, actor=manager)
    db.session.commit()
    sign_in(client, manager)
    html = client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    assert "Which funds paid into the prize pool" in html and earmarked.reference in html
    assert "General fund" in html
    client.get("/signout")
    sign_in(client, donor)
    html = client.get(f"/challenges/{challenge.id}").get_data(as_text=True)
    assert "Which funds paid into the prize pool" not in html and "Co-fund this challenge" in html


def test_cofund_policy_refuses_anonymous_wrong_role_and_wrong_city(app, donor, make_user):
    from flask_login import AnonymousUserMixin

    from facility.core.errors import Conflict, NotFound
    from facility.grants.policy import can_cofund, can_view_attribution

    city, official = _city("Honiara", "SLB")
    _other, other_official = _city("Gizo", "SLB")
    challenge = _pending(city, official)
    assert can_cofund(official, challenge) is None
    assert can_cofund(AnonymousUserMixin(), challenge).error is PermissionDenied
    assert can_cofund(make_user("innovator"), challenge).error is PermissionDenied
    assert can_cofund(other_official, challenge).error is PermissionDenied
    assert can_cofund(donor, challenge).error is NotFound  # a pending challenge is not public
    challenge.status = ChallengeStatus.CANCELLED
    assert can_cofund(official, challenge).error is Conflict
    assert can_view_attribution(AnonymousUserMixin()).error is PermissionDenied
    assert can_view_attribution(make_user("innovator")).error is PermissionDenied
    assert can_view_attribution(donor) is None and can_view_attribution(official) is None
