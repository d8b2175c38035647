"""Payments at Stripe's pace: 1,000 payments across 4 workers against a fake Stripe that refuses (429) more than
25 writes a second per endpoint, with the workers sharing one token bucket in Redis (`stripe_pace`).

The workers (`flask --app wsgi facility worker`, the configured WORKER_CLASS) are started and idle
before the clock starts; every disbursement's job is enqueued in one go. Prints the payments, the
time they took, the pace reached (transfers a second, overall and in the busiest second) against
the configured limit, the fake's 429 count and the retries (tries that did not go through), then
checks every disbursement is paid once and the ledger is sound. Exits 1 if there was a 429 or a retry.

    .venv/bin/python benchmarks/payments_pace.py --payments 1000 --workers 4 --limit 25 --rate 24 --burst 1

`--rate` and `--burst` are STRIPE_WRITES_PER_SECOND and STRIPE_WRITES_BURST for the workers; any one
second carries at most rate + burst - 1 transfers, and a little margin below the limit absorbs the
jitter between taking a token and the request reaching Stripe. Environment: BENCH_DATABASE_URL,
BENCH_REDIS_URL, as for benchmarks/disbursements.py.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks._database import throwaway_database  # noqa: E402
from benchmarks.disbursements import REDIS, _wait_for_workers  # noqa: E402


def busiest_second(times: list[float]) -> int:
    """The most of `times` (sorted) in any one second."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--limit", type=int, default=25, help="the fake Stripe refuses more writes a second")
    parser.add_argument("--rate", type=float, default=24, help="STRIPE_WRITES_PER_SECOND of the workers")
    parser.add_argument("--burst", type=float, default=1, help="STRIPE_WRITES_BURST of the workers")
    args = parser.parse_args()

    from facility import create_app
    from facility.disbursements.jobs import _enqueue_now
    from facility.disbursements.models import Disbursement
    from facility.extensions import db
    from facility.ledger.verify import verify_ledger
    from facility.queue import get_queue
    from tests.disbursements import scenario
    from tests.fakes.stripe_server import FakeStripe

    stack = ExitStack()
    database_url = stack.enter_context(throwaway_database(migrate_schema=True)).url
    instance = tempfile.mkdtemp(prefix="bench-pace-")
    fake = FakeStripe().start()
    procs = []
    try:
        app = create_app("test", SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=REDIS,
                         QUEUE_PREFIX=f"bench-{uuid.uuid4().hex[:8]}-", INSTANCE_PATH=instance,
                         STRIPE_API_KEY="sk_test_bench", STRIPE_API_BASE=fake.url, STRIPE_TIMEOUT_SECONDS=10)
        with app.app_context():
            grants, requester, approver = scenario.payable_grants(args.payments)
            ids = scenario.request_and_approve(grants, requester, approver, enqueue=False)
            job_ids = dict(db.session.execute(sa.select(Disbursement.id, Disbursement.job_id)
                                              .where(Disbursement.id.in_(ids))).all())
            db.session.rollback()
            env = scenario.worker_env(app, SWEEP_INTERVAL_SECONDS="100000", SWEEP_GRACE_SECONDS="100000",
                                      INSTANCE_PATH=instance,
                                      STRIPE_WRITES_PER_SECOND=str(args.rate), STRIPE_WRITES_BURST=str(args.burst),
                                      STRIPE_WRITES_WAIT_SECONDS="120",
                                      DISBURSEMENT_RETRY_BASE_SECONDS="1", DISBURSEMENT_RETRY_CAP_SECONDS="5")
            log = Path(instance) / "workers.log"
            for _ in range(args.workers):
                procs.append(scenario.start_worker(env, log, "payments", "default"))
            _wait_for_workers(get_queue("default"), args.workers, timeout=600)  # a loaded machine is slow to start them
            fake.set_rate_limit(args.limit)

            started, started_at = time.monotonic(), time.time()
            for disbursement_id in ids:
                _enqueue_now(disbursement_id, job_id=job_ids[disbursement_id])
            while not scenario.all_paid(ids):
                time.sleep(0.05)
            elapsed = time.monotonic() - started

            writes = sorted(r["at"] for r in fake.requests_to("POST", "/v1/transfers") if not r["rate_limited"])
            span = writes[-1] - writes[0] if len(writes) > 1 else 0.0
            retries = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(Disbursement.attempts), 0))
                                         .where(Disbursement.id.in_(ids))).scalar_one()
            db.session.rollback()
            print(f"{args.payments} payments, {args.workers} worker processes ({app.config['WORKER_CLASS']}), "
                  f"PostgreSQL, Redis {REDIS}, load average {os.getloadavg()[0]:.1f}")
            print(f"fake Stripe refuses more than {args.limit} writes a second per endpoint; "
                  f"the workers' bucket: {args.rate:g} a second, burst {args.burst:g}")
            early = sum(1 for at in writes if at < started_at)
            print(f"elapsed                  {span:8.2f} s   first to last transfer; {elapsed:.2f} s after the "
                  f"enqueue ({early} paid before it, while the other workers were still starting)")
            print(f"pace reached             {(len(writes) - 1) / span if span else 0:8.1f} transfers/s over "
                  f"{span:.2f} s; busiest second {busiest_second(writes)} (configured {args.rate:g}/s, "
                  f"at most {args.rate + args.burst - 1:g} in a second)")
            print(f"429 answers              {fake.rate_limited:8d}")
            print(f"retries                  {retries:8d}")

            per = Counter(t["metadata"].get("disbursement_id") for t in fake.transfers.values())
            problems = verify_ledger()
            db.session.rollback()
            assert sorted(per) == sorted(str(i) for i in ids) and set(per.values()) == {1}, "not one transfer each"
            assert problems == [], problems
            print("check: every disbursement paid, one transfer each, ledger sound")
            db.session.remove()
            db.engine.dispose()
            return 0 if fake.rate_limited == 0 and retries == 0 else 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except Exception:  # noqa: BLE001 - a stuck worker is killed
                os.killpg(proc.pid, signal.SIGKILL)
        fake.stop()
        stack.close()  # the throw-away database dropped
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
