"""Many disbursements at once, for the fault tests and `benchmarks/disbursements.py`.

`payable_grants(n)` (from tests/factories/disbursements.py) builds active grants with `n` tranches in all whose
evidence is accepted (the evidence step is a bulk UPDATE: it is not what is under test),
`request_and_approve()` runs the real request and approval services for each
tranche, and `worker_env()` / `start_worker()` run real RQ worker processes
(`flask --app wsgi facility worker`) against the same database, Redis and fake Stripe.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from tests.factories.disbursements import payable_grants, request_and_approve  # noqa: F401 - used from here

ROOT = Path(__file__).resolve().parents[2]


def status_counts(ids: list[int] | None = None) -> dict[str, int]:
    query = sa.select(Disbursement.status, sa.func.count(Disbursement.id)).group_by(Disbursement.status)
    if ids is not None:
        query = query.where(Disbursement.id.in_(ids))
    counts = {status.value: count for status, count in db.session.execute(query)}
    db.session.rollback()
    return counts


def unpaid_report(ids: list[int], limit: int = 5) -> str:
    """The timelines of a few unpaid disbursements, to say why a run did not finish."""
    rows = db.session.execute(sa.select(Disbursement).where(
        Disbursement.id.in_(ids), Disbursement.status != DisbursementStatus.PAID).limit(limit)).scalars().all()
    lines = []
    for row in rows:
        lines.append(f"disbursement {row.id}: {row.status.value}, attempts {row.attempts}, {row.last_error!r}")
        lines += [f"    {e.created_at:%H:%M:%S.%f} {e.from_status} -> {e.to_status}: {e.note}" for e in row.events]
    db.session.rollback()
    return "\n".join(lines)


def all_paid(ids: list[int]) -> bool:
    return status_counts(ids).get(DisbursementStatus.PAID.value, 0) == len(ids)


def worker_env(app, **extra: str) -> dict[str, str]:
    """The environment of a worker process that shares the test app's database, Redis, queues and Stripe."""
    config = app.config
    env = dict(os.environ)
    env.update({
        "FACILITY_ENV": "test",
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "QUEUE_PREFIX": config["QUEUE_PREFIX"],
        "INSTANCE_PATH": app.instance_path,
        "STRIPE_API_KEY": config.get("STRIPE_API_KEY") or "",
        "STRIPE_API_BASE": config.get("STRIPE_API_BASE") or "",
        "STRIPE_TIMEOUT_SECONDS": str(config.get("STRIPE_TIMEOUT_SECONDS") or 15),
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log_path: Path, *queues: str) -> subprocess.Popen:
    """A worker process; its log goes to `log_path` (appended: restarted workers share it)."""
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "facility", "worker"]
    for queue in queues:
        args += ["--queue", queue]
    with open(log_path, "ab") as log:
        return subprocess.Popen(args, env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
