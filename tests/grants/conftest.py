"""Factories for the grants tests: a city, a challenge, a proposal with milestones, a funded pool."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind, OrgType
from facility.challenges.models import Challenge, ChallengeStatus, FocusArea
from facility.cities.models import City, ClimateRisk
from facility.core.models import utcnow
from facility.extensions import db
from facility.ledger.services import pool_account, post_transaction, unallocated_account
from facility.proposals.models import Milestone, Proposal, ProposalStatus


@pytest.fixture
def make_challenge(make_org):
    counter = {"n": 0}

    def _make(*, country="UGA", status=ChallengeStatus.PUBLISHED, closed=True, max_award_cents=5_000_000,
              prize_pool_cents=10_000_000):
        counter["n"] += 1
        org = make_org(name=f"City {counter['n']}", kind=OrgKind.CITY, country=country)
        city = City(organization_id=org.id, name=f"City {counter['n']}", country=country, population=400_000,
                    informal_settlement_share_pct=30, climate_risk=ClimateRisk.HIGH, verified_at=utcnow())
        db.session.add(city)
        now = utcnow()
        opens, closes = (now - timedelta(days=60), now - timedelta(days=1)) if closed else \
            (now - timedelta(days=1), now + timedelta(days=30))
        challenge = Challenge(city=city, title=f"Challenge {counter['n']}", summary="Clean water", description="...",
                              focus_area=FocusArea.INCLUSIVE_INNOVATION, sdg_targets=["11.1"],
                              prize_pool_cents=prize_pool_cents, max_award_cents=max_award_cents,
                              opens_at=opens, closes_at=closes, status=status)
        db.session.add(challenge)
        db.session.commit()
        return challenge

    return _make


@pytest.fixture
def make_proposal(make_org):
    counter = {"n": 0}

    def _make(challenge, *, org=None, amounts=(1_000_000, 2_000_000), status=ProposalStatus.SUBMITTED):
        counter["n"] += 1
        org = org or make_org(name=f"Innovator {counter['n']}", kind=OrgKind.INNOVATOR, org_type=OrgType.STARTUP)
        proposal = Proposal(challenge_id=challenge.id, organization_id=org.id, title=f"Proposal {counter['n']}",
                            summary="s", approach="a", requested_cents=sum(amounts), status=status,
                            submitted_at=utcnow())
        for position, amount in enumerate(amounts, start=1):
            proposal.milestones.append(Milestone(position=position, title=f"Milestone {position}",
                                                 due_date=date(2027, position, 1), amount_cents=amount,
                                                 deliverable=f"Deliverable {position}"))
        db.session.add(proposal)
        db.session.commit()
        return proposal

    return _make


@pytest.fixture
def fund(app):
    """Put money in the facility (as if contributed) and in a challenge's pool."""
    from facility.ledger.services import contributions_account

    counter = {"n": 0}

    def _fund(*, unallocated: int = 0, challenge=None, pool: int = 0):
        counter["n"] += 1
        total = unallocated + pool
        if total:
            post_transaction(key=f"test-contribution-{counter['n']}",
                             entries=[(unallocated_account(), total), (contributions_account(None), -total)],
                             actor=None, kind="contribution")
        if pool:
            post_transaction(key=f"test-pool-{counter['n']}",
                             entries=[(pool_account(challenge.id), pool), (unallocated_account(), -pool)],
                             actor=None, kind="pool")
        db.session.commit()

    return _fund


@pytest.fixture
def count_queries(app):
    """Count the SQL statements run inside the block: `with count_queries() as n: ...; n()`."""
    from contextlib import contextmanager

    @contextmanager
    def _count():
        statements = []

        def listener(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            yield lambda: len(statements)
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)

    return _count
