"""Stripe's write pace: the shared token bucket (`stripe_pace`), the fake Stripe's rate limit, and workers
that together stay under it (no 429, no retry)."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter

import pytest
import redis

from facility.disbursements import stripe_gateway
from facility.disbursements.jobs import _enqueue_now
from facility.disbursements.models import Disbursement
from facility.disbursements.stripe_gateway import GatewayError, StripeGateway, TransferStatus
from facility.disbursements.stripe_pace import PaceTimeout, WriteBucket
from facility.extensions import db
from facility.ledger.verify import verify_ledger
from tests.disbursements import scenario


class FakeClock:
    """Seconds that only move when someone sleeps (or the test moves them)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def connection(redis_url):
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


@pytest.fixture
def bucket(connection):
    """`bucket(rate, burst, wait_seconds=10, clock=...)`: a bucket on a key prefix of this test's own."""
    prefix = f"test-pace-{uuid.uuid4().hex[:8]}-"

    def _make(rate: float, burst: float, *, wait_seconds: float = 10, clock: FakeClock) -> WriteBucket:
        return WriteBucket(connection, prefix=prefix, rate=rate, burst=burst, wait_seconds=wait_seconds,
                           clock=clock, sleep=clock.sleep)

    return _make


def test_a_full_bucket_gives_its_burst_then_one_token_per_interval(bucket):
    clock = FakeClock()
    paced = bucket(8, 3, clock=clock)  # binary fractions of a second: the arithmetic is exact
    assert [paced.try_take("transfers") for _ in range(3)] == [0, 0, 0]
    assert paced.try_take("transfers") == 0.125  # empty: the next token in 1/rate
    clock.now += 0.0625
    assert paced.try_take("transfers") == 0.0625  # asking took nothing
    clock.now += 0.0625
    assert paced.try_take("transfers") == 0
    assert paced.try_take("transfers") == 0.125


def test_refill_stops_at_the_burst(bucket):
    clock = FakeClock()
    paced = bucket(5, 2, clock=clock)
    paced.try_take("transfers")
    clock.now += 3600  # an hour idle fills the bucket to its burst, no more
    assert [paced.try_take("transfers") for _ in range(3)] == [0, 0, pytest.approx(0.2)]


def test_acquire_sleeps_what_the_bucket_says_and_keeps_the_rate(bucket):
    clock = FakeClock()
    paced = bucket(8, 2, clock=clock)
    taken = []
    for _ in range(32):
        assert paced.acquire("transfers") == clock.now - (taken[-1] if taken else clock.now)
        taken.append(clock.now)
    assert clock.now - 1_000.0 == 3.75  # 2 at once, then 30 at 8 a second
    assert clock.slept == [0.125] * 30
    for start in taken:  # any one second holds at most rate + burst - 1 takes
        assert sum(1 for t in taken if start <= t < start + 1) <= 9


def test_clients_sharing_one_bucket_share_its_rate(bucket):
    clock = FakeClock()
    workers = [bucket(4, 1, clock=clock) for _ in range(3)]  # three workers, one Redis key
    taken = Counter()
    for step in range(32):  # every worker asks every 1/16 s for 2 s, taking turns to ask first
        for index in [(step + k) % 3 for k in range(3)]:
            if workers[index].try_take("transfers") == 0:
                taken[index] += 1
        clock.now += 0.0625
    assert sum(taken.values()) == 1 + 7  # one from the burst, then 4 a second over the 1.94 s after it
    assert len(taken) > 1  # not one worker's own bucket


def test_endpoints_have_buckets_of_their_own(bucket):
    clock = FakeClock()
    paced = bucket(1, 1, clock=clock)
    assert paced.try_take("transfers") == 0
    assert paced.try_take("checkout_sessions") == 0
    assert paced.try_take("transfers") == pytest.approx(1.0)


def test_acquire_gives_up_instead_of_waiting_past_its_time_out(bucket):
    clock = FakeClock()
    paced = bucket(1, 1, wait_seconds=0.5, clock=clock)
    paced.acquire("transfers")
    with pytest.raises(PaceTimeout) as caught:
        paced.acquire("transfers")
    assert caught.value.endpoint == "transfers"
    assert clock.slept == []  # the next turn was 1 s away: no point sleeping half of it


def test_bad_settings_are_refused(connection):
    with pytest.raises(ValueError, match="rate"):
        WriteBucket(connection, rate=0)
    with pytest.raises(ValueError, match="burst"):
        WriteBucket(connection, rate=5, burst=0.5)


# --- the gateway waits its turn before every write ------------------------------------------------

def _exhausted(connection, config, clock: FakeClock) -> WriteBucket:
    paced = WriteBucket(connection, prefix=f"test-pace-{uuid.uuid4().hex[:8]}-", rate=0.1, burst=1, wait_seconds=1,
                        clock=clock, sleep=clock.sleep)
    paced.acquire("transfers")
    paced.acquire("checkout_sessions")
    return paced


def test_a_transfer_without_a_turn_is_retryable_and_sends_no_write(gateway_app, fake_stripe, connection):
    gateway = StripeGateway(api_key="sk_test_x", api_base=fake_stripe.url, timeout_seconds=2,
                            pace=_exhausted(connection, gateway_app.config, FakeClock()))
    result = gateway.transfer_for_disbursement(disbursement_id=7, amount_cents=1_000, destination="acct_ok_1",
                                               grant_reference="G-7")
    assert result.status is TransferStatus.RETRYABLE and result.code == "pace_timeout"
    assert result.retry_after_seconds and result.retry_after_seconds > 0
    assert fake_stripe.requests_to("POST", "/v1/transfers") == [] and fake_stripe.transfers == {}
    assert fake_stripe.requests_to("GET", "/v1/transfers")  # the look-up (a read) was not held back


def test_a_checkout_session_without_a_turn_is_a_retryable_gateway_error(gateway_app, fake_stripe, connection):
    gateway = StripeGateway(api_key="sk_test_x", api_base=fake_stripe.url, timeout_seconds=2,
                            pace=_exhausted(connection, gateway_app.config, FakeClock()))
    with pytest.raises(GatewayError) as caught:
        gateway.create_checkout_session(contribution_id=3, amount_cents=5_000, donor_email="d@example.org",
                                        success_url="https://x.test/ok", cancel_url="https://x.test/no")
    assert caught.value.retryable and caught.value.code == "pace_timeout"
    assert fake_stripe.sessions == {}


def test_the_apps_gateway_paces_with_the_configured_bucket(gateway_app, fake_stripe):
    gateway_app.config.update(STRIPE_WRITES_PER_SECOND=7, STRIPE_WRITES_BURST=3, STRIPE_WRITES_WAIT_SECONDS=4)
    pace = stripe_gateway.get_gateway().pace
    assert pace is not None and (pace.rate, pace.burst, pace.wait_seconds) == (7, 3, 4)
    assert pace.key("transfers") == f"{gateway_app.config['QUEUE_PREFIX']}stripe:writes:transfers"
    result = stripe_gateway.transfer_for_disbursement(disbursement_id=8, amount_cents=1_000, destination="acct_ok_1",
                                                      grant_reference="G-8")
    assert result.paid
    gateway_app.config["STRIPE_WRITES_PER_SECOND"] = 0
    assert stripe_gateway.get_gateway().pace is None  # pacing off


# --- the fake Stripe's rate limit ---------------------------------------------------------------

def test_the_fake_refuses_writes_above_its_limit_per_endpoint(gateway_app, fake_stripe):
    fake_stripe.set_rate_limit(3)
    gateway = StripeGateway(api_key="sk_test_x", api_base=fake_stripe.url, timeout_seconds=2)
    results = [gateway.transfer_for_disbursement(disbursement_id=i, amount_cents=1_000, destination="acct_ok_1",
                                                 grant_reference=f"G-{i}") for i in range(1, 6)]
    assert [r.status for r in results] == [TransferStatus.PAID] * 3 + [TransferStatus.RETRYABLE] * 2
    assert {r.code for r in results[3:]} == {"rate_limit"}
    assert fake_stripe.rate_limited == 2 and len(fake_stripe.transfers) == 3  # the refused ones did nothing
    assert len(fake_stripe.requests_to("GET", "/v1/transfers")) == 5  # reads are not limited

    request = urllib.request.Request(f"{fake_stripe.url}/v1/transfers", method="POST", data=b"amount=1",  # noqa: S310
                                     headers={"Authorization": "Bearer sk_test_x"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert caught.value.code == 429 and caught.value.headers["Stripe-Should-Retry"] == "true"
    assert json.loads(caught.value.read())["error"]["code"] == "rate_limit"
    assert fake_stripe.rate_limited == 3

    time.sleep(1.05)  # a second later the endpoint takes writes again
    assert gateway.transfer_for_disbursement(disbursement_id=4, amount_cents=1_000, destination="acct_ok_1",
                                             grant_reference="G-4").paid


# --- workers together stay under Stripe's limit -------------------------------------------------

PACE_N = int(os.environ.get("PACE_N", 100))
STRIPE_LIMIT = 25
RATE, BURST = 20, 2


@pytest.mark.slow
@pytest.mark.serial
def test_four_workers_stay_under_stripes_limit_without_a_429_or_a_retry(paying_app, fake_stripe, tmp_path):
    grants, requester, approver = scenario.payable_grants(PACE_N)
    ids = scenario.request_and_approve(grants, requester, approver, enqueue=False)
    fake_stripe.set_rate_limit(STRIPE_LIMIT)
    env = scenario.worker_env(paying_app, STRIPE_WRITES_PER_SECOND=str(RATE), STRIPE_WRITES_BURST=str(BURST),
                              STRIPE_WRITES_WAIT_SECONDS="60", STRIPE_TIMEOUT_SECONDS="5",
                              DISBURSEMENT_RETRY_BASE_SECONDS="0.5", DISBURSEMENT_RETRY_CAP_SECONDS="2",
                              SWEEP_INTERVAL_SECONDS="100000", SWEEP_GRACE_SECONDS="100000")
    procs = [scenario.start_worker(env, tmp_path / "workers.log", "payments") for _ in range(4)]
    try:
        for disbursement_id in ids:
            _enqueue_now(disbursement_id, job_id=db.session.get(Disbursement, disbursement_id).job_id)
        db.session.rollback()
        started = time.monotonic()
        while not scenario.all_paid(ids):
            if time.monotonic() - started > 300:
                pytest.fail(f"not all paid: {scenario.status_counts(ids)}\n{scenario.unpaid_report(ids)}")
            time.sleep(0.5)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert fake_stripe.rate_limited == 0
    retries = db.session.execute(db.select(db.func.sum(Disbursement.attempts)).where(
        Disbursement.id.in_(ids))).scalar_one()
    assert retries == 0
    per = Counter(t["metadata"].get("disbursement_id") for t in fake_stripe.transfers.values())
    assert sorted(per) == sorted(str(i) for i in ids) and set(per.values()) == {1}
    assert verify_ledger() == []
    db.session.rollback()
    writes = sorted(r["at"] for r in fake_stripe.requests_to("POST", "/v1/transfers"))
    assert len(writes) == PACE_N  # one write each: none refused, none repeated
    busiest = max(sum(1 for t in writes if start <= t < start + 1) for start in writes)
    assert busiest <= RATE + BURST  # the bucket's pace (jitter allowed), under Stripe's 25
    assert writes[-1] - writes[0] >= (PACE_N - BURST) / RATE * 0.9  # the workers were held to the pace
    print(f"\n{PACE_N} payments by 4 workers: {(PACE_N - 1) / (writes[-1] - writes[0]):.1f} transfers/s, busiest "
          f"second {busiest} (bucket {RATE}/s, burst {BURST}; Stripe's limit {STRIPE_LIMIT}/s); no 429, no retry")
