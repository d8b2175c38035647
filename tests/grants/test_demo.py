"""seed-demo: contributions, funded pools and grants in several states, on top of whatever exists."""
import sqlalchemy as sa

from facility.accounts.models import User
from facility.demo import seed
from facility.disbursements.policy import can_request
from facility.extensions import db
from facility.grants.indicator_models import ReadingStatus, TrancheIndicator
from facility.grants.models import Contribution, ContributionStatus, Grant, GrantStatus, PayoutAccount, TrancheStatus
from facility.grants.policy import award_approval_state
from facility.grants.queries import grant_amendments
from facility.ledger.balances import facility_totals
from facility.ledger.verify import verify_ledger
from facility.portfolio import demo as portfolio_demo


def test_seed_without_challenges_makes_contributions(app):
    seed(echo=lambda _: None)
    statuses = sorted(c.status.value for c in db.session.execute(sa.select(Contribution)).scalars())
    # The grants seeder's three; the results seeder adds wires received over past quarters.
    assert statuses[:3] == ["pledged", "received", "received"] and set(statuses[3:]) <= {"received"}
    assert facility_totals()["raised"] >= 2_500_025_000
    assert verify_ledger() == []


def test_seed_awards_closed_challenge_proposals(app, make_challenge, make_proposal, make_user, stripe_on):
    challenge = make_challenge()
    first = make_proposal(challenge)
    second = make_proposal(challenge)
    make_user("innovator", organization=first.organization)
    make_user("innovator", organization=second.organization)
    seed(echo=lambda _: None)
    grants = db.session.execute(sa.select(Grant).order_by(Grant.id)).scalars().all()
    staged = [g for g in grants if g.challenge.stage_name]  # the staged prize's pilot grants (demo_stages), aside
    grants = [g for g in grants if g not in staged]
    # The results seeder (facility/portfolio/demo.py) adds one grant of its own, last.
    extra = grants.pop()
    assert extra.organization.name == portfolio_demo.SME["name"]
    # Last of the grants seeder's: an award above the approval threshold, one approval in and one missing.
    pending = grants.pop()
    assert pending.status == GrantStatus.PENDING_APPROVAL and pending.amount_cents > 5_000_000
    state = award_approval_state(pending)
    assert (len(state.counted), state.missing) == (1, 1)
    assert pending.award_override_reason  # the demo's panels have released no decision on it
    assert [g.status for g in grants] == [GrantStatus.ACTIVE, GrantStatus.OFFERED]
    assert [g.award_override_reason for g in grants] == [None, None]  # the panel recommended both
    assert extra.award_override_reason and extra.status == GrantStatus.ACTIVE  # approved by two others
    assert [t.status for t in grants[0].tranches] == [TrancheStatus.ACCEPTED, TrancheStatus.EVIDENCE_SUBMITTED] + [
        TrancheStatus.PENDING] * 6
    rails = sorted(a.rail.value for a in db.session.execute(sa.select(PayoutAccount)).scalars())
    assert rails == ["manual", "stripe"]
    assert db.session.execute(sa.select(Contribution.status).where(
        Contribution.method == "stripe")).scalar_one() == ContributionStatus.RECEIVED
    # The offered grant was amended (USD 5,000 less, in force) and has a second amendment awaiting approval.
    assert [(a.number, a.status.value, a.change_cents) for a in grant_amendments(grants[1].id)] == [
        (2, "pending", 1_500_000), (1, "accepted", -500_000)]
    assert facility_totals()["committed"] == (6_000_000 - 500_000 + pending.amount_cents + extra.amount_cents
                                              + sum(g.amount_cents for g in staged))
    assert verify_ledger() == []


def test_the_demo_shows_a_tranche_paid_on_a_verified_indicator(app):
    seed(echo=lambda _: None)
    measured = db.session.execute(sa.select(TrancheIndicator).order_by(TrancheIndicator.id)).scalars().all()
    assert [(i.tranche.position, i.is_condition) for i in measured] == [(1, False), (2, True)]
    first, second = measured
    assert first.latest_verified is not None and first.reached
    assert second.latest_verified is None and second.pending_reading.status is ReadingStatus.SUBMITTED
    assert second.tranche.status is TrancheStatus.ACCEPTED
    manager = db.session.execute(sa.select(User).where(User.email == "fund.manager@demo.facility")).scalar_one()
    refusal = can_request(manager, second.tranche)
    assert refusal is not None and "no value of it is verified" in refusal.reason
