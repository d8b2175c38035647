"""The Stripe gateway against the fake Stripe server, through the real `stripe` package."""
from __future__ import annotations

import json
import logging
import threading
import time
from decimal import Decimal

import pytest
import stripe

from facility.disbursements import stripe_gateway
from facility.disbursements.stripe_gateway import (
    IN_PROGRESS_RETRY_AFTER,
    NETWORK_RETRY_AFTER,
    RATE_LIMIT_RETRY_AFTER,
    GatewayError,
    GatewayNotConfigured,
    TransferStatus,
    WebhookRejected,
)
from tests.disbursements.conftest import CLIENT_TIMEOUT, WEBHOOK_SECRET
from tests.fakes.stripe_server import (
    DECLINE_MESSAGE,
    checkout_session_completed_event,
    make_event,
    sign_payload,
    signed_event,
    transfer_reversed_event,
)


def pay(disbursement_id=7, amount_cents=250_000, destination="acct_ok_1", **options):
    return stripe_gateway.transfer_for_disbursement(disbursement_id=disbursement_id, amount_cents=amount_cents,
                                                    destination=destination, grant_reference="UIF-G-0042", **options)


def stripe_client(fake) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_x", base_addresses={"api": fake.url}, max_network_retries=0)


# --- transfers -----------------------------------------------------------------

def test_transfer_is_looked_up_then_created_with_an_idempotency_key(gateway_app, fake_stripe):
    result = pay()

    assert result.status is TransferStatus.PAID and result.paid
    assert not result.found_existing
    [transfer] = fake_stripe.transfers.values()
    assert result.transfer_id == transfer["id"]
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (250_000, "usd", "acct_ok_1")
    assert transfer["transfer_group"] == "disbursement-7"
    assert transfer["metadata"] == {"disbursement_id": "7", "grant_reference": "UIF-G-0042", "attempt": "0"}
    # Then what the connected account received is read from its destination payment (on that account).
    assert [(r["method"], r["path"]) for r in fake_stripe.requests] == [
        ("GET", "/v1/transfers"), ("POST", "/v1/transfers"), ("GET", f"/v1/charges/{transfer['destination_payment']}")]
    assert fake_stripe.requests[2]["headers"]["Stripe-Account"] == "acct_ok_1"
    assert result.received == stripe_gateway.Received("usd", 250_000, None)
    assert fake_stripe.requests[0]["params"]["transfer_group"] == "disbursement-7"
    assert fake_stripe.requests[1]["idempotency_key"] == "disbursement-7-transfer"


def test_paying_again_finds_the_transfer_instead_of_making_another(gateway_app, fake_stripe):
    first = pay()
    second = pay()
    assert second.paid and second.found_existing
    assert second.transfer_id == first.transfer_id
    assert len(fake_stripe.transfers) == 1
    assert len(fake_stripe.requests_to("POST", "/v1/transfers")) == 1


def test_lost_answer_then_retry_makes_one_transfer(gateway_app, fake_stripe):
    """The classic unknown outcome: Stripe made the transfer, the answer never arrived."""
    fake_stripe.add_fault("lose_answer", method="POST", path="/v1/transfers")

    first = pay()
    assert first.retryable
    assert first.retry_after_seconds == NETWORK_RETRY_AFTER
    assert "unknown" in first.message
    assert len(fake_stripe.transfers) == 1  # it did happen

    retry = pay()
    assert retry.paid and retry.found_existing
    assert retry.transfer_id == next(iter(fake_stripe.transfers))
    assert len(fake_stripe.transfers) == 1
    assert len(fake_stripe.requests_to("POST", "/v1/transfers")) == 1  # found by the look-up, not re-sent


def test_lost_answer_and_a_failed_look_up_still_make_one_transfer(gateway_app, fake_stripe):
    """If the look-up itself fails the attempt stops: the gateway never creates without looking first."""
    fake_stripe.add_fault("lose_answer", method="POST", path="/v1/transfers")
    assert pay().retryable
    fake_stripe.add_fault("500", method="GET", path="/v1/transfers")
    assert pay().retryable
    assert pay().paid
    assert len(fake_stripe.transfers) == 1


def test_time_out_before_stripe_acted_then_retry_reuses_the_key(gateway_app, fake_stripe):
    fake_stripe.add_fault("timeout", method="POST", path="/v1/transfers")
    assert pay().retryable
    assert fake_stripe.transfers == {}
    assert pay().paid
    posts = fake_stripe.requests_to("POST", "/v1/transfers")
    assert [p["idempotency_key"] for p in posts] == ["disbursement-7-transfer"] * 2
    assert len(fake_stripe.transfers) == 1


def test_slow_commit_while_retrying_is_told_in_progress_and_makes_one_transfer(gateway_app, fake_stripe):
    fake_stripe.add_fault("timeout_after_commit", method="POST", path="/v1/transfers", seconds=CLIENT_TIMEOUT + 1)
    assert pay().retryable  # timed out; Stripe is still working on it
    busy = pay()  # look-up finds nothing yet; the create meets the running request
    assert busy.retryable
    assert busy.code == "idempotency_key_in_use"
    assert busy.retry_after_seconds == IN_PROGRESS_RETRY_AFTER
    deadline = time.monotonic() + 10
    while not fake_stripe.transfers and time.monotonic() < deadline:  # let Stripe finish
        time.sleep(0.05)
    done = pay()
    assert done.paid and done.found_existing
    assert len(fake_stripe.transfers) == 1


def test_two_workers_racing_make_one_transfer(gateway_app, fake_stripe):
    """Both pass the look-up before either transfer exists; the idempotency key keeps it to one."""
    fake_stripe.add_fault("delay", method="POST", path="/v1/transfers", seconds=0.15)
    results = []

    def worker():
        with gateway_app.app_context():
            results.append(pay())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake_stripe.transfers) == 1
    assert {r.status for r in results} <= {TransferStatus.PAID, TransferStatus.RETRYABLE}
    assert any(r.paid for r in results)
    assert {r.transfer_id for r in results if r.paid} == set(fake_stripe.transfers)
    assert pay().paid and len(fake_stripe.transfers) == 1


@pytest.mark.parametrize("kind, wait", [("500", NETWORK_RETRY_AFTER), ("429", RATE_LIMIT_RETRY_AFTER),
                                        ("timeout", NETWORK_RETRY_AFTER)])
def test_temporary_trouble_is_retryable(gateway_app, fake_stripe, kind, wait):
    fake_stripe.add_fault(kind, method="POST", path="/v1/transfers")
    result = pay()
    assert result.status is TransferStatus.RETRYABLE
    assert result.transfer_id is None
    assert result.retry_after_seconds == wait
    assert result.message
    assert fake_stripe.transfers == {}


def test_rate_limit_wait_follows_retry_after(gateway_app, fake_stripe):
    fake_stripe.add_fault("429", method="GET", path="/v1/transfers", retry_after=7)
    result = pay()
    assert result.retryable and result.retry_after_seconds == 7
    assert result.code == "rate_limit"


def test_decline_fails_with_stripes_message(gateway_app, fake_stripe):
    result = pay(destination="acct_declined")
    assert result.status is TransferStatus.FAILED and result.failed
    assert result.message == DECLINE_MESSAGE
    assert result.code == "insufficient_capabilities_for_transfer"
    assert fake_stripe.transfers == {}


def test_unknown_destination_fails(gateway_app, fake_stripe):
    result = pay(destination="acct_gone")
    assert result.failed
    assert result.message == "No such destination: 'acct_gone'"
    assert result.code == "resource_missing"


def test_missing_destination_fails_without_calling_stripe(gateway_app, fake_stripe):
    result = pay(destination="")
    assert result.failed and result.code == "no_destination"
    assert fake_stripe.requests == []


def test_unconfigured_stripe_fails_without_calling_it(gateway_app, fake_stripe):
    gateway_app.config["STRIPE_API_KEY"] = None
    result = pay()
    assert result.failed and result.code == "not_configured"
    assert fake_stripe.requests == []


def test_bad_api_key_fails(gateway_app, fake_stripe):
    gateway_app.config["STRIPE_API_KEY"] = "sk_live_wrong"
    result = pay()
    assert result.failed
    assert "API Key" in result.message


@pytest.mark.parametrize("field, value", [("amount_cents", 0), ("amount_cents", -5), ("amount_cents", 1.5),
                                          ("amount_cents", True), ("disbursement_id", 0), ("attempt", -1)])
def test_programming_errors_raise_before_calling_stripe(gateway_app, fake_stripe, field, value):
    with pytest.raises(ValueError):
        pay(**{field: value})
    assert fake_stripe.requests == []


def test_look_up_ignores_other_transfers_in_the_group(gateway_app, fake_stripe):
    client = stripe_client(fake_stripe)
    client.v1.transfers.create({"amount": 1, "currency": "usd", "destination": "acct_ok_1",
                                "transfer_group": "disbursement-7", "metadata": {"disbursement_id": "70"}})
    result = pay()
    assert result.paid and not result.found_existing
    assert len(fake_stripe.transfers) == 2


def test_existing_transfer_that_differs_is_not_paid_again(gateway_app, fake_stripe):
    first = pay(amount_cents=100)
    result = pay(amount_cents=200)
    assert result.failed and result.code == "transfer_mismatch"
    assert result.transfer_id == first.transfer_id
    assert first.transfer_id in result.message
    assert len(fake_stripe.transfers) == 1


def test_after_a_full_reversal_a_new_attempt_pays_again(gateway_app, fake_stripe):
    first = pay()
    stripe_client(fake_stripe).v1.transfers.reversals.create(first.transfer_id)

    same_attempt = pay()  # Stripe replays the reversed transfer under the old key
    assert same_attempt.failed and same_attempt.code == "transfer_reversed"

    second = pay(attempt=1)
    assert second.paid and second.transfer_id != first.transfer_id
    assert fake_stripe.requests_to("POST", "/v1/transfers")[-1]["idempotency_key"] == "disbursement-7-transfer-1"
    assert pay(attempt=1).found_existing  # and now that one is found


def test_logs_carry_no_secrets(gateway_app, fake_stripe, caplog):
    caplog.set_level(logging.DEBUG)
    fake_stripe.add_fault("lose_answer", method="POST", path="/v1/transfers")
    pay()
    pay()
    pay(disbursement_id=8, destination="acct_declined")
    assert "disbursement 7" in caplog.text
    assert "sk_test_x" not in caplog.text
    assert WEBHOOK_SECRET not in caplog.text


@pytest.mark.slow
def test_random_faults_over_many_transfers_pay_each_disbursement_once(gateway_app, fake_stripe):
    # Shorter waits keep the run quick; a spurious time-out here only means one more retry.
    gateway_app.config["STRIPE_TIMEOUT_SECONDS"] = 0.2
    fake_stripe.hang_seconds = 0.35
    fake_stripe.set_fault_rate(0.10, seed=2024)
    paid: dict[int, str] = {}
    for disbursement_id in range(1, 201):
        for _ in range(100):
            result = pay(disbursement_id=disbursement_id, amount_cents=1000 + disbursement_id)
            if result.paid:
                paid[disbursement_id] = result.transfer_id
                break
            assert result.retryable, result
            if result.code == "idempotency_key_in_use":
                time.sleep(0.05)
        else:
            pytest.fail(f"disbursement {disbursement_id} never got paid")
    fake_stripe.clear_faults()

    faults = {r["fault"] for r in fake_stripe.requests}
    assert {"500", "429", "timeout", "lose_answer"} <= faults  # the run did meet trouble
    transfers = list(fake_stripe.transfers.values())
    assert len(transfers) == 200
    by_disbursement = {int(t["metadata"]["disbursement_id"]): t for t in transfers}
    assert len(by_disbursement) == 200
    assert {d: t["id"] for d, t in by_disbursement.items()} == paid
    assert all(t["amount"] == 1000 + d for d, t in by_disbursement.items())


# --- checkout ------------------------------------------------------------------

def checkout(contribution_id=11, amount_cents=50_000):
    return stripe_gateway.create_checkout_session(
        contribution_id=contribution_id, amount_cents=amount_cents, donor_email="donor@example.org",
        success_url="https://facility.example/contributions/11/thanks?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://facility.example/contributions/11")


def test_checkout_session(gateway_app, fake_stripe):
    session_id, url = checkout()
    session = fake_stripe.sessions[session_id]
    assert url == session["url"]
    assert (session["mode"], session["currency"], session["amount_total"]) == ("payment", "usd", 50_000)
    assert session["client_reference_id"] == "11"
    assert session["metadata"] == {"contribution_id": "11"}
    assert session["customer_email"] == "donor@example.org"
    assert session["success_url"].endswith("session={CHECKOUT_SESSION_ID}")
    [request] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert request["idempotency_key"] == "contribution-11-checkout"
    assert request["params"]["payment_intent_data"]["metadata"] == {"contribution_id": "11"}


def test_checkout_session_is_made_once_per_contribution(gateway_app, fake_stripe):
    assert checkout() == checkout()
    assert len(fake_stripe.sessions) == 1
    fake_stripe.complete_checkout_session(checkout().session_id)
    retrieved = stripe_gateway.retrieve_checkout_session(checkout().session_id)
    assert (retrieved.payment_status, retrieved.client_reference_id) == ("paid", "11")


def test_checkout_trouble_raises_gateway_errors(gateway_app, fake_stripe):
    fake_stripe.add_fault("500", path="/v1/checkout/sessions")
    with pytest.raises(GatewayError) as temporary:
        checkout()
    assert temporary.value.retryable

    with pytest.raises(GatewayError) as refused:
        stripe_gateway.create_checkout_session(contribution_id=12, amount_cents=100, donor_email="d@example.org",
                                               success_url="", cancel_url="https://facility.example/")
    assert not refused.value.retryable
    assert "success_url" in refused.value.message

    with pytest.raises(GatewayError) as missing:
        stripe_gateway.retrieve_checkout_session("cs_test_missing")
    assert not missing.value.retryable

    gateway_app.config["STRIPE_API_KEY"] = None
    with pytest.raises(GatewayNotConfigured):
        checkout()


# --- webhooks ------------------------------------------------------------------

def completed_event():
    return checkout_session_completed_event(contribution_id=11, amount_cents=50_000)


def test_webhook_accepts_a_correctly_signed_event(gateway_app):
    event = completed_event()
    payload, header = signed_event(event, WEBHOOK_SECRET)
    verified = stripe_gateway.verify_webhook(payload, header)
    assert isinstance(verified, stripe.Event)
    assert (verified.id, verified.type) == (event["id"], "checkout.session.completed")
    assert verified.data.object.client_reference_id == "11"
    assert verified.data.object.amount_total == 50_000


def test_webhook_accepts_any_of_several_signatures(gateway_app):
    """While an endpoint secret is being rolled, Stripe signs with both."""
    payload, header = signed_event(transfer_reversed_event(transfer={"id": "tr_1", "amount": 5}), "whsec_old")
    good = sign_payload(payload, WEBHOOK_SECRET, int(header.split(",")[0][2:])).split(",")[1]
    assert stripe_gateway.verify_webhook(payload, f"{header},{good}").type == "transfer.reversed"


def test_webhook_signed_with_another_secret_is_refused(gateway_app):
    payload, header = signed_event(completed_event(), "whsec_forged")
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, header)
    assert rejected.value.reason == "bad_signature"


def test_tampered_webhook_is_refused(gateway_app):
    event = completed_event()
    payload, header = signed_event(event, WEBHOOK_SECRET)
    tampered = payload.replace(b"50000", b"5000000")
    assert tampered != payload
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(tampered, header)
    assert rejected.value.reason == "bad_signature"


def test_replayed_stale_webhook_is_refused(gateway_app):
    payload, header = signed_event(completed_event(), WEBHOOK_SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, header)
    assert rejected.value.reason == "stale_timestamp"
    # Within the tolerance it is fine.
    payload, header = signed_event(completed_event(), WEBHOOK_SECRET, timestamp=int(time.time()) - 250)
    assert stripe_gateway.verify_webhook(payload, header)


def test_webhook_tolerance_is_configurable(gateway_app):
    gateway_app.config["STRIPE_WEBHOOK_TOLERANCE"] = 60
    payload, header = signed_event(completed_event(), WEBHOOK_SECRET, timestamp=int(time.time()) - 120)
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, header)
    assert rejected.value.reason == "stale_timestamp"


@pytest.mark.parametrize("payload", [
    b"not json at all",
    b"[1, 2, 3]",
    b'{"id": "evt_1", "type": "checkout.session.completed"}',
    json.dumps({"object": "event", "type": "x", "data": {"object": {}}}).encode(),
    json.dumps(make_event("checkout.session.completed", {"id": "cs_1"}) | {"data": {"object": "nope"}}).encode(),
])
def test_signed_but_malformed_webhook_is_refused(gateway_app, payload):
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, sign_payload(payload, WEBHOOK_SECRET))
    assert rejected.value.reason == "malformed"


def test_webhook_body_that_is_not_utf8_is_refused(gateway_app):
    payload = b"\xff\xfe{}"
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, "t=1,v1=00")
    assert rejected.value.reason == "malformed"


@pytest.mark.parametrize("header, reason", [
    (None, "missing_signature"),
    ("", "missing_signature"),
    ("nonsense", "bad_signature"),
    ("t=notanumber,v1=abc", "bad_signature"),
    ("t=1700000000", "bad_signature"),
])
def test_webhook_with_missing_or_garbled_signature_is_refused(gateway_app, header, reason):
    payload, _ = signed_event(completed_event(), WEBHOOK_SECRET)
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, header)
    assert rejected.value.reason == reason


def test_webhook_without_a_configured_secret_is_refused(gateway_app):
    gateway_app.config["STRIPE_WEBHOOK_SECRET"] = None
    payload, header = signed_event(completed_event(), WEBHOOK_SECRET)
    with pytest.raises(WebhookRejected) as rejected:
        stripe_gateway.verify_webhook(payload, header)
    assert rejected.value.reason == "missing_secret"


# --- what a connected account in another currency received --------------------------------

def test_a_transfer_to_an_account_in_another_currency_reports_the_conversion(gateway_app, fake_stripe):
    result = pay(amount_cents=1_000_000, destination="acct_1GranteeKE")
    assert result.paid
    [transfer] = fake_stripe.transfers.values()
    assert (transfer["amount"], transfer["currency"]) == (1_000_000, "usd")  # Stripe is paid in US dollars
    assert result.received == stripe_gateway.Received("kes", 129_250_000, Decimal("129.25"))
    # Found again by a later try, the conversion is read again, the same.
    again = pay(amount_cents=1_000_000, destination="acct_1GranteeKE")
    assert again.found_existing and again.received == result.received


def test_the_conversion_follows_the_rate_and_the_currency_of_the_day(gateway_app, fake_stripe):
    fake_stripe.set_account_currency("acct_ok_2", "ugx")
    fake_stripe.set_exchange_rate("ugx", "3700.25")
    # USD 100.02 at 3,700.25 = 370,099.005 UGX: no minor unit, half to even -> 370,099.
    result = pay(disbursement_id=8, amount_cents=10_002, destination="acct_ok_2")
    assert result.received == stripe_gateway.Received("ugx", 370_099, Decimal("3700.25"))


def test_trouble_reading_the_conversion_leaves_the_transfer_paid(gateway_app, fake_stripe, monkeypatch, caplog):
    # The transfer is made; Stripe then fails to answer for the destination payment: paid, without local figures.
    monkeypatch.setattr(fake_stripe, "_get_charge",
                        lambda params, id: (500, {"error": {"type": "api_error", "message": "down"}}))
    result = pay(destination="acct_1GranteeKE")
    assert result.paid and result.received is None and len(fake_stripe.transfers) == 1
    assert "could not be read" in caplog.text
    # A time-out there is the same: the transfer stands, nothing is paid twice.
    monkeypatch.undo()
    fake_stripe.add_fault("timeout", path=f"/v1/charges/{next(iter(fake_stripe.transfers.values()))['destination_payment']}")
    again = pay(destination="acct_1GranteeKE")
    assert again.paid and again.found_existing and again.received is None and len(fake_stripe.transfers) == 1
