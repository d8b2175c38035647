"""The fake Stripe server answers the real `stripe` package the way Stripe does."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import stripe

from tests.disbursements.conftest import CLIENT_TIMEOUT, WEBHOOK_SECRET
from tests.fakes.stripe_server import (
    FakeStripe,
    RemoteFakeStripe,
    checkout_session_completed_event,
    decode_params,
    payout_failed_event,
    sign_payload,
    signed_event,
    transfer_reversed_event,
)


def client_for(url: str, api_key: str = "sk_test_x") -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": url}, max_network_retries=0,
                               http_client=stripe.RequestsClient(timeout=CLIENT_TIMEOUT))


@pytest.fixture
def client(fake_stripe):
    return client_for(fake_stripe.url)


def transfer_params(**overrides):
    return {"amount": 1500, "currency": "usd", "destination": "acct_ok_1", "transfer_group": "g-1",
            "metadata": {"disbursement_id": "1"}, **overrides}


def test_decode_params_nests_brackets_and_lists():
    pairs = [("amount", "5"), ("metadata[a]", "1"), ("metadata[0]", "x"), ("line_items[0][quantity]", "1"),
             ("line_items[0][price_data][unit_amount]", "700"), ("line_items[1][quantity]", "2"),
             ("expand[]", "a"), ("expand[]", "b")]
    assert decode_params(pairs) == {
        "amount": "5",
        "metadata": {"a": "1", "0": "x"},  # metadata keys stay keys
        "line_items": [{"quantity": "1", "price_data": {"unit_amount": "700"}}, {"quantity": "2"}],
        "expand": ["a", "b"],
    }


def test_transfer_create_get_and_list(client, fake_stripe):
    created = client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    assert created.id.startswith("tr_")
    assert (created.amount, created.currency, created.destination, created.reversed) == (1500, "usd", "acct_ok_1", False)
    assert created.metadata.to_dict() == {"disbursement_id": "1"}

    assert client.v1.transfers.retrieve(created.id).id == created.id
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.transfers.retrieve("tr_nope")
    assert missing.value.http_status == 404

    for _ in range(4):
        client.v1.transfers.create(transfer_params(transfer_group="g-2"))
    page = client.v1.transfers.list({"transfer_group": "g-2", "limit": 3})
    assert len(page.data) == 3 and page.has_more
    assert len(list(page.auto_paging_iter())) == 4  # follows starting_after
    assert [t.id for t in client.v1.transfers.list({"transfer_group": "g-1"}).data] == [created.id]

    request = fake_stripe.requests_to("POST", "/v1/transfers")[0]
    assert request["idempotency_key"] == "k-1"
    assert request["headers"]["Idempotency-Key"] == "k-1"
    assert request["params"]["metadata"] == {"disbursement_id": "1"}


def test_same_idempotency_key_replays_the_first_answer(client, fake_stripe):
    first = client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    again = client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake_stripe.transfers) == 1


def test_same_idempotency_key_with_other_parameters_is_refused(client, fake_stripe):
    client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.transfers.create(transfer_params(amount=1600), {"idempotency_key": "k-1"})
    assert "same parameters" in refused.value.user_message
    assert len(fake_stripe.transfers) == 1


def test_concurrent_request_with_the_same_key_is_told_it_is_in_progress(client, fake_stripe):
    fake_stripe.add_fault("delay", method="POST", path="/v1/transfers", seconds=0.2)
    results = []
    slow = threading.Thread(target=lambda: results.append(
        client_for(fake_stripe.url).v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})))
    slow.start()
    while not fake_stripe.requests_to("POST", "/v1/transfers"):
        threading.Event().wait(0.01)
    with pytest.raises(stripe.APIError) as busy:
        client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    slow.join()
    assert busy.value.http_status == 409
    assert busy.value.json_body["error"]["code"] == "idempotency_key_in_use"
    assert len(results) == 1 and len(fake_stripe.transfers) == 1


def test_declined_and_unknown_destinations(client, fake_stripe):
    with pytest.raises(stripe.InvalidRequestError) as declined:
        client.v1.transfers.create(transfer_params(destination="acct_declined"))
    assert declined.value.http_status == 400
    assert "capabilities" in declined.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.transfers.create(transfer_params(destination="acct_unknown"))
    assert unknown.value.code == "resource_missing"
    assert unknown.value.param == "destination"
    with pytest.raises(stripe.InvalidRequestError) as bad_amount:
        client.v1.transfers.create(transfer_params(amount=0))
    assert bad_amount.value.param == "amount"
    assert fake_stripe.transfers == {}


def test_requests_need_a_test_key(fake_stripe):
    with pytest.raises(stripe.AuthenticationError):
        client_for(fake_stripe.url, api_key="rk_live_nope").v1.transfers.list()


def test_reversal(client, fake_stripe):
    transfer = client.v1.transfers.create(transfer_params())
    reversal = client.v1.transfers.reversals.create(transfer.id, {"amount": 500})
    assert (reversal.object, reversal.amount, reversal.transfer) == ("transfer_reversal", 500, transfer.id)
    assert client.v1.transfers.retrieve(transfer.id).reversed is False
    client.v1.transfers.reversals.create(transfer.id)  # the rest
    after = client.v1.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (1500, True)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.reversals.create(transfer.id, {"amount": 1})


def test_accounts(client):
    assert client.v1.accounts.retrieve("acct_ok_1").capabilities.transfers == "active"
    assert client.v1.accounts.retrieve("acct_declined").payouts_enabled is False
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve("acct_missing")
    created = client.v1.accounts.create({"type": "express", "email": "g@example.org"})
    assert client.v1.accounts.retrieve(created.id).email == "g@example.org"


def test_checkout_session(client, fake_stripe):
    session = client.v1.checkout.sessions.create({
        "mode": "payment",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 2500, "product_data": {"name": "Gift"}},
                        "quantity": 2}],
        "client_reference_id": "9", "metadata": {"contribution_id": "9"},
        "success_url": "https://example.org/ok", "cancel_url": "https://example.org/no",
    })
    assert session.id.startswith("cs_test_")
    assert (session.amount_total, session.status, session.payment_status) == (5000, "open", "unpaid")
    assert session.url.startswith(fake_stripe.url)
    fake_stripe.complete_checkout_session(session.id)
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.payment_intent.startswith("pi_")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.create({"mode": "payment", "success_url": "https://example.org/ok"})
    assert missing.value.param == "line_items"


@pytest.mark.parametrize("kind, error, status", [
    ("500", stripe.APIError, 500),
    ("429", stripe.RateLimitError, 429),
    ("timeout", stripe.APIConnectionError, None),
])
def test_faults_that_perform_nothing(client, fake_stripe, kind, error, status):
    fake_stripe.add_fault(kind, method="POST", path="/v1/transfers")
    with pytest.raises(error) as failure:
        client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    assert failure.value.http_status == status
    assert fake_stripe.transfers == {}
    # The fault is used up, and nothing was saved under the key.
    assert client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"}).amount == 1500
    assert [r["fault"] for r in fake_stripe.requests] == [kind, None]


def test_rate_limit_fault_can_carry_retry_after(client, fake_stripe):
    fake_stripe.add_fault("429", retry_after=7)
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.transfers.list()
    assert limited.value.headers["Retry-After"] == "7"


@pytest.mark.parametrize("kind", ["lose_answer", "timeout_after_commit"])
def test_faults_that_perform_the_request_but_lose_the_answer(client, fake_stripe, kind):
    fake_stripe.add_fault(kind, method="POST", path="/v1/transfers", seconds=CLIENT_TIMEOUT + 0.1)
    with pytest.raises(stripe.APIConnectionError):
        client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    deadline = time.monotonic() + 5
    while not fake_stripe.transfers and time.monotonic() < deadline:  # the slow kind commits after the client gave up
        time.sleep(0.02)
    assert len(fake_stripe.transfers) == 1
    assert client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"}).id in fake_stripe.transfers


def test_faults_match_method_path_and_count(client, fake_stripe):
    fake_stripe.add_fault("500", 2, method="GET", path="/v1/transfers")
    client.v1.transfers.create(transfer_params())  # a POST: not matched
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            client.v1.transfers.list()
    assert len(client.v1.transfers.list().data) == 1
    with pytest.raises(ValueError):
        fake_stripe.add_fault("explode")


def test_random_fault_rate_is_seeded(client, fake_stripe):
    def run() -> list[str | None]:
        fake_stripe.reset()
        fake_stripe.set_fault_rate(0.5, seed=42, kinds=["500", "429"])
        for _ in range(20):
            try:
                client.v1.transfers.list()
            except stripe.StripeError:
                pass
        return [r["fault"] for r in fake_stripe.requests]

    faults = run()
    assert set(faults) == {None, "500", "429"}
    assert run() == faults


def test_reset_forgets_everything(client, fake_stripe):
    client.v1.transfers.create(transfer_params(), {"idempotency_key": "k-1"})
    fake_stripe.add_fault("500")
    fake_stripe.reset()
    assert fake_stripe.transfers == {} and fake_stripe.requests == []
    assert client.v1.transfers.create(transfer_params(amount=99), {"idempotency_key": "k-1"}).amount == 99


def test_global_stripe_configuration_works_too(fake_stripe, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", "sk_test_x")
    monkeypatch.setattr(stripe, "api_base", fake_stripe.url)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    transfer = stripe.Transfer.create(amount=100, currency="usd", destination="acct_ok_2")
    assert stripe.Transfer.retrieve(transfer.id).amount == 100


def test_destination_payments_are_read_on_the_connected_account(client, fake_stripe):
    transfer = client.v1.transfers.create(transfer_params(amount=1_000_000, destination="acct_1GranteeKE"))
    assert (transfer.amount, transfer.currency) == (1_000_000, "usd")
    payment_id = transfer.destination_payment
    with pytest.raises(stripe.InvalidRequestError):  # not visible from the platform, only on the account
        client.v1.charges.retrieve(payment_id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.retrieve(payment_id, options={"stripe_account": "acct_ok_1"})
    payment = client.v1.charges.retrieve(payment_id, params={"expand": ["balance_transaction"]},
                                         options={"stripe_account": "acct_1GranteeKE"})
    assert (payment.amount, payment.currency, payment.source_transfer) == (129_250_000, "kes", transfer.id)
    txn = payment.balance_transaction
    assert (txn.object, txn.amount, txn.currency, txn.exchange_rate) == ("balance_transaction", 129_250_000, "kes",
                                                                        129.25)
    again = client.v1.balance_transactions.retrieve(txn.id, options={"stripe_account": "acct_1GranteeKE"})
    assert again.amount == 129_250_000
    # A transfer to an account in US dollars is not converted: no rate.
    plain = client.v1.transfers.create(transfer_params(transfer_group="g-2"))
    unconverted = client.v1.charges.retrieve(plain.destination_payment, params={"expand": ["balance_transaction"]},
                                             options={"stripe_account": "acct_ok_1"})
    assert (unconverted.amount, unconverted.currency, unconverted.balance_transaction.exchange_rate) == (
        1500, "usd", None)


def test_runs_as_a_separate_process():
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.stripe_server", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        remote = RemoteFakeStripe(url)
        remote.add_fault("500", method="POST", path="/v1/transfers")
        client = client_for(url)
        with pytest.raises(stripe.APIError):
            client.v1.transfers.create(transfer_params())
        transfer = client.v1.transfers.create(transfer_params())
        assert [t["id"] for t in remote.transfers] == [transfer.id]
        assert [r["fault"] for r in remote.requests] == ["500", None]
        # Conversions can be set from another process too.
        remote.set_account_currency("acct_ok_3", "eur")
        remote.set_exchange_rate("eur", "0.9")
        converted = client.v1.transfers.create(transfer_params(destination="acct_ok_3", transfer_group="g-2"))
        payment = client.v1.charges.retrieve(converted.destination_payment, options={"stripe_account": "acct_ok_3"})
        assert (payment.amount, payment.currency) == (1350, "eur")
        remote.reset()
        assert remote.transfers == []
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_in_process_server_starts_and_stops():
    with FakeStripe() as fake:
        assert client_for(fake.url).v1.accounts.retrieve("acct_ok_3").id == "acct_ok_3"
    with pytest.raises(stripe.APIConnectionError):
        client_for(fake.url).v1.accounts.retrieve("acct_ok_3")


def test_signed_payloads_verify_with_stripe():
    event = checkout_session_completed_event(contribution_id=5, amount_cents=1234)
    payload, header = signed_event(event, WEBHOOK_SECRET)
    assert stripe.WebhookSignature.verify_header(payload.decode(), header, WEBHOOK_SECRET, tolerance=300)
    assert header == sign_payload(payload, WEBHOOK_SECRET, int(header.split(",")[0][2:]))
    assert json.loads(payload)["data"]["object"]["metadata"] == {"contribution_id": "5"}
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.decode(), header, "whsec_other", tolerance=300)


def test_event_builders_have_stripe_shapes():
    reversed_event = transfer_reversed_event(transfer={"id": "tr_1", "object": "transfer", "amount": 10,
                                                       "amount_reversed": 0, "reversed": False})
    assert reversed_event["type"] == "transfer.reversed"
    assert reversed_event["id"].startswith("evt_") and reversed_event["object"] == "event"
    assert reversed_event["data"]["object"]["reversed"] is True
    payout = payout_failed_event(account="acct_ok_1", amount_cents=10)
    assert (payout["type"], payout["account"], payout["data"]["object"]["status"]) == ("payout.failed", "acct_ok_1",
                                                                                     "failed")
