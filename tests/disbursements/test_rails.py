"""Payment rails: Stripe through the gateway, manual as an instruction for staff, and the retry policy."""
from __future__ import annotations

import random

import pytest

from facility.disbursements.rails import (
    RETRY_POLICY,
    ManualRail,
    PaymentRequest,
    PaymentStatus,
    RetryPolicy,
    StripeRail,
    mask_account,
    rail_for,
)


def request(**overrides) -> PaymentRequest:
    values = {"disbursement_id": 3, "amount_cents": 1_250_000, "payee_name": "Nairobi Water Labs",
              "account": "acct_ok_2", "reference": "UIF-G-0042 T2"} | overrides
    return PaymentRequest(**values)


def test_rail_for_names():
    assert isinstance(rail_for("stripe"), StripeRail)
    assert isinstance(rail_for("manual"), ManualRail)
    with pytest.raises(ValueError, match="unknown payment rail"):
        rail_for("carrier-pigeon")


def test_stripe_rail_pays_through_the_gateway(gateway_app, fake_stripe):
    result = rail_for("stripe").pay(request())
    assert result.status is PaymentStatus.PAID
    [transfer] = fake_stripe.transfers.values()
    assert result.provider_reference == transfer["id"]
    assert (transfer["amount"], transfer["destination"]) == (1_250_000, "acct_ok_2")
    assert transfer["metadata"]["grant_reference"] == "UIF-G-0042 T2"
    assert result.instruction is None


def test_stripe_rail_passes_on_retryable_and_failed(gateway_app, fake_stripe):
    fake_stripe.add_fault("lose_answer", method="POST", path="/v1/transfers")
    unknown = StripeRail().pay(request())
    assert unknown.status is PaymentStatus.RETRYABLE and unknown.retry_after_seconds
    again = StripeRail().pay(request())
    assert again.status is PaymentStatus.PAID and again.found_existing

    declined = StripeRail().pay(request(disbursement_id=4, account="acct_declined"))
    assert declined.status is PaymentStatus.FAILED
    assert "capabilities" in declined.message
    assert len(fake_stripe.transfers) == 1


def test_manual_rail_waits_for_confirmation_with_an_instruction():
    result = rail_for("manual").pay(request(account="KE12 3456 7890 1234", bank_name="Equity Bank", country="KEN"))
    assert result.status is PaymentStatus.AWAITING_CONFIRMATION
    assert result.provider_reference is None
    assert result.instruction == {
        "disbursement_id": 3,
        "payee": "Nairobi Water Labs",
        "account": "•••• 1234",
        "bank_name": "Equity Bank",
        "country": "KEN",
        "amount_cents": 1_250_000,
        "currency": "USD",
        "reference": "UIF-G-0042 T2",
    }
    with pytest.raises(ValueError):
        ManualRail().pay(request(amount_cents=0))


@pytest.mark.parametrize("account, masked", [("254712345678", "•••• 5678"), ("1234", "••••"), ("", "••••"),
                                             ("GB29 NWBK 6016 1331 9268 19", "•••• 6819")])
def test_mask_account(account, masked):
    assert mask_account(account) == masked


def test_retry_policy_backs_off_exponentially_within_bounds():
    policy = RetryPolicy(base_seconds=30, cap_seconds=3600, jitter=0.2, _rng=random.Random(1))
    delays = [policy.delay_seconds(tries) for tries in range(1, 11)]
    for tries, delay in enumerate(delays, start=1):
        expected = 30 * 2 ** (tries - 1)
        assert min(expected * 0.8, 3600) <= delay <= min(expected * 1.2, 3600)
    assert delays[-1] == 3600
    assert policy.delay_seconds(1, hint=90) == 90  # the provider's hint wins when longer
    assert policy.delay_seconds(1, hint=10_000) == 3600
    with pytest.raises(ValueError):
        policy.delay_seconds(0)


def test_retry_policy_gives_up():
    assert not RETRY_POLICY.gives_up(RETRY_POLICY.max_tries - 1)
    assert RETRY_POLICY.gives_up(RETRY_POLICY.max_tries)
