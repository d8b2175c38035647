"""Disbursements at scale: active grants with many accepted tranches (an award has at most
`awards.MAX_TRANCHES`, so a large number takes several grants), and the real request and approval
services run for each (the fault tests and `benchmarks/disbursements.py` use these through
tests/disbursements/scenario.py)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.accounts.policy import MFA_ROLES
from facility.accounts.services import hash_password
from facility.challenges.models import Challenge, ChallengeStatus, FocusArea
from facility.cities.models import City, ClimateRisk
from facility.core.models import utcnow
from facility.disbursements import requests
from facility.extensions import db
from facility.grants import awards, payouts
from facility.grants.models import Grant, Tranche, TrancheStatus
from facility.ledger.services import contributions_account, pool_account, post_transaction, unallocated_account
from facility.proposals.models import Proposal, ProposalStatus
from tests.factories import PASSWORD
from tests.factories.accounts import enrol
from tests.factories.grants import award, stripe_given


def _user(email: str, role: str, organization: Organization | None = None) -> User:
    user = User(email=email, name=email.split("@")[0], password_hash=hash_password(PASSWORD), organization=organization)
    user.add_role(role)
    if role in {r.value for r in MFA_ROLES}:
        enrol(user)  # staff have two-step sign-in on, as make_user gives them
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
    grant = award(proposal, requester, amount_cents=total, tranches=[
        {"title": f"Tranche {i}", "amount_cents": amount_cents} for i in range(1, n + 1)])
    awards.accept_grant(grant=grant, actor=grantee)
    with stripe_given():
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
