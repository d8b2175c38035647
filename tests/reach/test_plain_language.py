"""Plain language (issue 14): pages say what things mean to the reader, never an internal code or message,
and options that cannot work are not offered (card payment and Stripe payouts without Stripe)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.audit.actions import ACTION_LABELS
from facility.audit.models import AuditEvent
from facility.audit.services import record
from facility.core.errors import ValidationFailed
from facility.disbursements import payments, requests
from facility.disbursements.jobs import enqueue_after_commit
from facility.disbursements.models import DisbursementStatus
from facility.disbursements.rails import ManualRail, PaymentStatus, RailResult
from facility.extensions import db
from facility.grants import contributions
from facility.grants.models import Contribution, ContributionStatus, PayoutAccount, PayoutRail
from tests import factories
from tests.conftest import get_csrf
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401 - fixtures

FACILITY = Path(__file__).resolve().parents[2] / "facility"


def _html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def manual_grant(make_challenge, make_proposal, make_user, fund):  # noqa: F811 - fixtures imported above
    """An active grant paid by bank transfer, its first tranche's evidence accepted: (grant, requester,
    approver, grantee)."""
    challenge = make_challenge(max_award_cents=6_000_000)
    proposal = make_proposal(challenge)
    fund(challenge=challenge, pool=3_000_000)
    requester = make_user("fund_manager", name="Ana Requester")
    approver = make_user("fund_manager", name="Ben Approver")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = factories.grants.make_grant(proposal, requester, grantee, rail="manual", accepted_reports=(1,))
    return grant, requester, approver, grantee


def _queued(grant, requester, approver):
    disbursement = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    requests.approve_disbursement(disbursement=disbursement, actor=approver)
    db.session.commit()
    return disbursement


# --- a payment's history ------------------------------------------------------------------------

def test_a_payments_history_says_what_happened_not_what_the_worker_did(manual_grant, signed_in):
    grant, requester, approver, _grantee = manual_grant
    d = _queued(grant, requester, approver)
    payments.claim_disbursement(disbursement_id=d.id)
    payments.record_payment_result(disbursement_id=d.id, result=RailResult(
        PaymentStatus.RETRYABLE, message="The bank did not answer", retry_after_seconds=60),
        enqueue=enqueue_after_commit)
    db.session.commit()
    page = _html(signed_in(requester).get(f"/disbursements/{d.id}"))
    assert "Being paid (attempt 1)." in page
    assert "Attempt 1 did not go through (The bank did not answer); the next attempt is in" in page
    for internal in ("A worker took it", "(try 1)", "Try 1 did not", "worker", "payment job", "payout rail"):
        assert internal not in page, internal


def test_the_bank_transfer_instruction_is_in_words(manual_grant, signed_in):
    grant, requester, approver, _grantee = manual_grant
    d = _queued(grant, requester, approver)
    payments.claim_disbursement(disbursement_id=d.id)
    result = ManualRail().pay(payments.payment_request_for(d))
    payments.record_payment_result(disbursement_id=d.id, result=result, enqueue=enqueue_after_commit)
    db.session.commit()
    assert d.status is DisbursementStatus.AWAITING_CONFIRMATION
    page = _html(signed_in(requester).get(f"/disbursements/{d.id}"))
    assert "To be paid by bank or mobile-money transfer, then confirmed with the bank&#39;s reference." in page
    assert "awaiting_confirmation" not in page.replace("/disbursements?status=awaiting_confirmation", "")


# --- countries ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/challenges", "/results"])
def test_country_filters_offer_country_names_and_keep_the_code(client, path):
    """The filter lists, by name, the countries the facility has cities in (not all 249), the value the code."""
    factories.cities.make_city(name="Kampala", country="UGA")
    db.session.commit()
    page = _html(client.get(path))
    assert "alpha-3" not in page and "ISO 3166" not in page
    select = re.search(r'<select[^>]*name="country".*?</select>', page, re.S)
    assert select, "the country filter is a select"
    assert '<option value="UGA">Uganda</option>' in select.group(0)
    assert 'value="KEN"' not in select.group(0)  # no city in Kenya: not offered
    chosen = _html(client.get(path, query_string={"country": "UGA"}))
    assert re.search(r'<option[^>]*value="UGA"[^>]*selected|<option[^>]*selected[^>]*value="UGA"', chosen)


def test_an_unknown_country_is_refused_in_words(client):
    page = _html(client.get("/results", query_string={"country": "XXX"}))
    assert "Choose a country from the list." in page and "ISO" not in page


# --- the audit trail ---------------------------------------------------------------------------

def test_every_recorded_audit_action_has_words():
    recorded = set()
    for path in FACILITY.rglob("*.py"):
        recorded |= set(re.findall(r'record\(\s*"([a-z_]+\.[a-z_.]+)"', path.read_text(encoding="utf-8")))
    recorded |= {f"disbursement.{status.value}" for status in DisbursementStatus}  # lifecycle's f-string
    assert len(recorded) > 50  # the scan found the calls
    assert sorted(recorded - set(ACTION_LABELS)) == []


def test_audit_pages_lead_with_words_and_keep_the_code_beside_them(app, signed_in, make_user):
    auditor = make_user("auditor")
    record("grant.refunded", actor=None, object_type="Grant", object_id="7", details={"amount_cents": 100})
    db.session.commit()
    browser = signed_in(auditor)
    listing = _html(browser.get("/audit"))
    assert "Money returned by the grantee <small><code>grant.refunded</code></small>" in listing
    event_id = db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "grant.refunded"))
    page = _html(browser.get(f"/audit/events/{event_id}"))
    words, code = page.index("Money returned by the grantee"), page.index("<code>grant.refunded</code>")
    assert words < code
    assert "Grant 7 in the trail" in page


# --- Stripe: offered only where it is configured -------------------------------------------------

def _pledge_page(browser) -> str:
    return _html(browser.get("/contributions"))


def test_without_stripe_no_card_payment_is_offered_or_taken(app, signed_in, make_user, make_org, api_headers):
    donor = make_user("donor", organization=make_org(name="Fund A", kind=OrgKind.DONOR))
    browser = signed_in(donor)
    page = _pledge_page(browser)
    assert 'value="wire"' in page
    assert 'value="stripe"' not in page and "Card, through Stripe" not in page
    posted = browser.post("/contributions", data={"amount": "50", "method": "stripe",
                                                  "csrf_token": get_csrf(browser, "/contributions")})
    assert posted.status_code == 422
    assert "Card payments are not available; pledge by bank transfer (wire) instead." in _html(posted)
    assert db.session.scalar(sa.select(sa.func.count(Contribution.id))) == 0
    api = app.test_client().post("/api/v1/contributions", json={"amount_cents": 5_000, "method": "stripe"},
                                 headers=api_headers(donor))
    assert api.status_code == 422
    assert api.json["errors"]["method"] == ["Card payments are not available; pledge by bank transfer (wire) instead."]
    with pytest.raises(ValidationFailed) as refused:
        contributions.pledge_contribution(actor=donor, amount_cents=5_000, method="stripe")
    assert refused.value.errors == {"method": ["Card payments are not available; pledge by bank transfer (wire) "
                                               "instead."]}


def test_with_stripe_card_payment_is_offered(stripe_on, signed_in, make_user, make_org):
    donor = make_user("donor", organization=make_org(name="Fund B", kind=OrgKind.DONOR))
    page = _pledge_page(signed_in(donor))
    assert 'value="wire"' in page and 'value="stripe"' in page and "Card, through Stripe" in page


def test_a_card_pledge_left_open_links_to_no_checkout_once_stripe_is_gone(app, signed_in, make_user, make_org):
    donor = make_user("donor", organization=make_org(name="Fund C", kind=OrgKind.DONOR))
    with factories.grants.stripe_given():
        pledge = contributions.pledge_contribution(actor=donor, amount_cents=5_000, method="stripe")
    db.session.commit()
    assert pledge.status is ContributionStatus.CHECKOUT_OPEN
    page = _html(signed_in(donor).get(f"/contributions/{pledge.id}"))
    assert "/checkout" not in page and "Pay by card" not in page
    assert "Card payments are not available at the moment. You can pledge by wire instead." in page


def test_without_stripe_no_stripe_payout_is_offered_or_taken(manual_grant, signed_in, app, api_headers):
    grant, _requester, _approver, grantee = manual_grant
    browser = signed_in(grantee)
    page = _html(browser.get(f"/grants/{grant.id}/payout"))
    assert 'value="manual"' in page
    assert 'value="stripe"' not in page and "Stripe account id" not in page
    posted = browser.post(f"/grants/{grant.id}/payout", data={
        "rail": "stripe", "stripe_account_id": "acct_1AbCdEfGh", "current_password": factories.PASSWORD,
        "csrf_token": get_csrf(browser, f"/grants/{grant.id}/payout")})
    assert posted.status_code == 422
    assert "Payouts to a Stripe account are not available; give bank or mobile-money details." in _html(posted)
    api = app.test_client().put(f"/api/v1/grants/{grant.id}/payout-account", headers=api_headers(grantee), json={
        "rail": "stripe", "stripe_account_id": "acct_1AbCdEfGh", "confirm_password": factories.PASSWORD})
    assert api.status_code == 422
    assert api.json["errors"]["rail"] == [
        "Payouts to a Stripe account are not available; give bank or mobile-money details."]
    rails = db.session.scalars(sa.select(PayoutAccount.rail).where(PayoutAccount.grant_id == grant.id)).all()
    assert rails == [PayoutRail.MANUAL]


def test_with_stripe_a_stripe_payout_is_offered(stripe_on, manual_grant, signed_in):
    grant, _requester, _approver, grantee = manual_grant
    page = _html(signed_in(grantee).get(f"/grants/{grant.id}/payout"))
    assert 'value="manual"' in page and 'value="stripe"' in page and "Stripe account id" in page
