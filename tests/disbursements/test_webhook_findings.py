"""Findings on the Stripe webhook: ids beyond the database's integers (a 500, and the event lost, on
PostgreSQL), signatures dated in the future, and outcomes that said more than what happened."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.audit.models import AuditEvent
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus, StripeEvent
from facility.extensions import db
from facility.grants import contributions
from facility.grants.models import Contribution, ContributionStatus
from facility.ledger.balances import facility_totals
from facility.ledger.verify import verify_ledger
from tests.disbursements.conftest import WEBHOOK_SECRET
from tests.fakes.stripe_server import checkout_session_completed_event, signed_event, transfer_reversed_event

S = DisbursementStatus


def _send(client, event: dict, *, timestamp: int | None = None):
    body, signature = signed_event(event, WEBHOOK_SECRET, timestamp)
    return client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": signature},
                       content_type="application/json")


def _stored(event_id: str) -> bool:
    db.session.expire_all()
    return db.session.get(StripeEvent, event_id) is not None


def _ignored_reasons(event_id: str) -> list[str]:
    return [row.details["reason"] for row in db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "stripe.event_ignored",
                                    AuditEvent.object_id == event_id)).scalars()]


@pytest.fixture
def card_pledge(paying_app, make_user, make_org):
    donor = make_user("donor", organization=make_org(name="Foundation", kind=OrgKind.DONOR, country="NOR"))
    contribution = contributions.pledge_contribution(actor=donor, amount_cents=250_000, method="stripe")
    db.session.commit()
    return contribution


# --- ids the database cannot hold ------------------------------------------------------------------

@pytest.mark.parametrize("bad_id", [2**31, 2**31 + 7, 2**63, 10**30, -5, 0, "12abc", "١٢"])
def test_a_contribution_id_that_cannot_be_ours_is_stored_and_ignored(client, card_pledge, bad_id):
    event = checkout_session_completed_event(contribution_id=bad_id, amount_cents=250_000)
    response = _send(client, event)
    assert response.status_code == 200
    assert response.json["outcome"].startswith("ignored: contribution id")
    assert _stored(event["id"])
    assert _ignored_reasons(event["id"]) and "not one of ours" in _ignored_reasons(event["id"])[0]
    assert facility_totals()["raised"] == 0
    # Stripe sends it again: nothing new happens.
    assert _send(client, event).json["outcome"] == "duplicate"


@pytest.mark.parametrize("bad_id", [2**31, 2**40, "x"])
def test_a_disbursement_id_that_cannot_be_ours_is_stored_and_ignored(client, paying_app, bad_id):
    transfer = {"id": "tr_1", "object": "transfer", "amount": 100, "currency": "usd",
                "metadata": {"disbursement_id": str(bad_id)}, "reversed": True, "amount_reversed": 100}
    event = transfer_reversed_event(transfer=transfer)
    response = _send(client, event)
    assert response.status_code == 200 and response.json["outcome"].startswith("ignored: disbursement id")
    assert _stored(event["id"])


def test_metadata_that_is_not_an_object_is_no_500(client, card_pledge):
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    event["data"]["object"]["metadata"] = "contribution_id"
    event["data"]["object"]["client_reference_id"] = None
    response = _send(client, event)
    assert response.status_code == 200 and response.json["outcome"] == "no contribution"


# --- the timestamp, both ways ---------------------------------------------------------------------

@pytest.mark.parametrize("ahead", [1_000, 121 + 5, 10**6])
def test_a_signature_dated_in_the_future_is_refused(client, card_pledge, paying_app, monkeypatch, ahead):
    monkeypatch.setitem(paying_app.config, "STRIPE_WEBHOOK_TOLERANCE", 120)
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    response = _send(client, event, timestamp=int(time.time()) + ahead)
    assert response.status_code == 400 and response.json["error"] == "future_timestamp"
    assert not _stored(event["id"]) and facility_totals()["raised"] == 0


def test_a_little_clock_skew_ahead_is_accepted(client, card_pledge, paying_app, monkeypatch):
    monkeypatch.setitem(paying_app.config, "STRIPE_WEBHOOK_TOLERANCE", 120)
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    assert _send(client, event, timestamp=int(time.time()) + 60).json["outcome"] == "contribution booked"


# --- outcomes say what happened -------------------------------------------------------------------

def test_the_same_session_again_says_already_booked(client, card_pledge):
    event = checkout_session_completed_event(contribution_id=card_pledge.id, amount_cents=250_000)
    assert _send(client, event).json["outcome"] == "contribution booked"
    again = checkout_session_completed_event(session=event["data"]["object"])
    assert _send(client, again).json["outcome"] == "already booked"
    db.session.expire_all()
    assert db.session.get(Contribution, card_pledge.id).status is ContributionStatus.RECEIVED
    assert facility_totals()["raised"] == 250_000


def test_a_reversal_for_an_unpaid_disbursement_does_not_claim_to_be_reflected(client, payable, fake_stripe):
    grant, requester, _, _ = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    fake = {"id": "tr_1", "object": "transfer", "amount": 1_000_000, "currency": "usd",
            "metadata": {"disbursement_id": str(d.id)}, "reversed": True, "amount_reversed": 1_000_000}
    response = _send(client, transfer_reversed_event(transfer=fake))
    assert response.status_code == 200 and response.json["outcome"] == "not paid: nothing to reverse"
    unknown = {**fake, "metadata": {"disbursement_id": "999999"}}
    assert _send(client, transfer_reversed_event(transfer=unknown)).json["outcome"] == \
        "unknown disbursement: nothing reversed"
    db.session.expire_all()
    assert db.session.get(Disbursement, d.id).status is S.REQUESTED and verify_ledger() == []
