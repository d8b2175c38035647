"""Demo money for `seed-demo`: contributions, funded pools, grants with tranches in several states.

Works with whatever earlier seeders made: without challenges or proposals it
seeds only contributions.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from facility.accounts.models import Role, User
from facility.challenges.models import Challenge, ChallengeStatus, Phase
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import awards, contributions, demo_funds, milestones, payouts, summaries
from facility.grants.budget import scale_budget
from facility.grants.models import Grant, GrantStatus, Tranche
from facility.grants.policy import AWARDABLE_STATUSES
from facility.ledger.services import (
    GENERAL_FUND,
    UNALLOCATED,
    balance,
    pool_account,
    pool_code,
    transfer,
    unallocated_account,
)
from facility.proposals.models import BudgetCategory, Proposal, budget_key

DEMO_TRANCHES = 8


def _user(state: dict, email: str, role: Role) -> User | None:
    user = (state.get("users") or {}).get(email)
    if user is None:
        user = db.session.execute(
            sa.select(User).where(User.role_rows.any(role=role))
            .order_by(User.id).limit(1)).scalar_one_or_none()
    return user


def seed_early(state: dict) -> None:
    """Money in first, so that the challenges seeder can fund prize pools when it approves challenges."""
    donor = _user(state, "donor@foundation.demo", Role.DONOR)
    manager = _user(state, "fund.manager@demo.facility", Role.FUND_MANAGER)
    if donor is None or manager is None:
        return
    db.session.flush()
    today = utcnow().date()
    # Contributions: a large wire received, a wire still pledged, a card payment received.
    big = contributions.pledge_contribution(actor=donor, amount_cents=2_500_000_000, method="wire")
    contributions.confirm_wire_contribution(contribution=big, actor=manager, received_cents=2_500_000_000,
                                            received_on=today - timedelta(days=40), bank_reference="DEMO-FT-0001")
    contributions.pledge_contribution(actor=donor, amount_cents=500_000_000, method="wire")
    # The card gift was made anonymously: the public ledger names an "anonymous donor" for it.
    card = contributions.pledge_contribution(actor=donor, amount_cents=25_000, method="stripe", anonymous=True)
    contributions.record_card_contribution(checkout_session_id="cs_demo_0001", contribution_id=card.id,
                                           amount_cents=25_000)
    demo_funds.seed_earmarked_fund(donor, manager)  # drawn first by the first public-interest-tech approval


def _fund_pools(manager: User) -> list[Challenge]:
    """Fund the pools of public challenges the earlier seeders made (unless already funded on approval)."""
    challenges = db.session.execute(
        sa.select(Challenge).where(Challenge.status.in_((ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED)))
        .order_by(Challenge.id)).scalars().all()
    for challenge in challenges:
        if balance(pool_code(challenge.id)) == 0 and balance(unallocated_account().code) >= challenge.prize_pool_cents:
            transfer(key=f"demo-pool:{challenge.id}", actor=manager, kind="pool", source=UNALLOCATED,
                     target=pool_account(challenge.id), amount_cents=challenge.prize_pool_cents, funds=[GENERAL_FUND],
                     description=f"Prize pool of challenge {challenge.id} (demo)")
    return list(challenges)


def _demo_tranches(index: int, proposal: Proposal, amount: int, today: date) -> list[dict] | None:
    if index == 0:
        # Eight tranches, so the disbursements demo can show a payment in every state.
        part = amount // DEMO_TRANCHES
        return [{"title": f"Milestone {n}", "amount_cents": part if n < DEMO_TRANCHES else amount - part * (n - 1),
                 "due_date": today + timedelta(days=30 * n)} for n in range(1, DEMO_TRANCHES + 1)]
    if amount != proposal.requested_cents or sum(m.amount_cents for m in proposal.milestones) != amount:
        first = amount // 2
        return [{"title": "Pilot delivered", "amount_cents": first, "due_date": today + timedelta(days=90)},
                {"title": "Results and handover", "amount_cents": amount - first,
                 "due_date": today + timedelta(days=240)}]
    return None


def planned_spending(tranche: Tranche, *, overspend: dict[BudgetCategory, int] | None = None) -> dict[str, int]:
    """A milestone report's spending as budgeted for the tranche's share of the request, each category
    multiplied by `overspend[category]` (e.g. 3: three times the plan; 0: nothing spent)."""
    proposal = tranche.grant.proposal
    planned = scale_budget(proposal.budget, proposal.requested_cents, tranche.amount_cents)
    factors = overspend or {}
    return {budget_key(category): amount * factors.get(category, 1) for category, amount in planned.items()}


def _grantee_acts(index: int, grant: Grant, proposal: Proposal, grantee: User, manager: User) -> None:
    """The first grant is accepted, paid by bank, with one milestone accepted and one under review."""
    if index != 0:
        payouts.set_payout_account(grant=grant, actor=grantee, rail="stripe", stripe_account_id="acct_1DemoGrantee01")
        return
    awards.accept_grant(grant=grant, actor=grantee)
    payouts.set_payout_account(grant=grant, actor=grantee, rail="manual", account_holder=proposal.organization.name,
                               bank_name="Demo Commercial Bank", account_number="0012345678", swift="DEMOKENA")
    report = milestones.submit_milestone_report(
        tranche=grant.tranches[0], actor=grantee, text="Pilot running in three neighbourhoods.",
        # Staff costs ran well over plan and no equipment was bought yet: the grant page flags both.
        spending=planned_spending(grant.tranches[0], overspend={BudgetCategory.PERSONNEL: 4,
                                                                BudgetCategory.EQUIPMENT: 0}),
        kpi_values={"households reached": 420, "women trained": 65})
    milestones.accept_milestone_report(report=report, actor=manager)
    summaries.write_public_summary(report=report, actor=grantee, text=(
        "The pilot runs in three neighbourhoods: 420 households reached and 65 women trained as operators."))
    if len(grant.tranches) > 1:
        milestones.submit_milestone_report(tranche=grant.tranches[1], actor=grantee,
                                           text="Mid-term results attached in the text below.",
                                           spending=planned_spending(grant.tranches[1]),
                                           kpi_values={"households reached": 900})


def seed(state: dict) -> None:
    manager = _user(state, "fund.manager@demo.facility", Role.FUND_MANAGER)
    if manager is None:
        return
    today = utcnow().date()
    demo_funds.seed_cofunding(state, manager)
    challenges = _fund_pools(manager)
    # Awards: up to two proposals awaiting a decision in closed challenges.
    closed_ids = [c.id for c in challenges if c.status == ChallengeStatus.FINISHED or c.phase == Phase.CLOSED]
    proposals = db.session.execute(
        sa.select(Proposal).where(Proposal.challenge_id.in_(closed_ids or [-1]),
                                  Proposal.status.in_(AWARDABLE_STATUSES))
        .order_by(Proposal.id).limit(2)).scalars().all()
    for index, proposal in enumerate(proposals):
        amount = min(proposal.requested_cents, proposal.challenge.max_award_cents, balance(pool_code(proposal.challenge_id)))
        if amount <= 0:
            continue
        grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=amount,
                                      tranches=_demo_tranches(index, proposal, amount, today))
        grantee = db.session.execute(
            sa.select(User).where(User.organization_id == proposal.organization_id).order_by(User.id)
        ).scalars().first()
        if grantee is None or not grantee.has_role(Role.INNOVATOR):
            continue
        _grantee_acts(index, grant, proposal, grantee, manager)
        state.setdefault("demo_grants", []).append(grant)
    db.session.flush()
    _overdue_milestone(state.get("demo_grants", []), today)
    state["grants_seeded"] = len(proposals)


def _overdue_milestone(grants: list[Grant], today: date) -> None:
    """The portfolio's overdue list needs a late milestone: the offered grant's first tranche fell due
    twelve days ago. Awards (rightly) refuse due dates in the past, so the demo moves it back afterwards,
    as the challenges seeder does with its deadlines."""
    offered = next((g for g in grants if g.status == GrantStatus.OFFERED and g.tranches), None)
    if offered is not None:
        offered.tranches[0].due_date = today - timedelta(days=12)
