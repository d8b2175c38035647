"""Throughput of the disbursement pipeline against RQ running no-op jobs, in one run.

Both runs use the same worker processes (`flask --app wsgi facility worker`, the configured
WORKER_CLASS), the same Redis and the same number of workers; the workers are started and
idle before the clock starts, and the jobs are enqueued in one go.

- baseline: `--jobs` no-op jobs (`benchmarks.disbursements.noop`);
- pipeline: `--jobs` approved disbursements, each job claiming its disbursement, calling the fake
  Stripe (look-up, then an idempotent transfer) and recording the payment with its ledger posting,
  audit record and timeline event, on PostgreSQL.

Prints both throughputs and the ratio (goal: the pipeline at least half the no-op throughput),
then checks every disbursement is paid once (one transfer each, ledger-verify clean).

    .venv/bin/python benchmarks/disbursements.py --jobs 1000 --workers 4

Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a throw-away
database is created next to it and dropped), BENCH_REDIS_URL (default redis://127.0.0.1:6379/0).
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

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def noop() -> None:
    """The baseline job: nothing at all."""


def _wait_for_workers(queue, count: int, timeout: float = 120) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for w in Worker.all(queue=queue) if w.state == "idle") >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"the {count} workers did not start within {timeout:.0f} s")


def _run_noop(app, jobs: int) -> float:
    from rq import Queue

    from facility.queue import get_queue

    queue: Queue = get_queue("default")
    started = time.monotonic()
    with queue.connection.pipeline() as pipe:
        for _ in range(jobs):
            queue.enqueue("benchmarks.disbursements.noop", pipeline=pipe)
        pipe.execute()
    while queue.finished_job_registry.count < jobs:
        time.sleep(0.02)
    return time.monotonic() - started


def _run_pipeline(app, ids: list[int]) -> float:
    from facility.disbursements.jobs import _enqueue_now
    from facility.disbursements.models import Disbursement
    from facility.extensions import db
    from tests.disbursements import scenario

    job_ids = dict(db.session.execute(sa.select(Disbursement.id, Disbursement.job_id)
                                      .where(Disbursement.id.in_(ids))).all())
    db.session.rollback()
    started = time.monotonic()
    for disbursement_id in ids:
        _enqueue_now(disbursement_id, job_id=job_ids[disbursement_id])
    while not scenario.all_paid(ids):
        time.sleep(0.05)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    from facility.extensions import db
    from tests.disbursements import scenario
    from tests.fakes.stripe_server import FakeStripe

    stack = ExitStack()
    database_url = stack.enter_context(throwaway_database(migrate_schema=True)).url
    instance = tempfile.mkdtemp(prefix="bench-disb-")
    fake = FakeStripe().start()
    tag = uuid.uuid4().hex[:8]
    procs = []
    try:
        from facility import create_app

        app = create_app("test", SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=REDIS, QUEUE_PREFIX=f"bench-{tag}-",
                         INSTANCE_PATH=instance, STRIPE_API_KEY="sk_test_bench", STRIPE_API_BASE=fake.url,
                         STRIPE_TIMEOUT_SECONDS=10)
        with app.app_context():
            grants, requester, approver = scenario.payable_grants(args.jobs)
            ids = scenario.request_and_approve(grants, requester, approver, enqueue=False)
            # Stripe's write pace off: this measures the pipeline, not the rail's limit (payments_pace.py does).
            env = scenario.worker_env(app, SWEEP_INTERVAL_SECONDS="100000", INSTANCE_PATH=instance,
                                      STRIPE_WRITES_PER_SECOND="0")
            log = Path(instance) / "workers.log"
            for _ in range(args.workers):
                procs.append(scenario.start_worker(env, log, "payments", "default"))
            from facility.queue import get_queue

            _wait_for_workers(get_queue("default"), args.workers)
            noop_seconds = _run_noop(app, args.jobs)
            pipeline_seconds = _run_pipeline(app, ids)
            noop_rate, pipeline_rate = args.jobs / noop_seconds, args.jobs / pipeline_seconds
            load = os.getloadavg()[0]
            print(f"{args.jobs} jobs, {args.workers} worker processes ({app.config['WORKER_CLASS']}), "
                  f"PostgreSQL, Redis {REDIS}, load average {load:.1f}")
            print(f"RQ no-op jobs            {noop_seconds:8.2f} s   {noop_rate:8.1f} jobs/s")
            print(f"disbursement pipeline    {pipeline_seconds:8.2f} s   {pipeline_rate:8.1f} disbursements/s")
            ratio = pipeline_rate / noop_rate
            print(f"ratio pipeline / no-op   {ratio:8.2f}   (goal >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
            per = Counter(t["metadata"].get("disbursement_id") for t in fake.transfers.values())
            from facility.ledger.verify import verify_ledger

            problems = verify_ledger()
            db.session.rollback()
            assert sorted(per) == sorted(str(i) for i in ids) and set(per.values()) == {1}, "not one transfer each"
            assert problems == [], problems
            print("check: every disbursement paid, one transfer each, ledger sound")
            db.session.remove()
            db.engine.dispose()
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
    main()
