"""Stripe webhooks (signature, timestamp, once per event id, card contributions, transfer reversals) and card checkout."""
from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
import stripe

from facility.accounts.models import OrgKind
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus, StripeEvent
from facility.extensions import db
from facility.grants import contributions
from facility.grants.models import Contribution, ContributionStatus, TrancheStatus
from facility.ledger.balances import balance, facility_totals
from facility.ledger.services import commitment_code
from facility.ledger.verify import verify_ledger
from tests.disbursements.conftest import WEBHOOK_SECRET
from tests.fakes.stripe_server import (
    checkout_session_completed_event,
    make_event,
    sign_payload,
    signed_event,
    transfer_reversed_event,
)

S = DisbursementStatus


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


def _events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent))


def _post(client, body: bytes, signature: str | None):
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return client.post("/webhooks/stripe", data=body, headers=headers, content_type="application/json")


def _send(client, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    body, signature = signed_event(event, secret, timestamp)
    return _post(client, body, signature)


@pytest.fixture
def donor(make_user, make_org):
    return make_user("donor", organization=make_org(name="Foundation", kind=OrgKind.DONOR, country="NOR"))


@pytest.fixture
def card_pledge(paying_app, donor):
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=250_000, method="stripe")
    db.session.commit()
    return contribution


def _raised() -> int:
    db.session.expire_all()
    return facility_totals()["raised"]


# --- verification ---------------------------------------------------------------------------

def test_forged_signature_is_refused_and_changes_nothing(client, card_pledge):
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    for secret in ("whsec_someone_else", ""):
        response = _send(client, event, secret=secret or "x")
        assert response.status_code == 400 and response.json["error"] == "bad_signature"
    body, signature = signed_event(event, WEBHOOK_SECRET)
    tampered = body.replace(b"250000", b"990000")
    assert _post(client, tampered, signature).json["error"] == "bad_signature"
    assert _post(client, body, None).json["error"] == "missing_signature"
    assert _post(client, body, "t=1,v1=deadbeef").status_code == 400
    assert _raised() == 0 and _events() == 0
    assert db.session.get(Contribution, card_pledge.id).status is ContributionStatus.CHECKOUT_OPEN


def test_stale_timestamp_is_refused(client, card_pledge, paying_app, monkeypatch):
    monkeypatch.setitem(paying_app.config, "STRIPE_WEBHOOK_TOLERANCE", 120)
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    response = _send(client, event, timestamp=int(time.time()) - 121 - 5)
    assert response.status_code == 400 and response.json["error"] == "stale_timestamp"
    assert _raised() == 0 and _events() == 0
    # Within the tolerance it is accepted.
    assert _send(client, event, timestamp=int(time.time()) - 60).status_code == 200
    assert _raised() == 250_000


def test_unconfigured_or_malformed_webhooks_are_refused(client, card_pledge, paying_app, monkeypatch):
    body = b'{"id": "evt_1", "type": "checkout.session.completed"}'
    assert _post(client, body, sign_payload(body, WEBHOOK_SECRET)).json["error"] == "malformed"
    assert _post(client, b"not json", sign_payload(b"not json", WEBHOOK_SECRET)).json["error"] == "malformed"
    monkeypatch.setitem(paying_app.config, "STRIPE_WEBHOOK_SECRET", None)
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    response = _send(client, event)
    assert response.status_code == 400 and response.json["error"] == "missing_secret"
    assert _raised() == 0 and _events() == 0


def test_webhooks_need_no_csrf_token_nor_session(client, card_pledge):
    # A signed POST without any cookie or form token is accepted: Stripe has none.
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    assert _send(client, event).status_code == 200


# --- card contributions -----------------------------------------------------------------------

def test_checkout_completed_books_the_card_pledge_once(client, card_pledge):
    before = facility_totals()
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    body, signature = signed_event(event, WEBHOOK_SECRET)
    response = _post(client, body, signature)
    assert response.status_code == 200 and response.json == {"received": True, "outcome": "contribution booked"}
    after = facility_totals()
    assert after["raised"] == before["raised"] + 250_000
    assert after["unallocated"] == before["unallocated"] + 250_000
    contribution = db.session.get(Contribution, card_pledge.id)
    db.session.refresh(contribution)
    assert contribution.status is ContributionStatus.RECEIVED

    replay = _post(client, body, signature)
    assert replay.status_code == 200 and replay.json["outcome"] == "duplicate"
    # Stripe may also send the same session under a new event id: still booked once.
    again = checkout_session_completed_event(session=event["data"]["object"])
    assert _send(client, again).json["outcome"] == "already booked"
    assert _raised() == before["raised"] + 250_000 and _events() == 2
    assert verify_ledger() == []


def test_unknown_or_unpaid_contributions_are_not_booked(client, card_pledge, donor):
    unknown = _send(client, checkout_session_completed_event(contribution_id=999_999, amount_cents=250_000))
    assert unknown.status_code == 200 and unknown.json["outcome"].startswith("refused")
    garbage = _send(client, checkout_session_completed_event(contribution_id="drop table", amount_cents=250_000))
    assert garbage.status_code == 200 and garbage.json["outcome"].startswith("ignored: contribution id")
    unpaid = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    assert _send(client, unpaid).json["outcome"] == "not paid yet"
    wire = contributions.pledge_contribution(actor=donor, amount_cents=100_000, method="wire")
    db.session.commit()
    refused = _send(client, checkout_session_completed_event(contribution_id=wire.id, amount_cents=100_000))
    assert refused.status_code == 200 and refused.json["outcome"].startswith("refused")
    other = _send(client, make_event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert other.status_code == 200 and other.json["outcome"] == "ignored"
    assert _raised() == 0 and _events() == 5
    assert db.session.get(Contribution, card_pledge.id).status is ContributionStatus.CHECKOUT_OPEN


# --- card checkout page --------------------------------------------------------------------------

def test_checkout_redirects_the_donor_to_stripe_and_the_webhook_books_it(signed_in, card_pledge, donor,
                                                                         fake_stripe, client):
    browser = signed_in(donor)
    response = browser.get(f"/contributions/{card_pledge.id}/checkout")
    assert response.status_code == 303
    [session] = fake_stripe.sessions.values()
    assert response.location == session["url"] and session["url"].startswith(fake_stripe.url)
    assert (session["amount_total"], session["client_reference_id"]) == (250_000, str(card_pledge.id))
    assert session["customer_email"] == donor.email
    assert session["success_url"].endswith(f"/contributions/{card_pledge.id}?checkout=done")
    # Going back to Stripe reuses the session (one per contribution).
    assert browser.get(f"/contributions/{card_pledge.id}/checkout").location == session["url"]
    assert len(fake_stripe.sessions) == 1

    paid = fake_stripe.complete_checkout_session(session["id"])
    assert _send(client, checkout_session_completed_event(session=paid)).json["outcome"] == "contribution booked"
    assert _raised() == 250_000
    # Once paid there is nothing to check out.
    after = browser.get(f"/contributions/{card_pledge.id}/checkout")
    assert after.status_code == 302 and after.location.endswith(f"/contributions/{card_pledge.id}")
    assert "not waiting for a card payment" in browser.get(after.location).get_data(as_text=True)


def test_checkout_is_for_the_pledging_donor_only(signed_in, client, card_pledge, donor, make_user, make_org,
                                                fake_stripe):
    path = f"/contributions/{card_pledge.id}/checkout"
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/signin" in anonymous.location
    other_donor = make_user("donor", organization=make_org(name="Other", kind=OrgKind.DONOR))
    colleague = make_user("donor", organization=donor.organization)
    for user, status in ((other_donor, 404), (make_user("innovator"), 404), (make_user("city_official"), 404),
                         (colleague, 403), (make_user("fund_manager"), 403), (make_user("admin"), 403)):
        assert signed_in(user).get(path).status_code == status, user.email
    assert signed_in(donor).get("/contributions/999999/checkout").status_code == 404
    assert fake_stripe.sessions == {}


def test_checkout_without_stripe_says_so_and_redirects(signed_in, card_pledge, donor, paying_app, monkeypatch,
                                                       fake_stripe):
    monkeypatch.setitem(paying_app.config, "STRIPE_API_KEY", None)
    browser = signed_in(donor)
    response = browser.get(f"/contributions/{card_pledge.id}/checkout")
    assert response.status_code == 302 and response.location.endswith(f"/contributions/{card_pledge.id}")
    page = browser.get(response.location).get_data(as_text=True)
    assert "Card payments are not available at the moment. You can pledge by wire instead." in page
    assert "STRIPE_API_KEY" not in page  # no configuration details for donors
    assert fake_stripe.sessions == {}


def test_checkout_when_stripe_fails_says_so_and_redirects(signed_in, card_pledge, donor, fake_stripe):
    fake_stripe.add_fault("500", count=1, path="/v1/checkout/sessions", method="POST")
    browser = signed_in(donor)
    response = browser.get(f"/contributions/{card_pledge.id}/checkout")
    assert response.status_code == 302
    page = browser.get(response.location).get_data(as_text=True)
    assert "Card payments cannot be taken right now. Try again later or pledge by wire." in page
    assert browser.get(f"/contributions/{card_pledge.id}/checkout").status_code == 303  # later it works


# --- transfer reversals -----------------------------------------------------------------------------

@pytest.fixture
def paid_by_stripe(payable, run_jobs, fake_stripe):
    grant, requester, approver, grantee = payable()
    commitment_before = balance(commitment_code(grant.id))
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    d = _fresh(d.id)
    assert d.status is S.PAID
    return d, grant, approver, commitment_before


def _reverse_at_stripe(fake_stripe, transfer_id: str) -> dict:
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake_stripe.url}, max_network_retries=0)
    client.v1.transfers.reversals.create(transfer_id)
    return json.loads(json.dumps(fake_stripe.transfers[transfer_id]))


def test_transfer_reversed_gives_the_money_back_to_the_commitment(client, paid_by_stripe, fake_stripe):
    d, grant, approver, commitment_before = paid_by_stripe
    assert balance(commitment_code(grant.id)) == commitment_before - 1_000_000
    disbursed_before = facility_totals()["disbursed"]
    transfer = _reverse_at_stripe(fake_stripe, d.provider_reference)
    body, signature = signed_event(transfer_reversed_event(transfer=transfer), WEBHOOK_SECRET)
    response = _post(client, body, signature)
    assert response.status_code == 200 and response.json["outcome"] == "reversal reflected"
    d = _fresh(d.id)
    assert d.status is S.FAILED and d.ledger_transaction_id is None and d.paid_at is None
    assert d.tranche.status is TrancheStatus.DISBURSING
    assert "reversed" in d.last_error and d.events[-1].to_status == "failed"
    assert balance(commitment_code(grant.id)) == commitment_before
    assert facility_totals()["disbursed"] == disbursed_before - 1_000_000
    assert verify_ledger() == []
    # The same event again changes nothing.
    assert _post(client, body, signature).json["outcome"] == "duplicate"
    assert balance(commitment_code(grant.id)) == commitment_before
    # A reversal event for a transfer the disbursement does not know changes nothing either.
    stray = transfer_reversed_event(transfer={**transfer, "id": "tr_unknown"})
    assert _send(client, stray).status_code == 200
    assert _fresh(d.id).status is S.FAILED and verify_ledger() == []


def test_a_reversed_disbursement_is_requeued_and_paid_with_a_new_transfer(client, paid_by_stripe, fake_stripe,
                                                                        run_jobs):
    d, grant, approver, commitment_before = paid_by_stripe
    old = d.provider_reference
    transfer = _reverse_at_stripe(fake_stripe, old)
    assert _send(client, transfer_reversed_event(transfer=transfer)).json["outcome"] == "reversal reflected"
    requests.requeue_disbursement(disbursement=_fresh(d.id), actor=approver)
    db.session.commit()
    run_jobs()
    d = _fresh(d.id)
    assert d.status is S.PAID and d.provider_reference not in (None, old)
    live = [t for t in fake_stripe.transfers.values() if not t["reversed"]]
    assert [t["id"] for t in live] == [d.provider_reference]
    assert fake_stripe.transfers[old]["reversed"] is True and len(fake_stripe.transfers) == 2
    # The money left the commitment again, once, and the ledger agrees with the disbursement.
    assert verify_ledger() == []
    assert balance(commitment_code(grant.id)) == commitment_before - 1_000_000
    assert d.ledger_transaction_id is not None


def test_reversal_webhook_for_an_unpaid_disbursement_changes_nothing(client, payable, fake_stripe):
    grant, requester, _, _ = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    fake = {"id": "tr_1", "object": "transfer", "amount": 1_000_000, "currency": "usd",
            "metadata": {"disbursement_id": str(d.id)}, "reversed": False, "amount_reversed": 0}
    assert _send(client, transfer_reversed_event(transfer=fake)).status_code == 200
    assert _send(client, transfer_reversed_event(transfer={**fake, "metadata": {}})).json["outcome"] == \
        "no disbursement"
    assert _fresh(d.id).status is S.REQUESTED and verify_ledger() == []


def test_payout_failed_is_noted_on_the_timeline_and_told_without_moving_money(client, paid_by_stripe):
    from facility.core.mail import OutboundEmail
    from tests.fakes.stripe_server import payout_failed_event

    d, grant, approver, _ = paid_by_stripe
    totals = facility_totals()
    mails_before = db.session.scalar(sa.select(sa.func.count(OutboundEmail.id)))
    event = payout_failed_event(account="acct_1Grantee01", amount_cents=d.amount_cents,
                                failure_message="The bank account has been closed.")
    response = _send(client, event)
    assert response.status_code == 200 and response.json["outcome"] == "payout failure noted"
    d = _fresh(d.id)
    assert d.status is S.PAID and "bank account has been closed" in d.events[-1].note
    assert facility_totals() == totals and verify_ledger() == []
    assert db.session.scalar(sa.select(sa.func.count(OutboundEmail.id))) > mails_before
    # Another account's payout, or the same event again, changes nothing.
    other = payout_failed_event(account="acct_1Grantee02", amount_cents=1)
    assert _send(client, other).json["outcome"] == "no disbursement"
    assert _send(client, event).json["outcome"] == "duplicate"
    assert len(_fresh(d.id).events) == len(d.events)
