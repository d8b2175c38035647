"""Attribution: which grants a donor's money paid for (exact for earmarked funds, pro rata for the
general fund), on the page and in the API; and the ledger check that an earmark stays in its purpose."""
from __future__ import annotations

import pytest

from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import attribution, awards, contributions
from facility.grants.models import TRANCHE_TRANSITIONS, TrancheStatus
from facility.ledger.services import UNALLOCATED, commitment_code, disbursed_account, pool_account, transfer
from facility.ledger.verify import verify_ledger
from tests.conftest import sign_in


def _received(actor, manager, cents, earmark=None):
    contribution = contributions.pledge_contribution(actor=actor, amount_cents=cents, method="wire", earmark=earmark)
    contributions.confirm_wire_contribution(contribution=contribution, actor=manager, received_cents=cents,
                                            received_on=utcnow().date(), bank_reference=f"FT-{contribution.id}")
    db.session.commit()
    return contribution


@pytest.fixture
def scene(app, make_user, make_org, make_challenge, make_proposal):
    """Donor A: 300,000 earmarked for inclusive innovation and 200,000 unrestricted; donor B: 600,000
    unrestricted. A challenge's pool takes A's fund and 700,000 general; a grant of 800,000 takes A's
    300,000 then 500,000 general; its first tranche (400,000) pays A's 300,000 then 100,000 general."""
    from facility.accounts.models import OrgKind

    manager = make_user("fund_manager")
    donor_a = make_user("donor", organization=make_org(name="Donor A", kind=OrgKind.DONOR))
    donor_b = make_user("donor", organization=make_org(name="Donor B", kind=OrgKind.DONOR))
    earmarked = _received(donor_a, manager, 300_000, {"focus_area": "inclusive_innovation"})
    _received(donor_a, manager, 200_000)
    _received(donor_b, manager, 600_000)
    challenge = make_challenge()
    transfer(key="test-pool", source=UNALLOCATED, target=pool_account(challenge.id), amount_cents=1_000_000,
             funds=[earmarked.fund_id, None], actor=manager, kind="challenge_approval")
    proposal = make_proposal(challenge, amounts=(400_000, 400_000))
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=800_000)
    transfer(key="test-pay", source=commitment_code(grant.id), target=disbursed_account(), amount_cents=400_000,
             actor=manager, kind="disbursement")
    first = grant.tranches[0]  # paid as a disbursement pays it: the tranche moves with the money
    for status in (TrancheStatus.EVIDENCE_SUBMITTED, TrancheStatus.ACCEPTED, TrancheStatus.DISBURSING,
                   TrancheStatus.PAID):
        TRANCHE_TRANSITIONS.move(first, status)
    db.session.commit()
    return donor_a, donor_b, earmarked, grant


def test_earmarked_money_is_followed_exactly(scene):
    donor_a, donor_b, earmarked, grant = scene
    page = attribution.earmarked_page(donor_a, page=1, per_page=10)
    assert page.total == 1
    row = page.items[0]
    assert (row.contribution.id, row.grant.id, row.committed_cents, row.paid_cents) == (earmarked.id, grant.id, 0,
                                                                                        300_000)
    assert attribution.earmarked_page(donor_b, page=1, per_page=10).total == 0  # not another donor's money


def test_unrestricted_money_is_attributed_pro_rata(scene):
    donor_a, donor_b, _earmarked, grant = scene
    share_a, share_b = attribution.pooled_share(donor_a), attribution.pooled_share(donor_b)
    assert (share_a.donor_cents, share_a.total_cents) == (200_000, 800_000)
    assert (share_b.donor_cents, share_b.total_cents) == (600_000, 800_000)
    rows_a = attribution.pooled_page(share_a, page=1, per_page=10).items
    assert [(r.grant.id, r.general_cents, r.attributed_cents) for r in rows_a] == [(grant.id, 500_000, 125_000)]
    rows_b = attribution.pooled_page(share_b, page=1, per_page=10).items
    assert [r.attributed_cents for r in rows_b] == [375_000]


def test_attribution_page_states_the_rule_and_shows_the_rows(client, scene, make_user):
    donor_a, _donor_b, earmarked, grant = scene
    sign_in(client, donor_a)
    page = client.get("/contributions/attribution")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Earmarked money, exactly" in html and "in proportion" in html
    assert earmarked.reference in html and f"/grants/{grant.id}" in html
    assert "1,250.00" in html  # A's pro rata share of the grant's general money (USD 1,250)
    assert "What happens next" in html


def test_attribution_page_refuses_other_roles_and_anonymous(client, app, make_user):
    assert client.get("/contributions/attribution").status_code in (302, 401)
    sign_in(client, make_user("innovator"))
    assert client.get("/contributions/attribution").status_code == 403


def test_attribution_api(client, scene, api_headers, make_user):
    donor_a, donor_b, earmarked, grant = scene
    exact = client.get("/api/v1/me/attribution", headers=api_headers(donor_a))
    assert exact.status_code == 200, exact.json
    [item] = exact.json["items"]
    assert {key: item[key] for key in ("grant_id", "contribution_id", "earmark", "committed_cents", "paid_cents",
                                       "attributed_cents")} == {
        "grant_id": grant.id, "contribution_id": earmarked.id, "earmark": {"focus_area": "inclusive_innovation"},
        "committed_cents": 0, "paid_cents": 300_000, "attributed_cents": 300_000}
    assert exact.json["total"] == 1 and exact.json["rule"]
    pooled = client.get("/api/v1/me/attribution?basis=pooled", headers=api_headers(donor_b)).json
    assert [item["attributed_cents"] for item in pooled["items"]] == [375_000]
    assert pooled["pooled_donor_cents"] == 600_000 and pooled["pooled_total_cents"] == 800_000
    assert client.get("/api/v1/me/attribution?basis=x", headers=api_headers(donor_a)).status_code == 422
    assert client.get("/api/v1/me/attribution").status_code == 401
    assert client.get("/api/v1/me/attribution", headers=api_headers(make_user("innovator"))).status_code == 403
    other = client.get("/api/v1/me/attribution", headers=api_headers(donor_b)).json
    assert other["items"] == []  # another organisation's earmarked money is not shown


def test_the_check_passes_on_a_sound_ledger(scene):
    assert attribution.check_earmarks_within_purpose() == []
    assert verify_ledger() == []


def test_the_check_finds_an_earmark_spent_outside_its_purpose(app, make_user, make_challenge, make_proposal):
    manager = make_user("fund_manager")
    donor = make_user("donor")
    asia = _received(donor, manager, 100_000, {"region": "Asia"})
    challenge = make_challenge(country="UGA")  # Africa
    # Bypassing challenges.funding: the ledger alone does not know what an earmark allows.
    transfer(key="bad-pool", source=UNALLOCATED, target=pool_account(challenge.id), amount_cents=100_000,
             funds=[asia.fund_id], actor=manager, kind="challenge_approval")
    proposal = make_proposal(challenge, amounts=(50_000,))
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=50_000)
    transfer(key="bad-pay", source=commitment_code(grant.id), target=disbursed_account(), amount_cents=20_000,
             actor=manager, kind="disbursement")
    db.session.commit()
    problems = attribution.check_earmarks_within_purpose()
    assert len(problems) == 3, problems  # the pool's share, the commitment's share and the payment
    assert all("region=Asia" in problem for problem in problems)
    assert any("region=Asia" in line for line in verify_ledger())
