"""A grant's public page (`/grants/<id>` for anyone who may not see the full record) and the grantee's
public summaries of accepted milestones (page, API, permissions)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from facility.challenges.models import Challenge
from facility.extensions import db
from facility.grants import milestones
from facility.grants.models import Grant, GrantStatus, MilestoneReport
from tests.conftest import get_csrf
from tests.factories.accounts import make_org, make_user
from tests.factories.grants import NO_SPENDING
from tests.portfolio import public_scene


def _accepted_report(scene) -> MilestoneReport:
    return scene.grant.tranches[0].reports[-1]


def test_anonymous_sees_the_public_page(client, clock):
    scene = public_scene.build(clock)
    response = client.get(f"/grants/{scene.grant.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    tranche = scene.grant.tranches[0]
    assert "Implementation progress" in html and "1 of 2 milestones accepted" in html
    assert "USD 10,000.00 disbursed of USD 30,000.00 awarded" in html
    assert tranche.title in html and "Paid" in html and clock.now.date().isoformat() in html
    assert "2027-06-30" in html  # the due date
    for private in ("Payout account", "Done, see the photos", "Agreement", "@example.org", "BANK-REF"):
        assert private not in html, private


def test_grantee_and_staff_keep_the_full_page(client, login, clock):
    scene = public_scene.build(clock)
    for user in (scene.grantee, scene.manager):
        login(client, user)
        html = client.get(f"/grants/{scene.grant.id}").get_data(as_text=True)
        assert "Payout account" in html, user.email
        client.post("/signout", data={"csrf_token": get_csrf(client, "/")})
    stranger = make_user("innovator", organization=make_org(name="Other Org"))
    login(client, stranger)
    html = client.get(f"/grants/{scene.grant.id}").get_data(as_text=True)
    assert "Implementation progress" in html and "Payout account" not in html


def test_cancelled_and_changed_grants_say_so(client, clock):
    scene = public_scene.build(clock, pay=False)
    html = client.get(f"/grants/{scene.grant.id}").get_data(as_text=True)
    assert "the award differs" not in html and "was cancelled" not in html
    db.session.execute(sa.update(Grant).where(Grant.id == scene.grant.id)
                       .values(status=GrantStatus.CANCELLED, amount_cents=2_500_000))
    db.session.commit()
    html = client.get(f"/grants/{scene.grant.id}").get_data(as_text=True)
    assert "This grant was cancelled." in html and "The proposal asked for USD 30,000.00" in html
    body = client.get(f"/api/v1/grants/{scene.grant.id}").json
    assert body["cancelled"] is True and body["amount_changed"] is True and body["requested_cents"] == 3_000_000


def test_unknown_grant_is_404(client, app):
    assert client.get("/grants/999999").status_code == 404
    assert client.get("/grants/999999/public").status_code == 404
    assert client.get("/api/v1/grants/999999").status_code == 404


def test_api_public_view_and_full_view(client, clock, api_headers):
    scene = public_scene.build(clock)
    public = client.get(f"/api/v1/grants/{scene.grant.id}").json
    assert public["milestones_accepted"] == 1 and public["milestones_total"] == 2
    assert public["disbursed_cents"] == 1_000_000
    assert public["tranches"][0]["paid_on"] == clock.now.date().isoformat()
    assert "payout_account" not in public and "reports" not in public["tranches"][0]
    full = client.get(f"/api/v1/grants/{scene.grant.id}", headers=api_headers(scene.grantee)).json
    assert full["payout_account"]["masked_account"] and full["tranches"][0]["reports"]


def test_grantee_writes_a_public_summary_on_the_page(client, login, clock):
    scene = public_scene.build(clock)
    report = _accepted_report(scene)
    login(client, scene.grantee)
    page = client.get(f"/grants/{scene.grant.id}").get_data(as_text=True)
    assert f'action="/reports/{report.id}/public-summary"' in page
    token = get_csrf(client, f"/grants/{scene.grant.id}")
    field = f"summary-{report.id}-public_summary"
    empty = client.post(f"/reports/{report.id}/public-summary", data={f"summary-{report.id}-csrf_token": token,
                                                                     field: "   "})
    assert empty.status_code == 422 and "Write a short summary." in empty.get_data(as_text=True)
    done = client.post(f"/reports/{report.id}/public-summary",
                       data={f"summary-{report.id}-csrf_token": token, field: "  Two kiosks   serve 400 homes. "})
    assert done.status_code == 302
    assert db.session.get(MilestoneReport, report.id).public_summary == "Two kiosks serve 400 homes."
    client.post("/signout", data={"csrf_token": get_csrf(client, "/")})
    assert "Two kiosks serve 400 homes." in client.get(f"/grants/{scene.grant.id}").get_data(as_text=True)
    assert client.get(f"/api/v1/grants/{scene.grant.id}").json["tranches"][0]["public_summary"] == \
        "Two kiosks serve 400 homes."


def test_public_summary_api(client, clock, api_headers):
    scene = public_scene.build(clock)
    report = _accepted_report(scene)
    path = f"/api/v1/milestone-reports/{report.id}/public-summary"
    ok = client.put(path, json={"public_summary": "Pilot kiosks open."}, headers=api_headers(scene.grantee))
    assert ok.status_code == 200 and ok.json["public_summary"] == "Pilot kiosks open."
    too_long = client.put(path, json={"public_summary": "x" * 1001}, headers=api_headers(scene.grantee))
    assert too_long.status_code == 422 and "public_summary" in too_long.json["errors"]
    assert db.session.get(MilestoneReport, report.id).public_summary == "Pilot kiosks open."


def test_public_summary_refused_to_wrong_role_wrong_org_anonymous(client, login, clock, api_headers):
    scene = public_scene.build(clock)
    report = _accepted_report(scene)
    path = f"/api/v1/milestone-reports/{report.id}/public-summary"
    body = {"public_summary": "Hijacked"}
    assert client.put(path, json=body).status_code == 401  # anonymous
    assert client.put(path, json=body, headers=api_headers(scene.manager)).status_code == 403  # wrong role
    stranger = make_user("innovator", organization=make_org(name="Other Org"))
    assert client.put(path, json=body, headers=api_headers(stranger)).status_code == 404  # wrong organisation
    donor = client.put(path, json=body, headers=api_headers(scene.donor))
    assert donor.status_code in (403, 404)
    # Pages: anonymous is sent to sign in; the fund manager is refused; another organisation sees nothing.
    page = f"/reports/{report.id}/public-summary"
    anonymous = client.post(page, data={"csrf_token": get_csrf(client, "/signin")})
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]
    for user, status in ((scene.manager, 403), (stranger, 404)):
        login(client, user)
        token = get_csrf(client, "/")
        answer = client.post(page, data={"csrf_token": token, f"summary-{report.id}-csrf_token": token,
                                         f"summary-{report.id}-public_summary": "Hijacked"})
        assert answer.status_code == status, user.email
        client.post("/signout", data={"csrf_token": token})
    assert db.session.get(MilestoneReport, report.id).public_summary == ""


def test_public_summary_only_after_acceptance(client, clock, api_headers):
    scene = public_scene.build(clock, pay=False)
    tranche = scene.grant.tranches[1]
    report = milestones.submit_milestone_report(tranche=tranche, actor=scene.grantee, text="Scale done.",
                                                spending=NO_SPENDING)
    db.session.commit()
    answer = client.put(f"/api/v1/milestone-reports/{report.id}/public-summary",
                        json={"public_summary": "Early"}, headers=api_headers(scene.grantee))
    assert answer.status_code == 409


def test_a_finished_challenges_page_lists_its_winners(client, clock):
    scene = public_scene.build(clock, pay=False)
    html = client.get(f"/challenges/{scene.challenge.id}").get_data(as_text=True)
    assert "Winners" in html and f'href="/grants/{scene.grant.id}"' in html and "SolarKiosk" in html
    assert "USD 30,000.00" in html


def test_an_open_challenge_names_no_winner(client, clock):
    scene = public_scene.build(clock, pay=False)
    db.session.execute(sa.update(Challenge).where(Challenge.id == scene.challenge.id)
                       .values(closes_at=clock.now + timedelta(days=5)))
    db.session.commit()
    assert "Winners" not in client.get(f"/challenges/{scene.challenge.id}").get_data(as_text=True)
