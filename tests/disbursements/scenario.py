"""Many disbursements at once, for the fault tests and `benchmarks/disbursements.py`.

`payable_grants(n)` builds active grants with `n` tranches in all whose evidence is
accepted (the evidence step is a bulk UPDATE: it is not what is under test; an award
has at most `awards.MAX_TRANCHES` tranches, so a large `n` takes several grants),
`request_and_approve()` runs the real request and approval services for each
tranche, and `worker_env()` / `start_worker()` run real RQ worker processes
(`flask --app wsgi facility worker`) against the same database, Redis and fake Stripe.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.accounts.services import hash_password
from facility.challenges.models import Challenge, ChallengeStatus, FocusArea
from facility.cities.models import City, ClimateRisk
from facility.core.models import utcnow
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants import awards, payouts
from facility.grants.models import Grant, Tranche, TrancheStatus
from facility.ledger.services import contributions_account, pool_account, post_transaction, unallocated_account
from facility.proposals.models import Proposal, ProposalStatus

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-test-password-42"


def _user(email: str, role: str, organization: Organization | None = None) -> User:
    user = User(email=email, name=email.split("@")[0], password_hash=hash_password(PASSWORD), organization=organization)
    user.add_role(role)
    db.session.add(user)
    return user


def payable_grants(n: int, *, amount_cents: int = 1_000, stripe_account: str = "acct_1Grantee01",
                   tag: str | None = None) -> tuple[list[Grant], User, User]:
    """Active grants paid over Stripe with `n` accepted tranches in all; returns (grants, requester, approver)."""
    tag = tag or uuid.uuid4().hex[:8]
    requester = _user(f"requester-{tag}@example.org", "fund_manager")
    approver = _user(f"approver-{tag}@example.org", "fund_manager")
    sizes = [min(awards.MAX_TRANCHES, n - start) for start in range(0, n, awards.MAX_TRANCHES)]
    grants = [_payable_grant(size, amount_cents=amount_cents, stripe_account=stripe_account, tag=f"{tag}-{index}",
                             requester=requester) for index, size in enumerate(sizes)]
    db.session.commit()
    return grants, requester, approver


def _payable_grant(n: int, *, amount_cents: int, stripe_account: str, tag: str, requester: User) -> Grant:
    """One active grant with `n` (at most MAX_TRANCHES) accepted tranches, awarded by `requester`."""
    total = n * amount_cents
    city_org = Organization(name=f"City {tag}", kind=OrgKind.CITY, country="UGA")
    innovator_org = Organization(name=f"Innovator {tag}", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP,
                                 country="KEN")
    db.session.add_all([city_org, innovator_org])
    city = City(organization=city_org, name=f"City {tag}", country="UGA", population=400_000,
                informal_settlement_share_pct=30, climate_risk=ClimateRisk.HIGH, verified_at=utcnow())
    now = utcnow()
    challenge = Challenge(city=city, title=f"Challenge {tag}", summary="s", description="d",
                          focus_area=FocusArea.INCLUSIVE_INNOVATION, sdg_targets=["11.1"], prize_pool_cents=total,
                          max_award_cents=total, opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1),
                          status=ChallengeStatus.PUBLISHED)
    proposal = Proposal(challenge=challenge, organization=innovator_org, title=f"Proposal {tag}", summary="s",
                        approach="a", requested_cents=total, status=ProposalStatus.SUBMITTED, submitted_at=now)
    db.session.add_all([city, challenge, proposal])
    grantee = _user(f"grantee-{tag}@example.org", "innovator", innovator_org)
    db.session.flush()
    post_transaction(key=f"bulk-contribution-{tag}", kind="contribution", actor=None,
                     entries=[(unallocated_account(), total), (contributions_account(None), -total)])
    post_transaction(key=f"bulk-pool-{tag}", kind="pool", actor=None,
                     entries=[(pool_account(challenge.id), total), (unallocated_account(), -total)])
    grant = awards.award_proposal(proposal=proposal, actor=requester, amount_cents=total, tranches=[
        {"title": f"Tranche {i}", "amount_cents": amount_cents} for i in range(1, n + 1)])
    awards.accept_grant(grant=grant, actor=grantee)
    payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id=stripe_account)
    db.session.execute(sa.update(Tranche).where(Tranche.grant_id == grant.id).values(status=TrancheStatus.ACCEPTED))
    return grant


def request_and_approve(grants: list[Grant], requester: User, approver: User, *, batch: int = 100,
                        enqueue: bool = True) -> list[int]:
    """Request and approve a disbursement for every tranche of `grants` (the real services); returns their ids.

    With `enqueue=False` the jobs are not sent (the caller enqueues them, e.g. to time the workers alone).
    """
    from facility.core import hooks

    tranche_ids = db.session.execute(
        sa.select(Tranche.id).where(Tranche.grant_id.in_([grant.id for grant in grants]))
        .order_by(Tranche.grant_id, Tranche.position)).scalars().all()
    ids: list[int] = []
    for start in range(0, len(tranche_ids), batch):
        for tranche_id in tranche_ids[start:start + batch]:
            tranche = db.session.get(Tranche, tranche_id)
            disbursement = requests.request_disbursement(tranche=tranche, actor=requester)
            requests.approve_disbursement(disbursement=disbursement, actor=approver)
            ids.append(disbursement.id)
        if not enqueue:
            db.session.info.pop(hooks._KEY, None)
        db.session.commit()
    return ids


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
