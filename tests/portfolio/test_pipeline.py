"""The pipeline's counts and money: every amount agrees with the ledger (`facility_totals()`), filtered or not."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from facility.challenges.models import ChallengeStatus
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants.models import GrantStatus
from facility.ledger.balances import facility_totals
from facility.portfolio import pipeline
from facility.portfolio.filters import PortfolioFilter
from facility.proposals.models import ProposalStatus
from facility.review.models import Assignment, Decision, DecisionKind, Review, ReviewRound, ReviewStatus, RoundKind
from tests import factories
from tests.portfolio import staff_scene
from tests.portfolio.staff_scene import FIRST, SECOND

NONE = PortfolioFilter()


def test_unfiltered_money_is_the_ledgers(app, clock):
    staff_scene.build(2)
    totals = facility_totals()
    money = pipeline.money_by_step(NONE)
    assert money.steps() == [(step, totals[step]) for step in pipeline.MONEY_STEPS]
    assert money.disbursed == 2 * FIRST and money.committed == 2 * SECOND and not money.scoped


def test_filtered_money_sums_the_matching_accounts(app, clock):
    scene = staff_scene.build(3)  # Uganda, Kenya, Uganda
    totals = facility_totals()
    everywhere = pipeline.money_by_step(PortfolioFilter(region="Africa"))
    # Every city is in Africa: the filtered sums are the facility's own.
    assert (everywhere.allocated, everywhere.committed, everywhere.disbursed) == (
        totals["allocated"], totals["committed"], totals["disbursed"])
    assert everywhere.scoped and everywhere.raised == totals["raised"]
    uganda = pipeline.money_by_step(PortfolioFilter(country="UGA"))
    kenya = pipeline.money_by_step(PortfolioFilter(country_group="LDC"))  # Uganda is an LDC, Kenya is not
    assert (uganda.committed, uganda.disbursed) == (2 * SECOND, 2 * FIRST)
    assert kenya == uganda
    kenyan = pipeline.money_by_step(PortfolioFilter(country="KEN"))
    assert (kenyan.allocated, kenyan.committed, kenyan.disbursed) == (10_000_000 - FIRST - SECOND, SECOND, FIRST)
    assert uganda.allocated + kenyan.allocated == totals["allocated"]
    nowhere = pipeline.money_by_step(PortfolioFilter(region="Europe"))
    assert (nowhere.allocated, nowhere.committed, nowhere.disbursed) == (0, 0, 0)
    assert len(scene.grants) == 3


def test_counts_by_status_and_filter(app, clock):
    scene = staff_scene.build(2)
    factories.challenges.make_challenge(scene.challenges[0].city, via="models", state="draft", title="Later")
    challenges = pipeline.challenges_by_status(NONE)
    assert challenges[ChallengeStatus.PUBLISHED] == 2 and challenges[ChallengeStatus.DRAFT] == 1
    assert pipeline.challenges_by_status(PortfolioFilter(country="KEN"))[ChallengeStatus.DRAFT] == 0
    grants = pipeline.grants_by_status(NONE)
    assert grants[GrantStatus.ACTIVE] == (2, 2 * (FIRST + SECOND)) and grants[GrantStatus.OFFERED] == (0, 0)
    assert pipeline.grants_by_status(PortfolioFilter(size_class="large"))[GrantStatus.ACTIVE] == (1, FIRST + SECOND)


def test_funnel_counts_each_step(app, clock):
    scene = staff_scene.build(1)
    challenge = scene.challenges[0]
    draft = factories.proposals.make_proposal(challenge, via="models", title="Draft", status=ProposalStatus.DRAFT)
    shortlisted = factories.proposals.make_proposal(challenge, via="models", title="Short",
                                                    status=ProposalStatus.SHORTLISTED)
    declined = factories.proposals.make_proposal(challenge, via="models", title="Once shortlisted",
                                                 status=ProposalStatus.DECLINED)
    db.session.add(Decision(challenge_id=challenge.id, proposal_id=declined.id, kind=DecisionKind.SHORTLIST,
                            released_at=challenge.closes_at))
    db.session.commit()
    funnel = pipeline.proposal_funnel(NONE)
    # The awarded one, the shortlisted one and the declined one compete; the draft does not.
    assert funnel == {"submitted": 3, "eligible": 0, "reviewed": 0, "shortlisted": 2, "awarded": 1}
    assert draft.status is ProposalStatus.DRAFT and shortlisted.status is ProposalStatus.SHORTLISTED
    assert pipeline.proposal_funnel(PortfolioFilter(country="FRA"))["submitted"] == 0


def _review(round_, proposal, reviewer, *, status=ReviewStatus.SUBMITTED, eligible=None):
    assignment = Assignment(round=round_, proposal=proposal, reviewer=reviewer)
    db.session.add(Review(assignment=assignment, status=status, eligible=eligible))


def test_funnel_counts_submitted_reviews_only(app, clock, world):
    now = utcnow()
    rounds = {kind: ReviewRound(challenge_id=world.challenge.id, kind=kind, opens_at=now - timedelta(days=2),
                                closes_at=now + timedelta(days=2)) for kind in (RoundKind.ELIGIBILITY, RoundKind.SCORING)}
    other = factories.proposals.make_proposal(world.challenge, via="models", title="Other")
    _review(rounds[RoundKind.ELIGIBILITY], world.proposal, world.reviewer, eligible=True)
    _review(rounds[RoundKind.SCORING], world.proposal, world.reviewer)
    _review(rounds[RoundKind.ELIGIBILITY], other, world.reviewer, eligible=False)
    _review(rounds[RoundKind.SCORING], other, world.reviewer, status=ReviewStatus.DRAFT)
    db.session.commit()
    funnel = pipeline.proposal_funnel(NONE)
    assert funnel == {"submitted": 2, "eligible": 1, "reviewed": 1, "shortlisted": 0, "awarded": 0}


def test_money_query_count_does_not_grow(app, clock, count_queries):
    scene = staff_scene.build(1)
    flt = PortfolioFilter(region="Africa")
    with count_queries() as few:
        pipeline.money_by_step(flt), pipeline.proposal_funnel(flt), pipeline.grants_by_status(flt)
    staff_scene.build(3, scene=scene)
    with count_queries() as many:
        pipeline.money_by_step(flt), pipeline.proposal_funnel(flt), pipeline.grants_by_status(flt)
    assert few() == many() <= 5  # totals, filtered money, funnel, grants (and the BEGIN)
    # The only decisions are the released award recommendations the grants follow (tests.factories.grants).
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision).where(
        Decision.kind != DecisionKind.AWARD_RECOMMENDATION)) == 0
