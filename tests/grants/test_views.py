"""Pages: facility figures, pledges, wire confirmation, awards, agreements, payout details, evidence, queues."""
import io

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards, contributions, milestones
from facility.grants.models import (
    Contribution,
    ContributionStatus,
    Grant,
    GrantStatus,
    MilestoneReport,
    PayoutAccount,
    TrancheStatus,
)
from facility.ledger.balances import facility_totals
from tests.conftest import PASSWORD, get_csrf
from tests.factories.grants import NO_SPENDING

IBAN = "GB82WEST12345698765432"


def test_facility_page_is_public(client, fund):
    fund(unallocated=250_000_000)
    page = client.get("/facility")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "USD 2,500,000.00" in html and "USD 1,000,000,000.00" in html and "<progress" in html
    assert 'href="/facility"' in client.get("/").get_data(as_text=True)


def test_donor_pledges_wire_and_sees_instructions(client, login, donor):
    login(client, donor)
    token = get_csrf(client, "/contributions")
    response = client.post("/contributions", data={"amount": "1,250.50", "method": "wire", "csrf_token": token})
    assert response.status_code == 302
    contribution = db.session.execute(sa.select(Contribution)).scalar_one()
    assert contribution.amount_cents == 125_050
    page = client.get(response.location).get_data(as_text=True)
    assert contribution.reference in page and "IBAN" in page
    assert contribution.reference in client.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("amount", ["", "abc", "1.001", "-5", "0"])
def test_pledge_form_errors(client, login, donor, amount):
    login(client, donor)
    token = get_csrf(client, "/contributions")
    response = client.post("/contributions", data={"amount": amount, "method": "wire", "csrf_token": token})
    assert response.status_code == 422
    assert 'class="errors"' in response.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(Contribution.id))).scalar_one() == 0


def test_card_pledge_without_checkout_route_keeps_pledge(client, login, donor, stripe_on):
    login(client, donor)
    token = get_csrf(client, "/contributions")
    response = client.post("/contributions", data={"amount": "50", "method": "stripe", "csrf_token": token})
    assert response.status_code == 302
    assert db.session.execute(sa.select(Contribution.status)).scalar_one() == ContributionStatus.CHECKOUT_OPEN


def test_fund_manager_confirms_wire(client, login, donor, make_user):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=100_000, method="wire")
    db.session.commit()
    login(client, make_user("fund_manager"))
    queue = client.get("/staff/contributions").get_data(as_text=True)
    assert contribution.reference in queue
    token = get_csrf(client, f"/contributions/{contribution.id}/confirm")
    bad = client.post(f"/contributions/{contribution.id}/confirm",
                      data={"amount": "1000", "received_on": "2999-01-01", "bank_reference": "FT1", "csrf_token": token})
    assert bad.status_code == 422 and "future" in bad.get_data(as_text=True)
    ok = client.post(f"/contributions/{contribution.id}/confirm", data={
        "amount": "1000", "received_on": utcnow().date().isoformat(), "bank_reference": "FT1", "csrf_token": token})
    assert ok.status_code == 302
    db.session.expire_all()
    assert facility_totals()["raised"] == 100_000
    again = client.post(f"/contributions/{contribution.id}/confirm", data={
        "amount": "1000", "received_on": utcnow().date().isoformat(), "bank_reference": "FT1", "csrf_token": token})
    assert again.status_code == 422 and "already" in again.get_data(as_text=True)
    assert facility_totals()["raised"] == 100_000


def test_contribution_pages_refuse_others(client, login, donor, make_user, make_org):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=100_000, method="wire")
    db.session.commit()
    assert client.get("/contributions").status_code == 302
    assert client.get("/staff/contributions").status_code == 302
    login(client, make_user("donor", organization=make_org(name="Other donor", kind=OrgKind.DONOR)))
    assert client.get(f"/contributions/{contribution.id}").status_code == 404
    assert client.get("/staff/contributions").status_code == 403
    assert client.get(f"/contributions/{contribution.id}/confirm").status_code == 403
    client2 = client.application.test_client()
    login(client2, make_user("innovator"))
    assert client2.get("/contributions").status_code == 403


def test_award_page(client, login, make_challenge, make_proposal, make_user, fund):
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    fund(challenge=challenge, pool=5_000_000)
    manager = make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    login(client, grantee)
    assert client.get(f"/proposals/{proposal.id}/award").status_code == 403
    client2 = client.application.test_client()
    login(client2, manager)
    page = client2.get(f"/proposals/{proposal.id}/award")
    assert page.status_code == 200 and "Milestone 1" in page.get_data(as_text=True)
    token = get_csrf(client2, f"/proposals/{proposal.id}/award")
    bad = client2.post(f"/proposals/{proposal.id}/award", data={
        "amount": "20000", "tranches-0-title": "Only", "tranches-0-amount": "15000", "csrf_token": token})
    assert bad.status_code == 422 and "sum" in bad.get_data(as_text=True)
    response = client2.post(f"/proposals/{proposal.id}/award", data={
        "amount": "20000", "tranches-0-title": "Pilot", "tranches-0-amount": "15000",
        "tranches-1-title": "Report", "tranches-1-amount": "5000", "tranches-1-due_date": "2027-06-30",
        "csrf_token": token})
    assert response.status_code == 302
    grant = db.session.execute(sa.select(Grant)).scalar_one()
    assert [(t.title, t.amount_cents) for t in grant.tranches] == [("Pilot", 1_500_000), ("Report", 500_000)]


def test_grantee_accepts_gives_payout_and_reports(client, login, grant_setup):
    grant, manager, grantee = grant_setup
    login(client, grantee)
    page = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "I accept this agreement" in page
    token = get_csrf(client, f"/grants/{grant.id}")
    assert client.post(f"/grants/{grant.id}/accept", data={"accept-csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert grant.status == GrantStatus.ACTIVE

    form = {"rail": "manual", "account_holder": "Holder", "bank_name": "Bank", "iban": IBAN, "swift": "DBBLBDDH",
            "csrf_token": token}
    assert client.post(f"/grants/{grant.id}/payout", data=form).status_code == 302
    html = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "•••• 5432" in html and IBAN not in html
    change = dict(form, iban="GB33BUKB20201555555555")
    refused = client.post(f"/grants/{grant.id}/payout", data=change)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "current password" in body and "GB33BUKB20201555555555" not in body
    assert client.post(f"/grants/{grant.id}/payout", data=dict(change, current_password=PASSWORD)).status_code == 302
    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count(PayoutAccount.id))).scalar_one() == 2

    tranche = grant.tranches[0]
    response = client.post(f"/tranches/{tranche.id}/evidence", data={
        "text": "Pilot live", "kpis": "households = 120\nwards = 3", "csrf_token": token,
        "spending_personnel": "1,200", "spending_equipment": "0", "spending_services": "300.50",
        "spending_travel": "0", "spending_other": "0",
        "files": [(io.BytesIO(b"%PDF-1.4 evidence"), "proof.pdf")]}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    report = db.session.execute(sa.select(MilestoneReport)).scalar_one()
    assert report.kpi_values == {"households": 120, "wards": 3} and tranche.status == TrancheStatus.EVIDENCE_SUBMITTED
    download = client.get(f"/evidence/{report.files[0].id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 evidence"
    assert "attachment" in download.headers["Content-Disposition"]


def test_evidence_form_errors(client, login, grant_setup):
    grant, _, grantee = grant_setup
    awards.accept_grant(grant=grant, actor=grantee)
    db.session.commit()
    login(client, grantee)
    token = get_csrf(client, f"/grants/{grant.id}")
    response = client.post(f"/tranches/{grant.tranches[0].id}/evidence", data={
        "text": "x", "kpis": "households: many", "csrf_token": token}, content_type="multipart/form-data")
    assert response.status_code == 422 and "name = number" in response.get_data(as_text=True)
    response = client.post(f"/tranches/{grant.tranches[0].id}/evidence", data={
        "text": "x", "csrf_token": token, "files": [(io.BytesIO(b"MZ\x90\x00"), "evil.exe")],
        **{f"spending_{name}": "0" for name in ("personnel", "equipment", "services", "travel", "other")}},
        content_type="multipart/form-data")
    assert response.status_code == 422 and "evil.exe" in response.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count(MilestoneReport.id))).scalar_one() == 0


def test_fund_manager_reviews_evidence(client, login, grant_setup):
    grant, manager, grantee = grant_setup
    awards.accept_grant(grant=grant, actor=grantee)
    report = milestones.submit_milestone_report(tranche=grant.tranches[0], actor=grantee, text="Done", spending=NO_SPENDING)
    db.session.commit()
    login(client, manager)
    assert "Done" not in client.get("/staff/evidence").get_data(as_text=True)
    assert grant.tranches[0].title in client.get("/staff/evidence").get_data(as_text=True)
    token = get_csrf(client, f"/reports/{report.id}")
    empty = client.post(f"/reports/{report.id}", data={"return-comment": "", "return-submit": "1",
                                                         "return-csrf_token": token})
    assert empty.status_code == 422
    response = client.post(f"/reports/{report.id}", data={"return-comment": "More data", "return-submit": "1",
                                                            "return-csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert grant.tranches[0].status == TrancheStatus.PENDING


def test_grant_pages_refuse_others(client, login, grant_setup, make_user, make_org):
    grant, manager, grantee = grant_setup
    report_tranche = grant.tranches[0]
    paths = [f"/grants/{grant.id}/payout", f"/tranches/{report_tranche.id}/evidence"]
    for path in paths + ["/grants/mine", "/staff/evidence"]:
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.location
    # The grant's own page is public, but only its public view: no agreement, no payout details.
    public = client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "Implementation progress" in public and "Payout account" not in public
    login(client, make_user("innovator", organization=make_org(name="Elsewhere")))
    for path in paths:
        assert client.get(path).status_code == 404
    assert "Payout account" not in client.get(f"/grants/{grant.id}").get_data(as_text=True)
    token = get_csrf(client, "/grants")
    assert client.post(f"/grants/{grant.id}/accept", data={"accept-csrf_token": token}).status_code == 404
    assert client.get("/staff/evidence").status_code == 403
    assert client.get(f"/proposals/{grant.proposal_id}/award").status_code == 403
    client2 = client.application.test_client()
    login(client2, manager)
    assert client2.get(f"/grants/{grant.id}").status_code == 200
    assert client2.get(f"/grants/{grant.id}/payout").status_code == 403
    db.session.expire_all()
    assert grant.status == GrantStatus.OFFERED


def test_dashboard_panels(client, login, grant_setup, donor):
    grant, manager, grantee = grant_setup
    login(client, grantee)
    assert "Read and accept the agreement" in client.get("/dashboard").get_data(as_text=True)
    client2 = client.application.test_client()
    login(client2, manager)
    assert "Milestone reports to review" in client2.get("/dashboard").get_data(as_text=True)


def test_list_pages_query_count_flat(client, login, donor, make_user, count_queries):
    for _ in range(2):
        contributions.pledge_contribution(actor=make_user("donor", organization=donor.organization),
                                     amount_cents=10_000, method="wire")
    db.session.commit()
    login(client, make_user("fund_manager"))
    with count_queries() as few:
        assert client.get("/staff/contributions").status_code == 200
    for _ in range(8):
        contributions.pledge_contribution(actor=make_user("donor"), amount_cents=10_000, method="wire")
    db.session.commit()
    with count_queries() as many:
        assert client.get("/staff/contributions").status_code == 200
    assert many() == few()


def test_grant_list_query_count_flat(client, login, make_challenge, make_proposal, make_user, fund, count_queries):
    manager = make_user("fund_manager")
    challenge = make_challenge(max_award_cents=10_000_000, prize_pool_cents=100_000_000)
    fund(challenge=challenge, pool=100_000_000)

    def award_one():
        awards.award_proposal(proposal=make_proposal(challenge), actor=manager, amount_cents=3_000_000)
        db.session.commit()

    award_one()
    login(client, manager)
    with count_queries() as few:
        assert client.get("/grants/mine").status_code == 200
    for _ in range(5):
        award_one()
    with count_queries() as many:
        assert client.get("/grants/mine").status_code == 200
    assert many() == few()
